package dev.qsparse.nativekernels;

import dev.qsparse.runtime.kernel.ActivationBatch;
import dev.qsparse.runtime.kernel.BatchBackend;
import dev.qsparse.runtime.kernel.OutputBlock;
import dev.qsparse.runtime.kernel.WeightSlice;

/**
 * The native products at one level (AVX-512 VNNI, AVX-VNNI or AVX2): integer micro-batches of the
 * int8 and ternary formats, int8 weights with float activations, and float32 products. Opened by
 * {@link NativeBatchBackendProvider} at a level this CPU runs.
 */
public final class NativeBatchBackend implements BatchBackend {

    private final int level;
    private final String name;

    /** The backend at {@code level}, one of {@link NativeKernels#LEVELS} that this CPU runs. */
    NativeBatchBackend(String level) {
        NativeKernels.load();
        int i = NativeKernels.LEVELS.indexOf(level);
        if (i < 0 || !NativeKernels.runs(i)) {
            throw new UnsupportedOperationException(
                    "this CPU does not run the native level '" + level + "'; it runs " + NativeKernels.runnable());
        }
        this.level = i;
        this.name = "native-" + level;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public long scratchBytes(int cols, int count, int xStride) {
        return NativeKernels.scratchBytes(cols, count, xStride);
    }

    @Override
    public void integer(WeightSlice weights, ActivationBatch x, OutputBlock out) {
        NativeKernels.integer(level, weights, x, out);
    }

    @Override
    public boolean hasSparse() {
        return true;
    }

    @Override
    public void integerSparse(WeightSlice weights, ActivationBatch x, OutputBlock out) {
        NativeKernels.integerSparse(level, weights, x, out);
    }

    @Override
    public void int8Float(WeightSlice weights, ActivationBatch x, OutputBlock out) {
        NativeKernels.int8Float(level, weights, x, out);
    }

    @Override
    public boolean hasF32() {
        return true;
    }

    @Override
    public void f32(WeightSlice weights, ActivationBatch x, OutputBlock out) {
        NativeKernels.f32(level, weights, x, out);
    }
}

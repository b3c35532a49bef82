package dev.qsparse.nativekernels;

import dev.qsparse.runtime.kernel.BatchBackend;
import java.nio.ByteBuffer;

/**
 * AVX-512 VNNI products for int8 and ternary micro-batches, and AVX-512 float32 products, registered as the
 * {@link BatchBackend} service. The constructor fails (and the runtime keeps its Vector API
 * kernels) where the library cannot load or the CPU lacks VNNI.
 */
public final class NativeBatchBackend implements BatchBackend {

    public NativeBatchBackend() {
        NativeKernels.load();
    }

    @Override
    public String name() {
        return "native-avx512-vnni";
    }

    @Override
    public long scratchBytes(int cols, int count, int xStride) {
        return NativeKernels.scratchBytes(cols, count, xStride);
    }

    @Override
    public void int8(
            ByteBuffer mapped,
            byte[] heap,
            int stride,
            int cols,
            ByteBuffer rowScales,
            int o0,
            int len,
            ByteBuffer x,
            int count,
            int xStride,
            ByteBuffer tokenScales,
            ByteBuffer out,
            int outStride,
            ByteBuffer scratch) {
        NativeKernels.columns(
                NativeKernels.FORMAT_INT8,
                mapped,
                heap,
                stride,
                cols,
                rowScales,
                o0,
                len,
                x,
                count,
                xStride,
                tokenScales,
                null,
                out,
                outStride,
                scratch);
    }

    @Override
    public void ternary(
            ByteBuffer mapped,
            byte[] heap,
            int stride,
            int cols,
            int o0,
            int len,
            ByteBuffer x,
            int count,
            int xStride,
            ByteBuffer tokenScales,
            ByteBuffer tokenSums,
            ByteBuffer out,
            int outStride,
            ByteBuffer scratch) {
        NativeKernels.columns(
                NativeKernels.FORMAT_TERNARY,
                mapped,
                heap,
                stride,
                cols,
                null,
                o0,
                len,
                x,
                count,
                xStride,
                tokenScales,
                tokenSums,
                out,
                outStride,
                scratch);
    }

    @Override
    public void int8Float(
            ByteBuffer mapped,
            byte[] heap,
            int stride,
            int cols,
            ByteBuffer rowScales,
            int o0,
            int len,
            ByteBuffer x,
            ByteBuffer index,
            ByteBuffer counts,
            int count,
            int xStride,
            ByteBuffer tokenScales,
            ByteBuffer out,
            int outStride) {
        NativeKernels.int8FloatColumns(
                mapped,
                heap,
                stride,
                cols,
                rowScales,
                o0,
                len,
                x,
                index,
                counts,
                count,
                xStride,
                tokenScales,
                out,
                outStride);
    }

    @Override
    public boolean hasF32() {
        return true;
    }

    @Override
    public void f32(
            ByteBuffer weights,
            int rows,
            int cols,
            int r0,
            int n,
            ByteBuffer x,
            int count,
            int xStride,
            ByteBuffer out,
            int outStride) {
        NativeKernels.f32Rows(weights, rows, cols, r0, n, x, count, xStride, out, outStride);
    }
}

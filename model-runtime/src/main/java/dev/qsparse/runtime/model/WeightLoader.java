package dev.qsparse.runtime.model;

import dev.qsparse.runtime.kernel.FloatMatrix;
import dev.qsparse.runtime.kernel.FloatView;
import dev.qsparse.runtime.kernel.Int8Matrix;
import dev.qsparse.runtime.kernel.TernaryMatrix;
import dev.qsparse.runtime.kernel.WeightMatrix;
import dev.qsparse.runtime.safetensors.Checkpoint;
import dev.qsparse.runtime.safetensors.DType;
import dev.qsparse.runtime.safetensors.ModelLoadException;
import dev.qsparse.runtime.safetensors.TensorInfo;
import java.util.Arrays;

/** Turns checkpoint tensors into kernel-ready weights, checking each shape and dtype by name. */
final class WeightLoader {

    private final Checkpoint checkpoint;

    WeightLoader(Checkpoint checkpoint) {
        this.checkpoint = checkpoint;
    }

    boolean has(String name) {
        return checkpoint.contains(name);
    }

    WeightMatrix matrix(String name, int rows, int cols, WeightQuant quant) throws ModelLoadException {
        FloatView view = floatView(name, rows, cols);
        return switch (quant) {
            case NONE -> new FloatMatrix(view, rows, cols);
            case TERNARY -> TernaryMatrix.quantize(view, rows, cols);
            case INT8 -> Int8Matrix.quantize(view, rows, cols);
        };
    }

    FloatMatrix floatMatrix(String name, int rows, int cols) throws ModelLoadException {
        return new FloatMatrix(floatView(name, rows, cols), rows, cols);
    }

    float[] vector(String name, int n) throws ModelLoadException {
        return floatView(name, n).toArray();
    }

    /** The vector, or null when the checkpoint does not have the tensor. */
    float[] optionalVector(String name, int n) throws ModelLoadException {
        return has(name) ? vector(name, n) : null;
    }

    private FloatView floatView(String name, int... expectedShape) throws ModelLoadException {
        TensorInfo info = checkpoint.info(name);
        long[] expected = Arrays.stream(expectedShape).asLongStream().toArray();
        if (!Arrays.equals(info.shape(), expected)) {
            throw ModelLoadException.forTensor(checkpoint.fileOf(name), name, "shape "
                    + Arrays.toString(info.shape()) + ", expected " + Arrays.toString(expected));
        }
        DType dtype = info.dtype();
        if (dtype != DType.F32 && dtype != DType.F16 && dtype != DType.BF16) {
            throw ModelLoadException.forTensor(checkpoint.fileOf(name), name, "dtype " + dtype
                    + " is not a float type (F32, F16, BF16)");
        }
        return FloatView.of(checkpoint.buffer(name), dtype);
    }
}

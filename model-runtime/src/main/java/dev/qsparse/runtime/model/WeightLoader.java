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

/**
 * Turns checkpoint tensors into kernel-ready weights, checking each shape and dtype by name.
 *
 * <p>A projection {@code P.weight} may be stored runtime-ready (written by {@code qsparse convert}):
 * {@code P.qweight} (I8 [in, out rounded up to 64], input-channel-major) with {@code P.qscale}
 * (F32 [out]), or {@code P.tweight} (U8 [in, out rounded up to 64 / 4], 2-bit codes) with
 * {@code P.tscale} (F32 [1]). Those are memory-mapped as they are; only float weights are quantized
 * at load, into the same layout.
 */
final class WeightLoader {

    static final String INT8_WEIGHT = ".qweight";
    static final String INT8_SCALE = ".qscale";
    static final String TERNARY_WEIGHT = ".tweight";
    static final String TERNARY_SCALE = ".tscale";

    private final Checkpoint checkpoint;
    private final QuantRules rules;
    private final boolean onHeap;

    WeightLoader(Checkpoint checkpoint) {
        this(checkpoint, QuantRules.QSPARSE);
    }

    WeightLoader(Checkpoint checkpoint, QuantRules rules) {
        this.checkpoint = checkpoint;
        this.rules = rules;
        this.onHeap = onHeap(System.getProperty(RESIDENCY_PROPERTY));
    }

    boolean has(String name) {
        return checkpoint.contains(name);
    }

    /** {@code P} of a tensor name {@code P.weight}. */
    static String prefix(String weightName) {
        return weightName.endsWith(".weight")
                ? weightName.substring(0, weightName.length() - ".weight".length())
                : weightName;
    }

    WeightMatrix matrix(String name, int rows, int cols, WeightQuant quant) throws ModelLoadException {
        String p = prefix(name);
        if (has(p + INT8_WEIGHT)) {
            requireQuant(p + INT8_WEIGHT, quant, WeightQuant.INT8);
            return int8(p, rows, cols);
        }
        if (has(p + TERNARY_WEIGHT)) {
            requireQuant(p + TERNARY_WEIGHT, quant, WeightQuant.TERNARY);
            return ternary(p, rows, cols);
        }
        if (rules.isBitNet() && quant == WeightQuant.TERNARY) {
            return BitNetWeights.load(checkpoint, name, rows, cols, rules);
        }
        FloatView view = floatView(name, rows, cols);
        return switch (quant) {
            case NONE -> new FloatMatrix(view, rows, cols);
            case TERNARY -> TernaryMatrix.quantize(view, rows, cols);
            case INT8 -> Int8Matrix.quantize(view, rows, cols);
        };
    }

    /**
     * The lm head: runtime-ready int8 {@code lm_head.qweight} when stored, else the float
     * {@code floatName} (lm_head.weight, or the embedding when tied), quantized to int8 at load
     * when {@code quant} is INT8.
     */
    WeightMatrix lmHead(String floatName, int rows, int cols, WeightQuant quant) throws ModelLoadException {
        if (has("lm_head" + INT8_WEIGHT)) {
            requireQuant("lm_head" + INT8_WEIGHT, quant, WeightQuant.INT8);
            return int8("lm_head", rows, cols);
        }
        FloatView view = floatView(floatName, rows, cols);
        return quant == WeightQuant.INT8 ? Int8Matrix.quantize(view, rows, cols) : new FloatMatrix(view, rows, cols);
    }

    private void requireQuant(String tensor, WeightQuant configured, WeightQuant stored) throws ModelLoadException {
        if (configured != stored) {
            throw ModelLoadException.forTensor(
                    checkpoint.fileOf(tensor),
                    tensor,
                    "stored as "
                            + stored.name().toLowerCase(java.util.Locale.ROOT) + " but config.json says "
                            + configured.name().toLowerCase(java.util.Locale.ROOT));
        }
    }

    /**
     * System property choosing where runtime-ready int8/ternary weights live: {@code mapped} (default:
     * the page cache, shared by every task on the machine; the kernels copy the kept columns into a
     * small panel) or {@code heap} (copied onto this JVM's heap at load: no panel copies, no sharing).
     */
    static final String RESIDENCY_PROPERTY = "qsparse.weights";

    /** The residency a {@link #RESIDENCY_PROPERTY} value names (null: the default); any other value is refused by name. */
    static boolean onHeap(String value) {
        String v = value == null ? "mapped" : value.trim().toLowerCase(java.util.Locale.ROOT);
        return switch (v) {
            case "mapped" -> false;
            case "heap" -> true;
            default ->
                throw new IllegalArgumentException(RESIDENCY_PROPERTY + " must be mapped or heap; got '"
                        + (v.length() <= 40 ? v : v.substring(0, 40) + "...") + "'");
        };
    }

    private Int8Matrix int8(String p, int rows, int cols) throws ModelLoadException {
        String wName = p + INT8_WEIGHT;
        checkTensor(wName, DType.I8, cols, Int8Matrix.paddedRows(rows));
        float[] scales = vector(p + INT8_SCALE, rows);
        Int8Matrix m = Int8Matrix.of(checkpoint.buffer(wName), scales, rows, cols);
        return onHeap ? m.onHeap() : m;
    }

    private TernaryMatrix ternary(String p, int rows, int cols) throws ModelLoadException {
        String wName = p + TERNARY_WEIGHT;
        checkTensor(wName, DType.U8, cols, TernaryMatrix.strideFor(rows));
        float[] scale = vector(p + TERNARY_SCALE, 1);
        TernaryMatrix m = TernaryMatrix.of(checkpoint.buffer(wName), scale[0], rows, cols);
        return onHeap ? m.onHeap() : m;
    }

    private void checkTensor(String name, DType dtype, int... shape) throws ModelLoadException {
        TensorInfo info = checkpoint.info(name);
        long[] expected = Arrays.stream(shape).asLongStream().toArray();
        if (info.dtype() != dtype) {
            throw ModelLoadException.forTensor(
                    checkpoint.fileOf(name), name, "dtype " + info.dtype() + ", expected " + dtype);
        }
        if (!Arrays.equals(info.shape(), expected)) {
            throw ModelLoadException.forTensor(
                    checkpoint.fileOf(name),
                    name,
                    "shape " + Arrays.toString(info.shape()) + ", expected " + Arrays.toString(expected));
        }
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
            throw ModelLoadException.forTensor(
                    checkpoint.fileOf(name),
                    name,
                    "shape " + Arrays.toString(info.shape()) + ", expected " + Arrays.toString(expected));
        }
        DType dtype = info.dtype();
        if (dtype != DType.F32 && dtype != DType.F16 && dtype != DType.BF16) {
            throw ModelLoadException.forTensor(
                    checkpoint.fileOf(name), name, "dtype " + dtype + " is not a float type (F32, F16, BF16)");
        }
        return FloatView.of(checkpoint.buffer(name), dtype);
    }
}

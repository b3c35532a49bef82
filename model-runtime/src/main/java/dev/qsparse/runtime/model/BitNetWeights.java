package dev.qsparse.runtime.model;

import dev.qsparse.runtime.kernel.FloatView;
import dev.qsparse.runtime.kernel.TernaryMatrix;
import dev.qsparse.runtime.safetensors.Checkpoint;
import dev.qsparse.runtime.safetensors.DType;
import dev.qsparse.runtime.safetensors.ModelLoadException;
import dev.qsparse.runtime.safetensors.TensorInfo;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * A Hugging Face BitNet projection {@code P.weight} as a runtime {@link TernaryMatrix}:
 *
 * <ul>
 *   <li>packed (U8 {@code [out/4, in]}): output row {@code o = i * (out/4) + r} is bits {@code
 *       2i..2i+1} of byte {@code [r, c]}, codes 0, 1, 2 meaning -1, 0, +1, with a per-tensor
 *       {@code P.weight_scale} (F32, BF16 or F16, shape [1]) that the product is divided by
 *       (BitLinear) or multiplied by (AutoBitLinear), see {@link QuantRules};
 *   <li>float master weights (the {@code -bf16} checkpoints): quantized here with transformers'
 *       formula, {@code s = 1 / max(mean|W|, 1e-5)}, {@code Wq = clamp(round_half_even(W * s), -1,
 *       1)}, effective weight {@code Wq / s}.
 * </ul>
 * Every packed byte is checked: a code of 3 has no meaning and fails naming the file and tensor.
 */
final class BitNetWeights {

    static final String WEIGHT_SCALE_SUFFIX = ".weight_scale";
    static final float MEAN_FLOOR = 1e-5f;

    private BitNetWeights() {}

    /** Name of the scale tensor of {@code P.weight}. */
    static String scaleName(String weightName) {
        return WeightLoader.prefix(weightName) + WEIGHT_SCALE_SUFFIX;
    }

    /** True when the checkpoint stores {@code name} packed (U8). */
    static boolean isPacked(Checkpoint ckpt, String name) throws ModelLoadException {
        return ckpt.info(name).dtype() == DType.U8;
    }

    /** Loads {@code name} ([rows, cols] logically), packed or float, into the runtime layout. */
    static TernaryMatrix load(Checkpoint ckpt, String name, int rows, int cols, QuantRules rules)
            throws ModelLoadException {
        TensorInfo info = ckpt.info(name);
        Path file = ckpt.fileOf(name);
        if (info.dtype() == DType.U8) {
            return unpack(ckpt, name, rows, cols, rules);
        }
        if (info.dtype() != DType.F32 && info.dtype() != DType.BF16 && info.dtype() != DType.F16) {
            throw ModelLoadException.forTensor(
                    file, name, "dtype " + info.dtype() + ": a BitNet projection is U8 (packed) or float");
        }
        if (ckpt.contains(scaleName(name))) {
            throw ModelLoadException.forTensor(
                    file,
                    name,
                    "float weights with a " + scaleName(name) + " tensor (offline AutoBitLinear weights stored"
                            + " unpacked) are not supported: store them packed (U8), or the float master weights"
                            + " without weight_scale");
        }
        requireShape(file, name, info, rows, cols);
        return quantize(FloatView.of(ckpt.buffer(name), info.dtype()), rows, cols);
    }

    private static TernaryMatrix unpack(Checkpoint ckpt, String name, int rows, int cols, QuantRules rules)
            throws ModelLoadException {
        Path file = ckpt.fileOf(name);
        if (rows % 4 != 0) {
            throw ModelLoadException.forTensor(
                    file, name, "packed BitNet weights need an output size divisible by 4, the config gives " + rows);
        }
        int quarter = rows / 4;
        requireShape(file, name, ckpt.info(name), quarter, cols);
        float weightScale = weightScale(ckpt, name);
        ByteBuffer packed = ckpt.buffer(name);
        TernaryColumns out = new TernaryColumns(rows, cols);
        byte[] row = new byte[cols];
        for (int r = 0; r < quarter; r++) {
            packed.get(r * cols, row);
            for (int c = 0; c < cols; c++) {
                int b = row[c] & 0xFF;
                // A field holds 3 when both of its bits are set.
                int threes = b & (b >>> 1) & 0x55;
                if (threes != 0) {
                    int bit = Integer.numberOfTrailingZeros(threes);
                    throw ModelLoadException.forTensor(
                            file,
                            name,
                            "byte [" + r + ", " + c + "] = " + b + " holds code 3 in bits " + bit + ".." + (bit + 1)
                                    + " (only 0, 1, 2 = -1, 0, +1 are ternary codes)");
                }
            }
            for (int i = 0; i < 4; i++) {
                out.setRow(i * quarter + r, row, 2 * i);
            }
        }
        return out.toMatrix(rules.ternaryMultiplier(weightScale));
    }

    /** The positive finite {@code P.weight_scale} of a packed weight. */
    static float weightScale(Checkpoint ckpt, String weightName) throws ModelLoadException {
        String name = scaleName(weightName);
        if (!ckpt.contains(name)) {
            throw ModelLoadException.forTensor(
                    ckpt.fileOf(weightName),
                    weightName,
                    "packed BitNet weights need their scale tensor '" + name + "', which is missing");
        }
        TensorInfo info = ckpt.info(name);
        Path file = ckpt.fileOf(name);
        if (info.dtype() != DType.F32 && info.dtype() != DType.BF16 && info.dtype() != DType.F16) {
            throw ModelLoadException.forTensor(file, name, "dtype " + info.dtype() + ", expected F32, BF16 or F16");
        }
        if (!Arrays.equals(info.shape(), new long[] {1})) {
            throw ModelLoadException.forTensor(file, name, "shape " + Arrays.toString(info.shape()) + ", expected [1]");
        }
        float scale = FloatView.of(ckpt.buffer(name), info.dtype()).get(0);
        if (!(scale > 0) || Float.isInfinite(scale)) {
            throw ModelLoadException.forTensor(file, name, "value " + scale + " is not a positive finite number");
        }
        return scale;
    }

    /** transformers' WeightQuant in float32: s = 1 / max(mean|W|, 1e-5), Wq = clamp(rint(W * s), -1, 1). */
    static TernaryMatrix quantize(FloatView w, int rows, int cols) {
        long n = (long) rows * cols;
        double sumAbs = 0;
        for (int i = 0; i < n; i++) {
            sumAbs += Math.abs(w.get(i));
        }
        float s = 1f / Math.max((float) (sumAbs / n), MEAN_FLOOR);
        TernaryColumns out = new TernaryColumns(rows, cols);
        for (int o = 0; o < rows; o++) {
            int base = o * cols;
            for (int c = 0; c < cols; c++) {
                float q = (float) Math.rint(w.get(base + c) * s);
                out.setCode(o, c, (int) Math.max(-1f, Math.min(1f, q)) + 1);
            }
        }
        return out.toMatrix(1f / s);
    }

    private static void requireShape(Path file, String name, TensorInfo info, int rows, int cols)
            throws ModelLoadException {
        if (!Arrays.equals(info.shape(), new long[] {rows, cols})) {
            throw ModelLoadException.forTensor(
                    file,
                    name,
                    "shape " + Arrays.toString(info.shape()) + ", expected [" + rows + ", " + cols + "]"
                            + (info.dtype() == DType.U8 ? " (packed BitNet: [out/4, in])" : ""));
        }
    }
}

package dev.qsparse.runtime.safetensors;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;

/**
 * Finds NaN and infinity in a float tensor (F64, F32, F16, BF16) straight from its bytes, so that
 * a model whose weights are not all finite numbers fails when it is loaded or converted, naming
 * the file, the tensor and the first bad element, instead of serving finite wrong numbers (a
 * ternary quantizer launders NaN into a valid code) or failing one request at a time.
 *
 * <p>A value is non-finite when all its exponent bits are set. The scan tests eight bytes at a
 * time: per lane, {@code u = ~bits & exponentMask} is zero exactly for a non-finite value, and since
 * the mask leaves the lane's top bit clear, adding {@code topBit - 1} sets that top bit exactly when
 * {@code u} is not zero, with no carry into the next lane. About a memory read per byte.
 */
public final class FiniteWeights {

    private FiniteWeights() {}

    /** True for the dtypes the scan applies to (the others hold integers or codes). */
    public static boolean isFloat(DType dtype) {
        return dtype == DType.F64 || dtype == DType.F32 || dtype == DType.F16 || dtype == DType.BF16;
    }

    /**
     * Throws naming {@code file}, the tensor and its first non-finite element, if {@code data} (the
     * tensor's little-endian bytes) holds one; does nothing for a non-float dtype.
     */
    public static void require(Path file, TensorInfo info, ByteBuffer data) throws ModelLoadException {
        if (!isFloat(info.dtype())) {
            return;
        }
        long bad = firstNonFinite(data, info.dtype());
        if (bad >= 0) {
            throw ModelLoadException.forTensor(
                    file,
                    info.name(),
                    "element " + position(info.shape(), bad) + " is " + describe(data, info.dtype(), bad)
                            + ": a model's weights must be finite numbers (a corrupt file, or one saved from a"
                            + " diverged training run)");
        }
    }

    /** Index of the first NaN or infinite element of {@code data}, or -1 when every element is finite. */
    public static long firstNonFinite(ByteBuffer data, DType dtype) {
        ByteBuffer b = data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int base = b.position();
        int bytes = b.remaining();
        int width = dtype.bytes();
        long exponents;
        long tops;
        switch (dtype) {
            case F64 -> {
                exponents = 0x7ff0000000000000L;
                tops = 0x8000000000000000L;
            }
            case F32 -> {
                exponents = 0x7f8000007f800000L;
                tops = 0x8000000080000000L;
            }
            case F16 -> {
                exponents = 0x7c007c007c007c00L;
                tops = 0x8000800080008000L;
            }
            case BF16 -> {
                exponents = 0x7f807f807f807f80L;
                tops = 0x8000800080008000L;
            }
            default -> throw new IllegalArgumentException("not a float dtype: " + dtype);
        }
        long ones = tops - (tops >>> (8 * width - 1)); // topBit - 1 in every lane
        int words = bytes / 8;
        for (int w = 0; w < words; w++) {
            long u = ~b.getLong(base + 8 * w) & exponents;
            if (((u + ones) & tops) != tops) {
                for (int k = 0; k < 8 / width; k++) {
                    long e = (long) w * (8 / width) + k;
                    if (isNonFinite(b, base, dtype, e)) {
                        return e;
                    }
                }
            }
        }
        long count = bytes / width;
        for (long e = (long) words * (8 / width); e < count; e++) {
            if (isNonFinite(b, base, dtype, e)) {
                return e;
            }
        }
        return -1;
    }

    private static boolean isNonFinite(ByteBuffer b, int base, DType dtype, long element) {
        int at = Math.toIntExact(base + element * dtype.bytes());
        return switch (dtype) {
            case F64 -> (b.getLong(at) & 0x7ff0000000000000L) == 0x7ff0000000000000L;
            case F32 -> (b.getInt(at) & 0x7f800000) == 0x7f800000;
            case F16 -> (b.getShort(at) & 0x7c00) == 0x7c00;
            case BF16 -> (b.getShort(at) & 0x7f80) == 0x7f80;
            default -> false;
        };
    }

    /** NaN, +Infinity or -Infinity. */
    private static String describe(ByteBuffer data, DType dtype, long element) {
        ByteBuffer b = data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int at = Math.toIntExact(b.position() + element * dtype.bytes());
        long bits;
        long mantissa;
        switch (dtype) {
            case F64 -> {
                bits = b.getLong(at);
                mantissa = bits & 0x000fffffffffffffL;
            }
            case F32 -> {
                bits = b.getInt(at) & 0xffffffffL;
                mantissa = bits & 0x007fffffL;
            }
            case F16 -> {
                bits = b.getShort(at) & 0xffffL;
                mantissa = bits & 0x03ffL;
            }
            default -> {
                bits = b.getShort(at) & 0xffffL;
                mantissa = bits & 0x007fL;
            }
        }
        if (mantissa != 0) {
            return "NaN";
        }
        boolean negative = (bits >>> (8 * dtype.bytes() - 1)) != 0;
        return negative ? "-Infinity" : "+Infinity";
    }

    /** {@code [i, j, ...]} of flat index {@code flat} in a row-major tensor of {@code shape}. */
    private static String position(long[] shape, long flat) {
        if (shape.length <= 1) {
            return "[" + flat + "]";
        }
        long[] index = new long[shape.length];
        long rest = flat;
        for (int d = shape.length - 1; d >= 0; d--) {
            index[d] = shape[d] == 0 ? 0 : rest % shape[d];
            rest = shape[d] == 0 ? 0 : rest / shape[d];
        }
        StringBuilder s = new StringBuilder("[");
        for (int d = 0; d < index.length; d++) {
            s.append(d == 0 ? "" : ", ").append(index[d]);
        }
        return s.append("] (flat index ").append(flat).append(')').toString();
    }
}

package dev.qsparse.runtime.kernel;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The kernels on the Vector API ({@code jdk.incubator.vector}), at the machine's preferred width
 * (256 bits with AVX2, 512 with AVX-512). Only loaded by {@link KernelBackends} after it checked
 * that the module is readable: nothing else may name this class.
 *
 * <p>Int8: there is no widening int8 dot instruction in the API, so bytes widen to shorts, the
 * products (at most 128 * 127 in magnitude) are taken in 16 bits, two columns are added while
 * still 16-bit (at most 32512), then widened to int and added to the int accumulators. Every
 * conversion is a part-0 expansion (L bytes to L shorts to L ints), one sign-extending move each.
 *
 * <p>Ternary: a 16-byte group of a column holds 64 two-bit codes; it widens to shorts once and
 * each of its four code planes is a shift and a mask away. Four columns' products (codes times
 * int8 activations, at most 4 * 256 in magnitude) add in 16 bits before widening.
 */
final class VectorBackend implements KernelBackend {

    /** The CPU's preferred width, or the one {@link VectorWidth} asks for (tests run every width). */
    private static final VectorShape SHAPE = VectorWidth.requested() == 0
            ? VectorShape.preferredShape()
            : VectorShape.forBitSize(VectorWidth.requested());

    private static final VectorSpecies<Float> FS = VectorSpecies.of(float.class, SHAPE);
    private static final VectorSpecies<Integer> IS = VectorSpecies.of(int.class, SHAPE);
    /** Lanes of the int and float vectors: 4 with 128-bit vectors, 8 with 256-bit, 16 with 512-bit. */
    private static final int L = IS.length();

    private static final VectorSpecies<Short> SS = VectorSpecies.of(short.class, VectorShape.forBitSize(L * 16));
    /** L bytes to widen; at 128 bits (L = 4) the narrowest byte vector is 64 bits, loaded under a mask of its first L lanes. */
    private static final VectorSpecies<Byte> BS =
            VectorSpecies.of(byte.class, L * 8 >= 64 ? VectorShape.forBitSize(L * 8) : VectorShape.S_64_BIT);

    private static final VectorMask<Byte> FIRST_L_BYTES = BS.length() > L ? BS.indexInRange(0, L) : null;

    /** GELU runs in double (see {@link Gelu}): L / 2 double lanes per vector, from L / 2 floats. */
    private static final VectorSpecies<Double> DS = VectorSpecies.of(double.class, SHAPE);

    private static final VectorSpecies<Float> HALF_FS = VectorSpecies.of(float.class, VectorShape.forBitSize(L * 16));

    /** A float's bits without the sign: its magnitude's bits. */
    private static final int ABS_BITS = 0x7fffffff;
    /** Infinity's bits: a magnitude's bits above them are a NaN's. */
    private static final int INFINITY_BITS = 0x7f800000;

    VectorBackend() {
        if (L < 4 || FS.length() != L || 16 % L != 0) {
            throw new UnsupportedOperationException("vector width " + IS.vectorBitSize()
                    + " bits is not supported by these kernels (need 128, 256 or 512)");
        }
    }

    @Override
    public String name() {
        return "vector-" + IS.vectorBitSize();
    }

    /** w[offset .. offset + L) in the first L lanes of a byte vector; nothing past them is read. */
    private static ByteVector bytes(byte[] w, int offset) {
        return FIRST_L_BYTES == null
                ? ByteVector.fromArray(BS, w, offset)
                : ByteVector.fromArray(BS, w, offset, FIRST_L_BYTES);
    }

    private static ShortVector shorts(byte[] w, int offset) {
        return (ShortVector) bytes(w, offset).convertShape(VectorOperators.B2S, SS, 0);
    }

    private static FloatVector floats(byte[] w, int offset) {
        return (FloatVector) bytes(w, offset).convertShape(VectorOperators.B2F, FS, 0);
    }

    private static IntVector widen(ShortVector s) {
        return (IntVector) s.convertShape(VectorOperators.S2I, IS, 0);
    }

    @Override
    public void f32Rows(float[] w, int wOff, int cols, float[] x, float[] out, int outOff, int rows) {
        int r = 0;
        for (; r + 3 < rows; r += 4) {
            rows4x1(w, wOff + r * cols, cols, x, out, outOff + r);
        }
        for (; r < rows; r++) {
            out[outOff + r] = row1x1(w, wOff + r * cols, cols, x);
        }
    }

    /**
     * Register-blocked: 4 weight rows x 4 inputs, one accumulator per (row, input), each weight
     * and input vector loaded once per 4 uses. Every (row, input) sum runs in the one order of
     * {@link #row1x1} (lane-wise FMAs over whole vectors, a lane reduction, then the scalar tail),
     * so any blocking gives the same bits.
     */
    @Override
    public void f32Gemm(float[] w, int wOff, int cols, float[][] x, int count, float[][] out, int outOff, int rows) {
        int r = 0;
        for (; r + 3 < rows; r += 4) {
            int base = wOff + r * cols;
            int t = 0;
            if (L == 16) { // 16 accumulators + 8 operands fit the 32 AVX-512 registers; not the 16 of AVX2
                for (; t + 3 < count; t += 4) {
                    rows4x4(w, base, cols, x[t], x[t + 1], x[t + 2], x[t + 3], out, t, outOff + r);
                }
            }
            for (; t < count; t++) {
                rows4x1(w, base, cols, x[t], out[t], outOff + r);
            }
        }
        for (; r < rows; r++) {
            for (int t = 0; t < count; t++) {
                out[t][outOff + r] = row1x1(w, wOff + r * cols, cols, x[t]);
            }
        }
    }

    private static float row1x1(float[] w, int base, int cols, float[] x) {
        FloatVector a = FloatVector.zero(FS);
        int c = 0;
        for (; c + L <= cols; c += L) {
            a = FloatVector.fromArray(FS, w, base + c).fma(FloatVector.fromArray(FS, x, c), a);
        }
        return tail(a.reduceLanes(VectorOperators.ADD), w, base, x, c, cols);
    }

    private static float tail(float sum, float[] w, int base, float[] x, int from, int cols) {
        for (int c = from; c < cols; c++) {
            sum += w[base + c] * x[c];
        }
        return sum;
    }

    private static void rows4x1(float[] w, int base, int cols, float[] x, float[] out, int o) {
        FloatVector a0 = FloatVector.zero(FS);
        FloatVector a1 = a0;
        FloatVector a2 = a0;
        FloatVector a3 = a0;
        int b1 = base + cols;
        int b2 = b1 + cols;
        int b3 = b2 + cols;
        int c = 0;
        for (; c + L <= cols; c += L) {
            FloatVector xv = FloatVector.fromArray(FS, x, c);
            a0 = FloatVector.fromArray(FS, w, base + c).fma(xv, a0);
            a1 = FloatVector.fromArray(FS, w, b1 + c).fma(xv, a1);
            a2 = FloatVector.fromArray(FS, w, b2 + c).fma(xv, a2);
            a3 = FloatVector.fromArray(FS, w, b3 + c).fma(xv, a3);
        }
        out[o] = tail(a0.reduceLanes(VectorOperators.ADD), w, base, x, c, cols);
        out[o + 1] = tail(a1.reduceLanes(VectorOperators.ADD), w, b1, x, c, cols);
        out[o + 2] = tail(a2.reduceLanes(VectorOperators.ADD), w, b2, x, c, cols);
        out[o + 3] = tail(a3.reduceLanes(VectorOperators.ADD), w, b3, x, c, cols);
    }

    private static void rows4x4(
            float[] w,
            int base,
            int cols,
            float[] x0,
            float[] x1,
            float[] x2,
            float[] x3,
            float[][] out,
            int t,
            int o) {
        FloatVector z = FloatVector.zero(FS);
        FloatVector a00 = z, a01 = z, a02 = z, a03 = z;
        FloatVector a10 = z, a11 = z, a12 = z, a13 = z;
        FloatVector a20 = z, a21 = z, a22 = z, a23 = z;
        FloatVector a30 = z, a31 = z, a32 = z, a33 = z;
        int b1 = base + cols;
        int b2 = b1 + cols;
        int b3 = b2 + cols;
        int c = 0;
        for (; c + L <= cols; c += L) {
            FloatVector v0 = FloatVector.fromArray(FS, x0, c);
            FloatVector v1 = FloatVector.fromArray(FS, x1, c);
            FloatVector v2 = FloatVector.fromArray(FS, x2, c);
            FloatVector v3 = FloatVector.fromArray(FS, x3, c);
            FloatVector w0 = FloatVector.fromArray(FS, w, base + c);
            a00 = w0.fma(v0, a00);
            a01 = w0.fma(v1, a01);
            a02 = w0.fma(v2, a02);
            a03 = w0.fma(v3, a03);
            FloatVector w1 = FloatVector.fromArray(FS, w, b1 + c);
            a10 = w1.fma(v0, a10);
            a11 = w1.fma(v1, a11);
            a12 = w1.fma(v2, a12);
            a13 = w1.fma(v3, a13);
            FloatVector w2 = FloatVector.fromArray(FS, w, b2 + c);
            a20 = w2.fma(v0, a20);
            a21 = w2.fma(v1, a21);
            a22 = w2.fma(v2, a22);
            a23 = w2.fma(v3, a23);
            FloatVector w3 = FloatVector.fromArray(FS, w, b3 + c);
            a30 = w3.fma(v0, a30);
            a31 = w3.fma(v1, a31);
            a32 = w3.fma(v2, a32);
            a33 = w3.fma(v3, a33);
        }
        store4(out, t, o, c, w, base, cols, x0, x1, x2, x3, a00, a01, a02, a03);
        store4(out, t, o + 1, c, w, b1, cols, x0, x1, x2, x3, a10, a11, a12, a13);
        store4(out, t, o + 2, c, w, b2, cols, x0, x1, x2, x3, a20, a21, a22, a23);
        store4(out, t, o + 3, c, w, b3, cols, x0, x1, x2, x3, a30, a31, a32, a33);
    }

    private static void store4(
            float[][] out,
            int t,
            int o,
            int c,
            float[] w,
            int base,
            int cols,
            float[] x0,
            float[] x1,
            float[] x2,
            float[] x3,
            FloatVector a0,
            FloatVector a1,
            FloatVector a2,
            FloatVector a3) {
        out[t][o] = tail(a0.reduceLanes(VectorOperators.ADD), w, base, x0, c, cols);
        out[t + 1][o] = tail(a1.reduceLanes(VectorOperators.ADD), w, base, x1, c, cols);
        out[t + 2][o] = tail(a2.reduceLanes(VectorOperators.ADD), w, base, x2, c, cols);
        out[t + 3][o] = tail(a3.reduceLanes(VectorOperators.ADD), w, base, x3, c, cols);
    }

    @Override
    public void int8Int(byte[] w, int[] off, float[] xs, int count, int[] acc, int accOff, int len) {
        int j = 0;
        for (; j + 3 < count; j += 4) {
            short x1 = (short) xs[j];
            short x2 = (short) xs[j + 1];
            short x3 = (short) xs[j + 2];
            short x4 = (short) xs[j + 3];
            int b1 = off[j];
            int b2 = off[j + 1];
            int b3 = off[j + 2];
            int b4 = off[j + 3];
            for (int i = 0; i < len; i += L) {
                ShortVector p = shorts(w, b1 + i).mul(x1).add(shorts(w, b2 + i).mul(x2));
                ShortVector q = shorts(w, b3 + i).mul(x3).add(shorts(w, b4 + i).mul(x4));
                int o = accOff + i;
                IntVector.fromArray(IS, acc, o).add(widen(p)).add(widen(q)).intoArray(acc, o);
            }
        }
        for (; j + 1 < count; j += 2) {
            short x1 = (short) xs[j];
            short x2 = (short) xs[j + 1];
            int b1 = off[j];
            int b2 = off[j + 1];
            for (int i = 0; i < len; i += L) {
                ShortVector p = shorts(w, b1 + i).mul(x1).add(shorts(w, b2 + i).mul(x2));
                int o = accOff + i;
                IntVector.fromArray(IS, acc, o).add(widen(p)).intoArray(acc, o);
            }
        }
        for (; j < count; j++) {
            short x1 = (short) xs[j];
            int b1 = off[j];
            for (int i = 0; i < len; i += L) {
                int o = accOff + i;
                IntVector.fromArray(IS, acc, o)
                        .add(widen(shorts(w, b1 + i).mul(x1)))
                        .intoArray(acc, o);
            }
        }
    }

    @Override
    public void int8Float(byte[] w, int[] off, float[] xs, int count, float[] acc, int accOff, int len) {
        int j = 0;
        for (; j + 3 < count; j += 4) {
            FloatVector x1 = FloatVector.broadcast(FS, xs[j]);
            FloatVector x2 = FloatVector.broadcast(FS, xs[j + 1]);
            FloatVector x3 = FloatVector.broadcast(FS, xs[j + 2]);
            FloatVector x4 = FloatVector.broadcast(FS, xs[j + 3]);
            int b1 = off[j];
            int b2 = off[j + 1];
            int b3 = off[j + 2];
            int b4 = off[j + 3];
            for (int i = 0; i < len; i += L) {
                int o = accOff + i;
                FloatVector a = FloatVector.fromArray(FS, acc, o);
                a = floats(w, b1 + i).fma(x1, a);
                a = floats(w, b2 + i).fma(x2, a);
                a = floats(w, b3 + i).fma(x3, a);
                a = floats(w, b4 + i).fma(x4, a);
                a.intoArray(acc, o);
            }
        }
        for (; j < count; j++) {
            FloatVector x1 = FloatVector.broadcast(FS, xs[j]);
            int b1 = off[j];
            for (int i = 0; i < len; i += L) {
                int o = accOff + i;
                floats(w, b1 + i).fma(x1, FloatVector.fromArray(FS, acc, o)).intoArray(acc, o);
            }
        }
    }

    /** Codes of plane k (outputs 16k .. 16k+15 of a group) from a group's bytes widened to shorts. */
    private static ShortVector plane(ShortVector group, int k) {
        return k == 0
                ? group.and((short) 3)
                : group.lanewise(VectorOperators.LSHR, 2 * k).and((short) 3);
    }

    @Override
    public void ternaryInt(byte[] w, int[] off, float[] xs, int count, int[] acc, int accOff, int len) {
        int groups = len >>> 6;
        int j = 0;
        for (; j + 3 < count; j += 4) {
            short x1 = (short) xs[j];
            short x2 = (short) xs[j + 1];
            short x3 = (short) xs[j + 2];
            short x4 = (short) xs[j + 3];
            int b1 = off[j];
            int b2 = off[j + 1];
            int b3 = off[j + 2];
            int b4 = off[j + 3];
            for (int g = 0; g < groups; g++) {
                for (int h = 0; h < 16; h += L) {
                    int gb = 16 * g + h;
                    ShortVector v1 = shorts(w, b1 + gb);
                    ShortVector v2 = shorts(w, b2 + gb);
                    ShortVector v3 = shorts(w, b3 + gb);
                    ShortVector v4 = shorts(w, b4 + gb);
                    for (int k = 0; k < 4; k++) {
                        ShortVector s = plane(v1, k)
                                .mul(x1)
                                .add(plane(v2, k).mul(x2))
                                .add(plane(v3, k).mul(x3))
                                .add(plane(v4, k).mul(x4));
                        int o = accOff + 64 * g + 16 * k + h;
                        IntVector.fromArray(IS, acc, o).add(widen(s)).intoArray(acc, o);
                    }
                }
            }
        }
        for (; j < count; j++) {
            short x1 = (short) xs[j];
            int b1 = off[j];
            for (int g = 0; g < groups; g++) {
                for (int h = 0; h < 16; h += L) {
                    ShortVector v1 = shorts(w, b1 + 16 * g + h);
                    for (int k = 0; k < 4; k++) {
                        int o = accOff + 64 * g + 16 * k + h;
                        IntVector.fromArray(IS, acc, o)
                                .add(widen(plane(v1, k).mul(x1)))
                                .intoArray(acc, o);
                    }
                }
            }
        }
    }

    @Override
    public void ternaryFloat(byte[] w, int[] off, float[] xs, int count, float[] acc, int accOff, int len) {
        int groups = len >>> 6;
        for (int j = 0; j < count; j++) {
            FloatVector x1 = FloatVector.broadcast(FS, xs[j]);
            int b1 = off[j];
            for (int g = 0; g < groups; g++) {
                for (int h = 0; h < 16; h += L) {
                    ShortVector v1 = shorts(w, b1 + 16 * g + h);
                    for (int k = 0; k < 4; k++) {
                        int o = accOff + 64 * g + 16 * k + h;
                        FloatVector codes = (FloatVector) plane(v1, k).convertShape(VectorOperators.S2F, FS, 0);
                        codes.fma(x1, FloatVector.fromArray(FS, acc, o)).intoArray(acc, o);
                    }
                }
            }
        }
    }

    @Override
    public float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        FloatVector s0 = FloatVector.zero(FS);
        FloatVector s1 = FloatVector.zero(FS);
        int i = 0;
        for (; i + 2 * L <= n; i += 2 * L) {
            s0 = FloatVector.fromArray(FS, a, aOff + i).fma(FloatVector.fromArray(FS, b, bOff + i), s0);
            s1 = FloatVector.fromArray(FS, a, aOff + i + L).fma(FloatVector.fromArray(FS, b, bOff + i + L), s1);
        }
        for (; i + L <= n; i += L) {
            s0 = FloatVector.fromArray(FS, a, aOff + i).fma(FloatVector.fromArray(FS, b, bOff + i), s0);
        }
        float sum = s0.add(s1).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            sum += a[aOff + i] * b[bOff + i];
        }
        return sum;
    }

    @Override
    public void axpy(float a, float[] x, int xOff, float[] y, int yOff, int n) {
        FloatVector av = FloatVector.broadcast(FS, a);
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector.fromArray(FS, x, xOff + i)
                    .fma(av, FloatVector.fromArray(FS, y, yOff + i))
                    .intoArray(y, yOff + i);
        }
        for (; i < n; i++) {
            y[yOff + i] += a * x[xOff + i];
        }
    }

    /**
     * Positions across lanes: per channel, one broadcast of q and one FMA per vector of positions,
     * four vectors' chains interleaved (each a separate dependency chain). Each lane's operations
     * are the scalar definition's sequential fma chain, so the bits are the same.
     */
    @Override
    public void keyScores(
            float[] q,
            int qOff,
            float[] keys,
            int channel,
            int kvStride,
            int count,
            int n,
            float scale,
            float[] scores) {
        int block = KeyBlocks.POSITIONS * kvStride;
        int stride = KeyBlocks.POSITIONS;
        // Vector v covers positions [v * L, v * L + L): block v / (16 / L), lanes offset (v % (16 / L)) * L.
        int perBlock = KeyBlocks.POSITIONS / L;
        int vectors = (count + L - 1) / L;
        int v = 0;
        for (; v + 3 < vectors; v += 4) {
            int b0 = keyBase(v, perBlock, block, channel);
            int b1 = keyBase(v + 1, perBlock, block, channel);
            int b2 = keyBase(v + 2, perBlock, block, channel);
            int b3 = keyBase(v + 3, perBlock, block, channel);
            FloatVector a0 = FloatVector.zero(FS), a1 = a0, a2 = a0, a3 = a0;
            for (int d = 0; d < n; d++) {
                FloatVector qd = FloatVector.broadcast(FS, q[qOff + d]);
                int o = d * stride;
                a0 = qd.fma(FloatVector.fromArray(FS, keys, b0 + o), a0);
                a1 = qd.fma(FloatVector.fromArray(FS, keys, b1 + o), a1);
                a2 = qd.fma(FloatVector.fromArray(FS, keys, b2 + o), a2);
                a3 = qd.fma(FloatVector.fromArray(FS, keys, b3 + o), a3);
            }
            a0.mul(scale).intoArray(scores, v * L);
            a1.mul(scale).intoArray(scores, (v + 1) * L);
            a2.mul(scale).intoArray(scores, (v + 2) * L);
            a3.mul(scale).intoArray(scores, (v + 3) * L);
        }
        for (; v < vectors; v++) {
            int b0 = keyBase(v, perBlock, block, channel);
            FloatVector a0 = FloatVector.zero(FS);
            for (int d = 0; d < n; d++) {
                a0 = FloatVector.broadcast(FS, q[qOff + d]).fma(FloatVector.fromArray(FS, keys, b0 + d * stride), a0);
            }
            a0.mul(scale).intoArray(scores, v * L);
        }
    }

    private static int keyBase(int vector, int perBlock, int block, int channel) {
        return (vector / perBlock) * block + channel * KeyBlocks.POSITIONS + (vector % perBlock) * L;
    }

    /**
     * Up to four vectors of the output stay in registers over all t (instead of a load and store
     * of out per t); each lane's operations are those of repeated {@link #axpy} calls.
     */
    @Override
    public void weightedSum(float[] w, int count, float[] v, int vOff, int stride, float[] out, int outOff, int n) {
        int i = 0;
        for (; i + 4 * L <= n; i += 4 * L) {
            FloatVector a0 = FloatVector.zero(FS), a1 = FloatVector.zero(FS);
            FloatVector a2 = FloatVector.zero(FS), a3 = FloatVector.zero(FS);
            for (int t = 0; t < count; t++) {
                FloatVector wt = FloatVector.broadcast(FS, w[t]);
                int b = t * stride + vOff + i;
                a0 = FloatVector.fromArray(FS, v, b).fma(wt, a0);
                a1 = FloatVector.fromArray(FS, v, b + L).fma(wt, a1);
                a2 = FloatVector.fromArray(FS, v, b + 2 * L).fma(wt, a2);
                a3 = FloatVector.fromArray(FS, v, b + 3 * L).fma(wt, a3);
            }
            a0.intoArray(out, outOff + i);
            a1.intoArray(out, outOff + i + L);
            a2.intoArray(out, outOff + i + 2 * L);
            a3.intoArray(out, outOff + i + 3 * L);
        }
        for (; i + L <= n; i += L) {
            FloatVector a0 = FloatVector.zero(FS);
            for (int t = 0; t < count; t++) {
                a0 = FloatVector.fromArray(FS, v, t * stride + vOff + i).fma(FloatVector.broadcast(FS, w[t]), a0);
            }
            a0.intoArray(out, outOff + i);
        }
        for (; i < n; i++) {
            float y = 0f;
            for (int t = 0; t < count; t++) {
                y += w[t] * v[t * stride + vOff + i];
            }
            out[outOff + i] = y;
        }
    }

    /**
     * bfloat16 rows: L patterns widen to ints (the sign extension is shifted out), move to the top
     * half and are read as floats, then one FMA chain per row as in {@link #f32Rows}'s single rows.
     */
    @Override
    public void bf16Rows(short[] w, int wOff, int cols, float[] x, float[] out, int outOff, int rows) {
        for (int r = 0; r < rows; r++) {
            int base = wOff + r * cols;
            FloatVector acc = FloatVector.zero(FS);
            int c = 0;
            for (; c + L <= cols; c += L) {
                IntVector bits =
                        (IntVector) ShortVector.fromArray(SS, w, base + c).convertShape(VectorOperators.S2I, IS, 0);
                FloatVector wf = bits.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
                acc = wf.fma(FloatVector.fromArray(FS, x, c), acc);
            }
            float sum = acc.reduceLanes(VectorOperators.ADD);
            for (; c < cols; c++) {
                sum += Float.intBitsToFloat((w[base + c] & 0xffff) << 16) * x[c];
            }
            out[outOff + r] = sum;
        }
    }

    /**
     * The largest magnitude's bit pattern, as an integer maximum of the patterns with the sign bit
     * cleared (non-negative floats order like their bits), two running maxima: a compare-and-blend
     * chain measured 6x slower. A pattern above infinity's is a NaN, which the scalar loop skips:
     * then the scalar loop answers.
     */
    @Override
    public float absMax(float[] x, int n) {
        IntVector m0 = IntVector.zero(IS);
        IntVector m1 = m0;
        int i = 0;
        for (; i + 2 * L <= n; i += 2 * L) {
            m0 = m0.max(FloatVector.fromArray(FS, x, i).reinterpretAsInts().and(ABS_BITS));
            m1 = m1.max(FloatVector.fromArray(FS, x, i + L).reinterpretAsInts().and(ABS_BITS));
        }
        for (; i + L <= n; i += L) {
            m0 = m0.max(FloatVector.fromArray(FS, x, i).reinterpretAsInts().and(ABS_BITS));
        }
        int bits = m0.max(m1).reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) {
            bits = Math.max(bits, Float.floatToRawIntBits(x[i]) & ABS_BITS);
        }
        return bits > INFINITY_BITS ? Sparsifier.absMax(x, n) : Float.intBitsToFloat(bits);
    }

    /** A lane-wise compare with zero, counted per vector (-0 compares equal to zero, as in the scalar twin). */
    @Override
    public int countNonZero(float[] v, int n) {
        int count = 0;
        int i = 0;
        for (; i + L <= n; i += L) {
            count += FloatVector.fromArray(FS, v, i)
                    .compare(VectorOperators.NE, 0f)
                    .trueCount();
        }
        for (; i < n; i++) {
            count += v[i] != 0f ? 1 : 0;
        }
        return count;
    }

    /** {@link Kernels#ropeRotateHalf} lane by lane (no multiply fused, as in the scalar), the pairs past whole vectors scalar. */
    @Override
    public void ropeRotateHalf(float[] v, int off, int headDim, float[] cos, float[] sin) {
        int half = headDim / 2;
        int i = 0;
        for (; i + L <= half; i += L) {
            FloatVector a = FloatVector.fromArray(FS, v, off + i);
            FloatVector b = FloatVector.fromArray(FS, v, off + i + half);
            FloatVector c = FloatVector.fromArray(FS, cos, i);
            FloatVector s = FloatVector.fromArray(FS, sin, i);
            a.mul(c).sub(b.mul(s)).intoArray(v, off + i);
            b.mul(c).add(a.mul(s)).intoArray(v, off + i + half);
        }
        for (; i < half; i++) {
            float a = v[off + i];
            float b = v[off + i + half];
            v[off + i] = a * cos[i] - b * sin[i];
            v[off + i + half] = b * cos[i] + a * sin[i];
        }
    }

    /** The scalar's float compare lane by lane (Java's compare: a NaN compares false), the count fused. */
    @Override
    public int keepAtLeast(float[] x, int n, float threshold, float[] out) {
        int nonZero = 0;
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector xv = FloatVector.fromArray(FS, x, i);
            FloatVector kept =
                    xv.blend(0f, xv.abs().compare(VectorOperators.GE, threshold).not());
            nonZero += kept.compare(VectorOperators.NE, 0f).trueCount();
            kept.intoArray(out, i);
        }
        for (; i < n; i++) {
            out[i] = Math.abs(x[i]) >= threshold ? x[i] : 0f;
            nonZero += out[i] != 0f ? 1 : 0;
        }
        return nonZero;
    }

    /**
     * The scalar operations lane by lane, the clamp on bit patterns: x * s + magic is magic + k for
     * the rounded k while |k| < 2^22, and positive floats order like their bits, so clamping the
     * sum's bits to those of magic - 128 and magic + 127 (a negative sum's bits are negative ints)
     * and subtracting the magic gives the scalar's clamped k, bit for bit (float compare-and-blend
     * clamps measured 3x slower). The keep test compares magnitudes' bits with the threshold's, as
     * the scalar does; a dropped lane becomes magic, so +0, and the non-zero lanes are those that
     * are not magic (counted here: a separate pass measured a third of this one). A NaN product x * s (its magnitude's
     * bits above infinity's, tracked in one running maximum: a NaN input, or infinity times 0) or a
     * NaN threshold takes the scalar loop, which keeps the NaN where the clamp would not.
     */
    @Override
    public int quantizeKept(float[] x, int n, float s, float threshold, float[] out) {
        if (Float.isNaN(threshold)) {
            return KernelBackend.super.quantizeKept(x, n, s, threshold, out);
        }
        int t = Float.floatToRawIntBits(threshold);
        IntVector lowest = IntVector.broadcast(IS, AttentionSoftmax.MAGIC_BITS - 128);
        IntVector highest = IntVector.broadcast(IS, AttentionSoftmax.MAGIC_BITS + 127);
        IntVector zero = IntVector.broadcast(IS, AttentionSoftmax.MAGIC_BITS);
        IntVector magnitudeBits = IntVector.broadcast(IS, ABS_BITS);
        IntVector seen = IntVector.zero(IS);
        int nonZero = 0;
        int i = 0;
        if (t == 0) { // dense: every magnitude's bits are >= 0, nothing to drop
            for (; i + L <= n; i += L) {
                FloatVector scaled = FloatVector.fromArray(FS, x, i).mul(s);
                seen = seen.max(scaled.reinterpretAsInts().and(magnitudeBits));
                IntVector q = scaled.add(Sparsifier.ROUND_MAGIC)
                        .reinterpretAsInts()
                        .max(lowest)
                        .min(highest);
                nonZero += q.compare(VectorOperators.NE, zero).trueCount();
                q.reinterpretAsFloats().sub(Sparsifier.ROUND_MAGIC).intoArray(out, i);
            }
        } else {
            IntVector keepFrom = IntVector.broadcast(IS, t);
            for (; i + L <= n; i += L) {
                FloatVector xv = FloatVector.fromArray(FS, x, i);
                FloatVector scaled = xv.mul(s);
                seen = seen.max(scaled.reinterpretAsInts().and(magnitudeBits));
                IntVector q = scaled.add(Sparsifier.ROUND_MAGIC)
                        .reinterpretAsInts()
                        .max(lowest)
                        .min(highest);
                q = q.blend(zero, xv.reinterpretAsInts().and(magnitudeBits).compare(VectorOperators.LT, keepFrom));
                nonZero += q.compare(VectorOperators.NE, zero).trueCount();
                q.reinterpretAsFloats().sub(Sparsifier.ROUND_MAGIC).intoArray(out, i);
            }
        }
        if (seen.reduceLanes(VectorOperators.MAX) > INFINITY_BITS) {
            return KernelBackend.super.quantizeKept(x, n, s, threshold, out);
        }
        for (; i < n; i++) {
            float xi = x[i];
            out[i] = Float.floatToRawIntBits(Math.abs(xi)) >= t ? Sparsifier.quantizeFast(xi, s) : 0f;
            nonZero += out[i] != 0f ? 1 : 0;
        }
        return nonZero;
    }

    /**
     * {@link AttentionSoftmax#softmax} lane by lane: the same exp operations, and the 16 partial sums
     * as one vector of 16 lanes or two of 8 (lane j of vector v is partial v * L + j).
     */
    /**
     * {@link Gelu#apply}'s formula on L / 2 values at a time, in double: erfc's fit by fused
     * multiply-adds and the vector exp (SVML's on x86), the rest as the scalar form; within an ulp
     * of it (GeluTest). A division and an exp per value: on an encoder the scalar loop took as long
     * as all its matrix products.
     */
    @Override
    public void gelu(float[] x, int n) {
        int h = HALF_FS.length();
        double[] fit = Gelu.FIT;
        int i = 0;
        for (; i + h <= n; i += h) {
            DoubleVector v =
                    (DoubleVector) FloatVector.fromArray(HALF_FS, x, i).convertShape(VectorOperators.F2D, DS, 0);
            DoubleVector z = v.mul(-Gelu.INV_SQRT2);
            DoubleVector a = z.abs();
            DoubleVector t = DoubleVector.broadcast(DS, 1.0).div(a.fma(0.5, 1.0));
            DoubleVector p = DoubleVector.broadcast(DS, fit[fit.length - 1]);
            for (int k = fit.length - 2; k >= 0; k--) {
                p = p.fma(t, DoubleVector.broadcast(DS, fit[k]));
            }
            DoubleVector r = t.mul(a.mul(a).neg().add(p).lanewise(VectorOperators.EXP));
            DoubleVector erfc = r.blend(r.neg().add(2.0), z.compare(VectorOperators.LT, 0.0));
            ((FloatVector) v.mul(0.5).mul(erfc).convertShape(VectorOperators.D2F, HALF_FS, 0)).intoArray(x, i);
        }
        Gelu.apply(x, i, n); // the tail
    }

    @Override
    public void softmax(float[] x, int off, int len) {
        FloatVector maxv = FloatVector.broadcast(FS, Float.NEGATIVE_INFINITY);
        int i = 0;
        for (; i + L <= len; i += L) {
            maxv = maxv.lanewise(VectorOperators.MAX, FloatVector.fromArray(FS, x, off + i));
        }
        float max = maxv.reduceLanes(VectorOperators.MAX);
        for (; i < len; i++) {
            max = Math.max(max, x[off + i]);
        }
        int step = AttentionSoftmax.PARTIALS;
        // The 16 partials as step / L vectors (one of 16 lanes, two of 8 or four of 4).
        FloatVector p0 = FloatVector.zero(FS);
        FloatVector p1 = FloatVector.zero(FS);
        FloatVector p2 = FloatVector.zero(FS);
        FloatVector p3 = FloatVector.zero(FS);
        i = 0;
        for (; i + step <= len; i += step) {
            p0 = p0.add(expInto(x, off + i, max));
            if (L < step) {
                p1 = p1.add(expInto(x, off + i + L, max));
            }
            if (2 * L < step) {
                p2 = p2.add(expInto(x, off + i + 2 * L, max));
                p3 = p3.add(expInto(x, off + i + 3 * L, max));
            }
        }
        float[] partial = new float[step];
        p0.intoArray(partial, 0);
        if (L < step) {
            p1.intoArray(partial, L);
        }
        if (2 * L < step) {
            p2.intoArray(partial, 2 * L);
            p3.intoArray(partial, 3 * L);
        }
        for (; i < len; i++) {
            float e = AttentionSoftmax.exp(x[off + i] - max);
            x[off + i] = e;
            partial[i % step] += e;
        }
        float inv = 1f / AttentionSoftmax.total(partial);
        FloatVector invv = FloatVector.broadcast(FS, inv);
        i = 0;
        for (; i + L <= len; i += L) {
            FloatVector.fromArray(FS, x, off + i).mul(invv).intoArray(x, off + i);
        }
        AttentionSoftmax.scale(x, off + i, len - i, inv);
    }

    /** exp(x[at..at+L) - max) written back in place, and returned. */
    private static FloatVector expInto(float[] x, int at, float max) {
        FloatVector e = exp(FloatVector.fromArray(FS, x, at).sub(max));
        e.intoArray(x, at);
        return e;
    }

    /** {@link AttentionSoftmax#exp}'s operations on every lane. */
    private static FloatVector exp(FloatVector x) {
        FloatVector shifted = x.mul(AttentionSoftmax.LOG2E).add(AttentionSoftmax.ROUND_MAGIC);
        FloatVector k = shifted.sub(AttentionSoftmax.ROUND_MAGIC);
        FloatVector r = k.fma(FloatVector.broadcast(FS, -AttentionSoftmax.LN2_HI), x);
        r = k.fma(FloatVector.broadcast(FS, -AttentionSoftmax.LN2_LO), r);
        FloatVector p = r.fma(AttentionSoftmax.C6, AttentionSoftmax.C5); // C6 * r + C5
        p = p.fma(r, FloatVector.broadcast(FS, AttentionSoftmax.C4));
        p = p.fma(r, FloatVector.broadcast(FS, AttentionSoftmax.C3));
        p = p.fma(r, FloatVector.broadcast(FS, AttentionSoftmax.C2));
        FloatVector one = FloatVector.broadcast(FS, 1f);
        p = p.fma(r, one);
        p = p.fma(r, one);
        IntVector bits = shifted.reinterpretAsInts()
                .sub(AttentionSoftmax.MAGIC_BITS - 127)
                .lanewise(VectorOperators.LSHL, 23);
        FloatVector e = p.mul(bits.reinterpretAsFloats());
        return e.blend(0f, x.compare(VectorOperators.LT, AttentionSoftmax.UNDERFLOW));
    }

    /**
     * A binary search on the answer's bit pattern instead of a histogram: the bits of a non-negative
     * float order like ints, so the answer is the largest t with at least k magnitudes' bits >= t,
     * and each step counts those with lane-wise integer arithmetic (no scatter, no branch). A
     * histogram's scattered increments cost about 5 cycles an input; this is 2-4 times faster. The
     * search stops as soon as exactly k magnitudes have bits >= t: those are the k largest, and the
     * answer is the least of them (one more pass), so only ties at the answer run all 31 steps; on
     * real activations that halves the steps.
     */
    @Override
    public float kthLargestMagnitude(float[] x, float[] scratch, int n, int k, int maxBits) {
        if (k < 1 || k > n) {
            throw new IllegalArgumentException("k=" + k + " outside [1, " + n + "]");
        }
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector.fromArray(FS, x, i).abs().intoArray(scratch, i);
        }
        for (; i < n; i++) {
            scratch[i] = Math.abs(x[i]);
        }
        int lo = 0; // at least k magnitudes have bits >= lo (every one has bits >= 0)
        int hi = 0x7fffffff; // and the answer is at most hi
        while (lo < hi) {
            int mid = lo + ((hi - lo + 1) >>> 1);
            int count = countAtLeast(scratch, n, mid);
            if (count == k) {
                return Float.intBitsToFloat(leastBitsAtLeast(scratch, n, mid));
            }
            if (count > k) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        return Float.intBitsToFloat(lo);
    }

    /**
     * How many of the non-negative floats' bits in a[0..n) are >= t (t >= 1): (t - 1 - bits) >>> 31
     * is 1 exactly then. Two running sums, so the adds are not one dependency chain.
     */
    private static int countAtLeast(float[] a, int n, int t) {
        IntVector below = IntVector.broadcast(IS, t - 1);
        IntVector c0 = IntVector.zero(IS);
        IntVector c1 = IntVector.zero(IS);
        int i = 0;
        for (; i + 2 * L <= n; i += 2 * L) {
            IntVector b0 = FloatVector.fromArray(FS, a, i).reinterpretAsInts();
            IntVector b1 = FloatVector.fromArray(FS, a, i + L).reinterpretAsInts();
            c0 = c0.add(below.sub(b0).lanewise(VectorOperators.LSHR, 31));
            c1 = c1.add(below.sub(b1).lanewise(VectorOperators.LSHR, 31));
        }
        for (; i + L <= n; i += L) {
            IntVector bits = FloatVector.fromArray(FS, a, i).reinterpretAsInts();
            c0 = c0.add(below.sub(bits).lanewise(VectorOperators.LSHR, 31));
        }
        int count = c0.add(c1).reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            count += (t - 1 - Float.floatToRawIntBits(a[i])) >>> 31;
        }
        return count;
    }

    /** The least bits >= t among the non-negative floats' bits in a[0..n) (as ints, so a NaN orders above infinity). */
    private static int leastBitsAtLeast(float[] a, int n, int t) {
        IntVector floor = IntVector.broadcast(IS, t);
        IntVector none = IntVector.broadcast(IS, Integer.MAX_VALUE);
        IntVector m = none;
        int i = 0;
        for (; i + L <= n; i += L) {
            IntVector bits = FloatVector.fromArray(FS, a, i).reinterpretAsInts();
            m = m.min(bits.blend(none, bits.compare(VectorOperators.LT, floor)));
        }
        int least = m.reduceLanes(VectorOperators.MIN);
        for (; i < n; i++) {
            int bits = Float.floatToRawIntBits(a[i]);
            least = bits >= t && bits < least ? bits : least;
        }
        return least;
    }

    /** Each key vector loaded once for the four queries: per channel four broadcasts and four FMAs a vector of positions. */
    @Override
    public void keyScores4(
            float[][] q,
            int qOff,
            float[] keys,
            int channel,
            int kvStride,
            int count,
            int n,
            float scale,
            float[][] scores) {
        float[] q0 = q[0], q1 = q[1], q2 = q[2], q3 = q[3];
        int block = KeyBlocks.POSITIONS * kvStride;
        int stride = KeyBlocks.POSITIONS;
        int perBlock = KeyBlocks.POSITIONS / L;
        int vectors = (count + L - 1) / L;
        int v = 0;
        for (; v + 1 < vectors; v += 2) { // two vectors of positions x four queries: 8 chains
            int b0 = keyBase(v, perBlock, block, channel);
            int b1 = keyBase(v + 1, perBlock, block, channel);
            FloatVector z = FloatVector.zero(FS);
            FloatVector a00 = z, a01 = z, a10 = z, a11 = z, a20 = z, a21 = z, a30 = z, a31 = z;
            for (int d = 0; d < n; d++) {
                int o = d * stride;
                FloatVector k0 = FloatVector.fromArray(FS, keys, b0 + o);
                FloatVector k1 = FloatVector.fromArray(FS, keys, b1 + o);
                FloatVector x0 = FloatVector.broadcast(FS, q0[qOff + d]);
                FloatVector x1 = FloatVector.broadcast(FS, q1[qOff + d]);
                FloatVector x2 = FloatVector.broadcast(FS, q2[qOff + d]);
                FloatVector x3 = FloatVector.broadcast(FS, q3[qOff + d]);
                a00 = x0.fma(k0, a00);
                a01 = x0.fma(k1, a01);
                a10 = x1.fma(k0, a10);
                a11 = x1.fma(k1, a11);
                a20 = x2.fma(k0, a20);
                a21 = x2.fma(k1, a21);
                a30 = x3.fma(k0, a30);
                a31 = x3.fma(k1, a31);
            }
            a00.mul(scale).intoArray(scores[0], v * L);
            a01.mul(scale).intoArray(scores[0], (v + 1) * L);
            a10.mul(scale).intoArray(scores[1], v * L);
            a11.mul(scale).intoArray(scores[1], (v + 1) * L);
            a20.mul(scale).intoArray(scores[2], v * L);
            a21.mul(scale).intoArray(scores[2], (v + 1) * L);
            a30.mul(scale).intoArray(scores[3], v * L);
            a31.mul(scale).intoArray(scores[3], (v + 1) * L);
        }
        if (v < vectors) {
            int b0 = keyBase(v, perBlock, block, channel);
            FloatVector z = FloatVector.zero(FS);
            FloatVector a0 = z, a1 = z, a2 = z, a3 = z;
            for (int d = 0; d < n; d++) {
                FloatVector k0 = FloatVector.fromArray(FS, keys, b0 + d * stride);
                a0 = FloatVector.broadcast(FS, q0[qOff + d]).fma(k0, a0);
                a1 = FloatVector.broadcast(FS, q1[qOff + d]).fma(k0, a1);
                a2 = FloatVector.broadcast(FS, q2[qOff + d]).fma(k0, a2);
                a3 = FloatVector.broadcast(FS, q3[qOff + d]).fma(k0, a3);
            }
            a0.mul(scale).intoArray(scores[0], v * L);
            a1.mul(scale).intoArray(scores[1], v * L);
            a2.mul(scale).intoArray(scores[2], v * L);
            a3.mul(scale).intoArray(scores[3], v * L);
        }
    }

    /**
     * Each value vector loaded once for the four queries over the positions they share, then each
     * query's own remaining positions continue its chains; every lane's operations are those of
     * {@link #weightedSum}. Heads whose width is not a multiple of 4 vectors take four single calls.
     */
    @Override
    public void weightedSum4(
            float[][] w, int[] counts, float[] v, int vOff, int stride, float[][] out, int outOff, int n) {
        if (n % (4 * L) != 0) {
            KernelBackend.super.weightedSum4(w, counts, v, vOff, stride, out, outOff, n);
            return;
        }
        int shared = Math.min(Math.min(counts[0], counts[1]), Math.min(counts[2], counts[3]));
        float[] w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3];
        for (int i = 0; i < n; i += 4 * L) {
            FloatVector z = FloatVector.zero(FS);
            FloatVector a00 = z, a01 = z, a02 = z, a03 = z, a10 = z, a11 = z, a12 = z, a13 = z;
            FloatVector a20 = z, a21 = z, a22 = z, a23 = z, a30 = z, a31 = z, a32 = z, a33 = z;
            for (int t = 0; t < shared; t++) {
                int b = t * stride + vOff + i;
                FloatVector v0 = FloatVector.fromArray(FS, v, b);
                FloatVector v1 = FloatVector.fromArray(FS, v, b + L);
                FloatVector v2 = FloatVector.fromArray(FS, v, b + 2 * L);
                FloatVector v3 = FloatVector.fromArray(FS, v, b + 3 * L);
                FloatVector c = FloatVector.broadcast(FS, w0[t]);
                a00 = v0.fma(c, a00);
                a01 = v1.fma(c, a01);
                a02 = v2.fma(c, a02);
                a03 = v3.fma(c, a03);
                c = FloatVector.broadcast(FS, w1[t]);
                a10 = v0.fma(c, a10);
                a11 = v1.fma(c, a11);
                a12 = v2.fma(c, a12);
                a13 = v3.fma(c, a13);
                c = FloatVector.broadcast(FS, w2[t]);
                a20 = v0.fma(c, a20);
                a21 = v1.fma(c, a21);
                a22 = v2.fma(c, a22);
                a23 = v3.fma(c, a23);
                c = FloatVector.broadcast(FS, w3[t]);
                a30 = v0.fma(c, a30);
                a31 = v1.fma(c, a31);
                a32 = v2.fma(c, a32);
                a33 = v3.fma(c, a33);
            }
            store4(a00, a01, a02, a03, out[0], outOff + i);
            store4(a10, a11, a12, a13, out[1], outOff + i);
            store4(a20, a21, a22, a23, out[2], outOff + i);
            store4(a30, a31, a32, a33, out[3], outOff + i);
            for (int j = 0; j < 4; j++) {
                continueSum(w[j], shared, counts[j], v, vOff + i, stride, out[j], outOff + i);
            }
        }
    }

    private static void store4(FloatVector a0, FloatVector a1, FloatVector a2, FloatVector a3, float[] out, int off) {
        a0.intoArray(out, off);
        a1.intoArray(out, off + L);
        a2.intoArray(out, off + 2 * L);
        a3.intoArray(out, off + 3 * L);
    }

    /**
     * One query's chains continued over its positions [from, to) past the shared ones: the stored
     * partial sums reloaded (floats, so exactly what the registers held), the same FMAs, stored.
     * (Arrays in, not vectors: a vector passed to a method that C2 does not inline is boxed.)
     */
    private static void continueSum(
            float[] w, int from, int to, float[] v, int vOff, int stride, float[] out, int outOff) {
        if (from >= to) {
            return;
        }
        FloatVector a0 = FloatVector.fromArray(FS, out, outOff);
        FloatVector a1 = FloatVector.fromArray(FS, out, outOff + L);
        FloatVector a2 = FloatVector.fromArray(FS, out, outOff + 2 * L);
        FloatVector a3 = FloatVector.fromArray(FS, out, outOff + 3 * L);
        for (int t = from; t < to; t++) {
            FloatVector c = FloatVector.broadcast(FS, w[t]);
            int b = t * stride + vOff;
            a0 = FloatVector.fromArray(FS, v, b).fma(c, a0);
            a1 = FloatVector.fromArray(FS, v, b + L).fma(c, a1);
            a2 = FloatVector.fromArray(FS, v, b + 2 * L).fma(c, a2);
            a3 = FloatVector.fromArray(FS, v, b + 3 * L).fma(c, a3);
        }
        a0.intoArray(out, outOff);
        a1.intoArray(out, outOff + L);
        a2.intoArray(out, outOff + 2 * L);
        a3.intoArray(out, outOff + 3 * L);
    }
}

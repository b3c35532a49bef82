package dev.qsparse.runtime.kernel;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
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

    private static final VectorSpecies<Float> FS = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> IS = IntVector.SPECIES_PREFERRED;
    /** Lanes of the int and float vectors: 8 with 256-bit vectors, 16 with 512-bit. */
    private static final int L = IS.length();
    private static final VectorSpecies<Short> SS = VectorSpecies.of(short.class, VectorShape.forBitSize(L * 16));
    private static final VectorSpecies<Byte> BS = VectorSpecies.of(byte.class, VectorShape.forBitSize(L * 8));

    VectorBackend() {
        if (L < 8 || FS.length() != L || 16 % L != 0) {
            throw new UnsupportedOperationException("preferred vector width " + IS.vectorBitSize()
                    + " bits is not supported by these kernels (need 256 or 512)");
        }
    }

    @Override
    public String name() {
        return "vector-" + IS.vectorBitSize();
    }

    private static ShortVector shorts(byte[] w, int offset) {
        return (ShortVector) ByteVector.fromArray(BS, w, offset).convertShape(VectorOperators.B2S, SS, 0);
    }

    private static FloatVector floats(byte[] w, int offset) {
        return (FloatVector) ByteVector.fromArray(BS, w, offset).convertShape(VectorOperators.B2F, FS, 0);
    }

    private static IntVector widen(ShortVector s) {
        return (IntVector) s.convertShape(VectorOperators.S2I, IS, 0);
    }

    @Override
    public void f32Rows(float[] w, int wOff, int cols, float[] x, float[] out, int outOff, int rows) {
        int step = 4 * L;
        for (int r = 0; r < rows; r++) {
            int base = wOff + r * cols;
            FloatVector a0 = FloatVector.zero(FS);
            FloatVector a1 = FloatVector.zero(FS);
            FloatVector a2 = FloatVector.zero(FS);
            FloatVector a3 = FloatVector.zero(FS);
            int c = 0;
            for (; c + step <= cols; c += step) {
                a0 = FloatVector.fromArray(FS, w, base + c).fma(FloatVector.fromArray(FS, x, c), a0);
                a1 = FloatVector.fromArray(FS, w, base + c + L).fma(FloatVector.fromArray(FS, x, c + L), a1);
                a2 = FloatVector.fromArray(FS, w, base + c + 2 * L).fma(FloatVector.fromArray(FS, x, c + 2 * L), a2);
                a3 = FloatVector.fromArray(FS, w, base + c + 3 * L).fma(FloatVector.fromArray(FS, x, c + 3 * L), a3);
            }
            for (; c + L <= cols; c += L) {
                a0 = FloatVector.fromArray(FS, w, base + c).fma(FloatVector.fromArray(FS, x, c), a0);
            }
            float sum = a0.add(a1).add(a2.add(a3)).reduceLanes(VectorOperators.ADD);
            for (; c < cols; c++) {
                sum += w[base + c] * x[c];
            }
            out[outOff + r] = sum;
        }
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
                IntVector.fromArray(IS, acc, o).add(widen(shorts(w, b1 + i).mul(x1))).intoArray(acc, o);
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
        return k == 0 ? group.and((short) 3) : group.lanewise(VectorOperators.LSHR, 2 * k).and((short) 3);
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
                        ShortVector s = plane(v1, k).mul(x1).add(plane(v2, k).mul(x2))
                                .add(plane(v3, k).mul(x3)).add(plane(v4, k).mul(x4));
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
                        IntVector.fromArray(IS, acc, o).add(widen(plane(v1, k).mul(x1))).intoArray(acc, o);
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
            FloatVector.fromArray(FS, x, xOff + i).fma(av, FloatVector.fromArray(FS, y, yOff + i)).intoArray(y, yOff + i);
        }
        for (; i < n; i++) {
            y[yOff + i] += a * x[xOff + i];
        }
    }
}

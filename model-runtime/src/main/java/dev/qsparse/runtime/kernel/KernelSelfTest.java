package dev.qsparse.runtime.kernel;

import java.util.Arrays;
import java.util.List;
import java.util.function.Function;

/**
 * Every kernel of {@link KernelBackend}, run once on small fixed inputs, for the start-up check
 * that a backend agrees bit for bit with the scalar reference on this JVM (the float reductions,
 * whose lane order a backend may choose, on inputs where every order is exact): a JDK whose incubator
 * API behaves differently fails here (and the scalar kernels are used) rather than in the middle
 * of a request. One table: a kernel added to the interface gets its row here, and {@code
 * KernelSelfTestTest} checks the table names every method.
 */
final class KernelSelfTest {

    /** One kernel's check: its name and a run that returns everything it wrote. */
    record Check(String kernel, Function<KernelBackend, Object> run) {}

    private static final int N = 64;

    private KernelSelfTest() {}

    static final List<Check> CHECKS = List.of(
            new Check("gelu", k -> {
                // Values whose GELU is exact in any correct order (x, -0 or 0): the kernel's lanes,
                // blend and tail run, while the values in between (within an ulp, not bit for bit,
                // of the scalar form: the vector exp is not Math.exp) are GeluTest's.
                float[] pattern = {0f, 15f, -45f, 100f, -0f, 12.5f, Float.NaN};
                float[] x = new float[N + 3];
                for (int i = 0; i < x.length; i++) {
                    x[i] = pattern[i % pattern.length];
                }
                k.gelu(x, x.length);
                return x;
            }),
            new Check("f32Rows", k -> {
                float[] out = new float[3];
                k.f32Rows(exact(3 * N + 1, 1), 1, N, exact(N, 2), out, 0, 3);
                return out;
            }),
            new Check("bf16Rows", k -> {
                float[] out = new float[3];
                k.bf16Rows(bf16(3 * N, 3), 0, N, exact(N, 4), out, 0, 3);
                return out;
            }),
            new Check("int8Int", k -> {
                int[] acc = new int[N];
                k.int8Int(bytes(2 * N, 37), new int[] {0, N}, new float[] {3, -7}, 2, acc, 0, N);
                return acc;
            }),
            new Check("int8Float", k -> {
                float[] acc = new float[N];
                k.int8Float(bytes(2 * N, 37), new int[] {0, N}, new float[] {0.5f, -1.25f}, 2, acc, 0, N);
                return acc;
            }),
            new Check("ternaryInt", k -> {
                int[] acc = new int[N];
                k.ternaryInt(bytes(N / 2, 29), new int[] {0, N / 4}, new float[] {3, -7}, 2, acc, 0, N);
                return acc;
            }),
            new Check("ternaryFloat", k -> {
                float[] acc = new float[N];
                k.ternaryFloat(bytes(N / 2, 29), new int[] {0, N / 4}, new float[] {0.5f, -1.25f}, 2, acc, 0, N);
                return acc;
            }),
            new Check("f32Gemm", k -> {
                float[][] out = new float[5][6];
                float[][] x = {exact(N, 5), exact(N, 6), exact(N, 7), exact(N, 8), exact(N, 9)};
                k.f32Gemm(exact(5 * N, 10), 0, N, x, 5, out, 1, 5);
                return out;
            }),
            new Check("dot", k -> k.dot(exact(N + 3, 11), 3, exact(N, 12), 0, N)),
            new Check("axpy", k -> {
                float[] y = exact(N + 5, 13);
                k.axpy(0.75f, exact(N, 14), 0, y, 5, N);
                return y;
            }),
            new Check("keyScores", k -> {
                float[] scores = new float[2 * KeyBlocks.POSITIONS];
                k.keyScores(floats(N, 15), 0, floats(2 * KeyBlocks.POSITIONS * N, 16), 0, N, 19, N, 0.125f, scores);
                return Arrays.copyOf(scores, 19);
            }),
            new Check("weightedSum", k -> {
                float[] out = new float[N];
                k.weightedSum(exact(19, 17), 19, exact(19 * N, 18), 0, N, out, 0, N);
                return out;
            }),
            new Check("keyScores4", k -> {
                float[][] scores = new float[4][2 * KeyBlocks.POSITIONS];
                float[][] q = {floats(N, 19), floats(N, 20), floats(N, 21), floats(N, 22)};
                k.keyScores4(q, 0, floats(2 * KeyBlocks.POSITIONS * N, 23), 0, N, 19, N, 0.125f, scores);
                float[][] kept = new float[4][];
                for (int j = 0; j < 4; j++) {
                    kept[j] = Arrays.copyOf(scores[j], 19);
                }
                return kept;
            }),
            new Check("weightedSum4", k -> {
                float[][] out = new float[4][N];
                float[][] w = {exact(19, 24), exact(19, 25), exact(19, 26), exact(19, 27)};
                k.weightedSum4(w, new int[] {16, 17, 18, 19}, exact(19 * N, 28), 0, N, out, 0, N);
                return out;
            }),
            new Check("softmax", k -> {
                float[] x = floats(N + 7, 29);
                k.softmax(x, 2, N + 5);
                return x;
            }),
            new Check("kthLargestMagnitude", k -> {
                float[] x = floats(N, 30);
                float gamma = Sparsifier.absMax(x, N);
                return k.kthLargestMagnitude(x, new float[N], N, N / 3, Float.floatToRawIntBits(gamma));
            }),
            new Check("absMax", k -> k.absMax(floats(N - 1, 31), N - 1)),
            new Check("countNonZero", k -> {
                float[] v = floats(N, 32);
                for (int i = 0; i < N; i += 3) {
                    v[i] = i % 2 == 0 ? 0f : -0f;
                }
                return k.countNonZero(v, N);
            }),
            new Check("ropeRotateHalf", k -> {
                float[] v = floats(2 * N + 44, 36);
                k.ropeRotateHalf(v, 3, 2 * N, floats(N, 37), floats(N, 38)); // a head of 2N
                k.ropeRotateHalf(
                        v, 2 * N + 4, 40, floats(20, 39), floats(20, 40)); // a half that is no vector's multiple
                return v;
            }),
            new Check("keepAtLeast", k -> {
                float[] x = floats(N + 1, 35);
                x[3] = Float.NaN;
                x[7] = -0f;
                float[] out = new float[N + 1];
                int nonZero = k.keepAtLeast(x, N + 1, 0.5f, out);
                int dense = k.keepAtLeast(x, N + 1, 0f, x);
                return new Object[] {out, nonZero, x, dense};
            }),
            new Check("quantizeKept", k -> {
                float[] x = floats(N + 1, 33);
                float[] out = new float[N + 1];
                int nonZero = k.quantizeKept(x, N + 1, 42.5f, 0.5f, out);
                return new Object[] {out, nonZero};
            }));

    /** Throws naming the first kernel whose result differs from the scalar reference's. */
    static void run(KernelBackend v) {
        KernelBackend s = KernelBackends.scalar();
        for (Check c : CHECKS) {
            if (!Arrays.deepEquals(
                    new Object[] {c.run().apply(s)}, new Object[] {c.run().apply(v)})) {
                throw new IllegalStateException(
                        v.name() + " kernels disagree with the scalar reference on this JVM: " + c.kernel());
            }
        }
    }

    /** Deterministic floats in about [-1, 1), a few exact zeros among them. */
    static float[] floats(int n, int seed) {
        float[] x = new float[n];
        long s = seed * 0x9E3779B97F4A7C15L + 1;
        for (int i = 0; i < n; i++) {
            s ^= s << 13;
            s ^= s >>> 7;
            s ^= s << 17;
            x[i] = i % 11 == 5 ? 0f : (float) ((s >>> 40) * 0x1p-23 - 1.0);
        }
        return x;
    }

    /**
     * Multiples of 1/4 in [-2, 2]: every product and sum of a check is exact in float, so the
     * float reductions, whose lane order a backend chooses, must agree to the bit.
     */
    static float[] exact(int n, int seed) {
        float[] x = floats(n, seed);
        for (int i = 0; i < n; i++) {
            x[i] = Math.round(x[i] * 8) / 4f;
        }
        return x;
    }

    private static byte[] bytes(int n, int step) {
        byte[] w = new byte[n];
        for (int i = 0; i < n; i++) {
            w[i] = (byte) ((i * step) % 251 - 125);
        }
        return w;
    }

    private static short[] bf16(int n, int seed) {
        float[] f = exact(n, seed);
        short[] w = new short[n];
        for (int i = 0; i < n; i++) {
            w[i] = (short) (Float.floatToRawIntBits(f[i]) >>> 16);
        }
        return w;
    }
}

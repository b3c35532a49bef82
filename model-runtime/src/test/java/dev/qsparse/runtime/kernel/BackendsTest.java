package dev.qsparse.runtime.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Proxy;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * The one backend finder's grammar, on a discovery that finds what each case says (the optional
 * backends stand in as named proxies: the choice never runs a product).
 */
class BackendsTest {

    private static <T> T named(Class<T> type, String name) {
        return type.cast(Proxy.newProxyInstance(
                type.getClassLoader(),
                new Class<?>[] {type},
                (p, m, a) -> m.getName().equals("name") ? name : null));
    }

    /** A discovery that finds the native backend and/or ND4J. */
    private static Backends.Discovery finding(boolean nativeHere, boolean ndHere) {
        return new Backends.Discovery() {
            @Override
            Optional<BatchBackend> nativeBackend() {
                nativeProblem = "no AVX-512 VNNI on this CPU";
                return nativeHere ? Optional.of(named(BatchBackend.class, "native-avx512-vnni")) : Optional.empty();
            }

            @Override
            Optional<DenseBatchBackend> nd4j() {
                return ndHere ? Optional.of(named(DenseBatchBackend.class, "nd4j")) : Optional.empty();
            }

            @Override
            KernelBackend javaKernels() {
                return KernelBackends.scalar();
            }
        };
    }

    private static Backends.Choice choose(boolean nativeHere, boolean ndHere, String... keyValues) {
        Map<String, String> p = new HashMap<>();
        for (int i = 0; i < keyValues.length; i += 2) {
            p.put(keyValues[i], keyValues[i + 1]);
        }
        return Backends.choose(p::get, finding(nativeHere, ndHere));
    }

    private static String refusal(boolean nativeHere, boolean ndHere, String... keyValues) {
        return assertThrows(RuntimeException.class, () -> choose(nativeHere, ndHere, keyValues))
                .getMessage();
    }

    @Test
    void autoTakesWhatRunsHere() {
        Backends.Choice all = choose(true, true);
        assertEquals("native-avx512-vnni+nd4j", all.batchName());
        assertFalse(all.denseAlways(), "found, not named: ND4J serves the shapes where it measures faster");
        Backends.Choice none = choose(false, false);
        assertTrue(none.batch().isEmpty() && none.dense().isEmpty());
        assertEquals(none.kernels().name(), none.batchName());
    }

    @Test
    void everyNamedBackendIsExactlyThatOrFailsNamingTheProperty() {
        assertEquals("nd4j", choose(true, true, "qsparse.backend", "nd4j").batchName());
        assertTrue(choose(true, true, "qsparse.backend", "nd4j").denseAlways());
        assertEquals(
                "native-avx512-vnni",
                choose(true, true, "qsparse.backend", " Native ").batchName());
        Backends.Choice java = choose(true, true, "qsparse.backend", "java");
        assertTrue(java.batch().isEmpty() && java.dense().isEmpty());
        assertEquals("scalar", choose(true, true, "qsparse.backend", "scalar").describe());
        assertTrue(refusal(false, true, "qsparse.backend", "native").contains("no AVX-512 VNNI"));
        assertTrue(refusal(true, false, "qsparse.backend", "nd4j").contains("qsparse.backend=nd4j"));
        String bad = refusal(true, true, "qsparse.backend", "x".repeat(10_000));
        assertTrue(bad.contains("qsparse.backend must be one of") && bad.length() < 200, bad);
    }

    @Test
    void theOlderPropertiesAreAliases() {
        // The value one of the two old finders documented, which made model load fail.
        assertEquals("nd4j", choose(true, true, "qsparse.batch.backend", "nd4j").batchName());
        assertTrue(choose(true, true, "qsparse.batch.backend", "none").batch().isEmpty());
        assertTrue(choose(true, true, "qsparse.integer.backend", "none").dense().isEmpty());
        assertEquals("scalar", choose(true, true, "qsparse.kernels", "scalar").describe());
        assertEquals(
                "native-avx512-vnni+nd4j",
                choose(true, true, "qsparse.kernels", "vector").batchName());
        assertTrue(refusal(true, true, "qsparse.backend", "native", "qsparse.batch.backend", "none")
                .contains("contradicts qsparse.backend=native"));
        assertTrue(refusal(true, true, "qsparse.batch.backend", "fast").contains("qsparse.batch.backend must be"));
    }

    @Test
    void theNativeLevelIsRequiredWhenNamed() {
        assertEquals(
                "native-avx512-vnni",
                choose(true, false, "qsparse.native.level", "avx512-vnni").batchName());
        assertTrue(refusal(false, false, "qsparse.native.level", "avx512-vnni").contains("qsparse.native.level"));
        assertTrue(refusal(true, false, "qsparse.native.level", "avx512-vnni", "qsparse.backend", "java")
                .contains("qsparse.backend is java"));
        assertTrue(refusal(true, false, "qsparse.native.level", "sse2").contains("qsparse.native.level must be"));
    }
}

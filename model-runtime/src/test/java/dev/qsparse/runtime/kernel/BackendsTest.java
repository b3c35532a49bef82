package dev.qsparse.runtime.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Proxy;
import java.util.HashMap;
import java.util.List;
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

    /** A discovery that finds the native backend (at every level) and/or ND4J. */
    private static Backends.Discovery finding(boolean nativeHere, boolean ndHere) {
        return finding(nativeHere ? List.of("avx512-vnni", "avx-vnni", "avx2") : List.of(), ndHere);
    }

    /** A discovery whose native backend runs {@code levels} (best first) and that finds ND4J or not. */
    private static Backends.Discovery finding(List<String> levels, boolean ndHere) {
        return new Backends.Discovery() {
            @Override
            Optional<BatchBackend> nativeBackend(String level) {
                nativeProblem = "this CPU runs only " + levels;
                if (levels.isEmpty() || !(level.equals("auto") || levels.contains(level))) {
                    return Optional.empty();
                }
                String at = level.equals("auto") ? levels.get(0) : level;
                return Optional.of(named(BatchBackend.class, "native-" + at));
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

    private static Backends.Choice chooseOn(List<String> levels, String... keyValues) {
        Map<String, String> p = new HashMap<>();
        for (int i = 0; i < keyValues.length; i += 2) {
            p.put(keyValues[i], keyValues[i + 1]);
        }
        return Backends.choose(p::get, finding(levels, false));
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
        assertTrue(refusal(false, true, "qsparse.backend", "native").contains("this CPU runs only []"));
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

    @Test
    void aLowerLevelCanBeForcedAndAHigherOneIsRefusedNamingWhatRuns() {
        List<String> avx512 = List.of("avx512-vnni", "avx-vnni", "avx2");
        assertEquals("native-avx512-vnni", chooseOn(avx512).batchName());
        assertEquals(
                "native-avx2", chooseOn(avx512, "qsparse.native.level", "avx2").batchName());
        assertEquals(
                "native-avx-vnni",
                chooseOn(avx512, "qsparse.native.level", "AVX-VNNI").batchName());
        // A Zen 3 host: auto takes AVX2, and AVX-512 VNNI asked for is refused with what runs here.
        List<String> zen3 = List.of("avx2");
        assertEquals("native-avx2", chooseOn(zen3).batchName());
        String refused = assertThrows(
                        IllegalStateException.class, () -> chooseOn(zen3, "qsparse.native.level", "avx512-vnni"))
                .getMessage();
        assertTrue(
                refused.contains("qsparse.native.level=avx512-vnni") && refused.contains("runs only [avx2]"), refused);
        // "java" is the level with no native code: the Vector API kernels alone.
        Backends.Choice java = chooseOn(avx512, "qsparse.native.level", "java");
        assertTrue(java.batch().isEmpty());
        assertTrue(assertThrows(
                        IllegalArgumentException.class,
                        () -> chooseOn(avx512, "qsparse.native.level", "java", "qsparse.backend", "native"))
                .getMessage()
                .contains("contradicts qsparse.backend=native"));
    }
}

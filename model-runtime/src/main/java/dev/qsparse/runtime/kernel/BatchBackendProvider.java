package dev.qsparse.runtime.kernel;

import java.util.List;

/**
 * An optional native module, found with {@link java.util.ServiceLoader}: it names the instruction
 * levels this CPU can run, best first, and opens a backend at one of them ({@code
 * qsparse.native.level} forces one, lower levels included, so that every path can be tested on a
 * machine that has the highest).
 */
public interface BatchBackendProvider {

    /** Every level this build has, best first, e.g. "avx512-vnni", "avx-vnni", "avx2". */
    List<String> levels();

    /**
     * The levels this CPU can run, best first; empty when none.
     *
     * @throws UnsupportedOperationException with the reason when the library cannot load here
     */
    List<String> runnableLevels();

    /** A backend at {@code level}, one of {@link #runnableLevels()}. */
    BatchBackend open(String level);
}

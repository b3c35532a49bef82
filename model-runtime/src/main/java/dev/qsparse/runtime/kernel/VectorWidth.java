package dev.qsparse.runtime.kernel;

import java.util.Locale;
import java.util.function.UnaryOperator;

/**
 * The width of the Vector API kernels, fixed per JVM at class initialisation (a species held in a
 * {@code static final} stays intrinsified). {@code qsparse.vector.bits} = {@code auto} (default: the
 * CPU's preferred width), {@code 128}, {@code 256} or {@code 512}: so that every width's kernels
 * can be tested on any machine (a width wider than the CPU's runs in software, correct and slow),
 * as Lucene's {@code tests.vectorsize} does.
 */
public final class VectorWidth {

    public static final String PROPERTY = "qsparse.vector.bits";

    private VectorWidth() {}

    /** The width asked for: 0 for the CPU's preferred one, else 128, 256 or 512. */
    public static int requested(UnaryOperator<String> properties) {
        String v = properties.apply(PROPERTY);
        String s = v == null ? "auto" : v.trim().toLowerCase(Locale.ROOT);
        return switch (s) {
            case "auto" -> 0;
            case "128", "256", "512" -> Integer.parseInt(s);
            default ->
                throw new IllegalArgumentException(PROPERTY + " must be auto, 128, 256 or 512; got '"
                        + (s.length() <= 40 ? s : s.substring(0, 40) + "...") + "'");
        };
    }

    /** {@link #requested} from the system properties. */
    static int requested() {
        return requested(System::getProperty);
    }
}

package dev.qsparse.jobs;

import java.util.HashSet;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;

/**
 * A command-line error as the job reports it: picocli's message with every value from the command
 * line taken out, and without picocli's exception as the cause. Picocli quotes the arguments it
 * could not use ({@code Unknown options: '--kafka-propery', 'sasl.jaas.config=... password="..."'}),
 * and {@code flink run} prints and logs the whole exception chain, so a mistyped option would
 * otherwise carry a secret into every log. Option names stay: they say what was wrong.
 */
final class UsageError {

    static final String HIDDEN = "<value not shown>";

    /** A long option's name, as a user could type it (never a value, which would not start with "--"). */
    private static final Pattern OPTION_NAME = Pattern.compile("--[A-Za-z][A-Za-z0-9-]*|-[A-Za-z]");

    private static final Pattern QUOTED = Pattern.compile("'([^']*)'");

    private UsageError() {}

    /** The exception {@code main} throws for {@code e}: its message without values, then the usage. */
    static IllegalArgumentException of(CommandLine.ParameterException e, String[] args, String usage) {
        return new IllegalArgumentException(withoutValues(e.getMessage(), args) + System.lineSeparator() + usage);
    }

    /** {@code message} with every argument that is not an option name replaced by {@value #HIDDEN}. */
    static String withoutValues(String message, String[] args) {
        String out = message == null ? "" : message;
        Set<String> seen = new HashSet<>();
        for (String arg : args) {
            if (!OPTION_NAME.matcher(arg).matches() && !arg.isEmpty() && seen.add(arg)) {
                int eq = arg.indexOf('=');
                String name = eq > 0 ? arg.substring(0, eq) : "";
                String hidden = OPTION_NAME.matcher(name).matches() ? name + "=" + HIDDEN : HIDDEN;
                out = out.replace("'" + arg + "'", "'" + hidden + "'");
                if (arg.length() >= 4) {
                    out = out.replace(arg, hidden);
                }
            }
        }
        // Anything else quoted that is not an option name (picocli may quote part of an argument).
        Matcher m = QUOTED.matcher(out);
        StringBuilder b = new StringBuilder();
        while (m.find()) {
            String quoted = m.group(1);
            String name =
                    quoted.endsWith("=" + HIDDEN) ? quoted.substring(0, quoted.length() - HIDDEN.length() - 1) : quoted;
            boolean keep = quoted.equals(HIDDEN) || OPTION_NAME.matcher(name).matches();
            m.appendReplacement(b, Matcher.quoteReplacement(keep ? m.group() : "'" + HIDDEN + "'"));
        }
        m.appendTail(b);
        return b.toString();
    }
}

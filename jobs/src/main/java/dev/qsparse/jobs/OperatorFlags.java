package dev.qsparse.jobs;

import dev.qsparse.flink.QSparseOptions;
import dev.qsparse.runtime.inference.Task;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.flink.configuration.ConfigOption;
import org.apache.flink.configuration.description.Formatter;
import org.apache.flink.configuration.description.TextElement;
import org.apache.flink.util.TimeUtils;
import picocli.CommandLine;

/**
 * The operator options that have their own command-line flag, and the one place their defaults
 * and help come from: {@link QSparseOptions} (key, default, description). The job's and the demo's
 * flags carry no default of their own: this class is their picocli default provider, and
 * {@link #help()} lists every {@code qsparse.*} option with its default and description for
 * {@code --help}.
 */
public final class OperatorFlags implements CommandLine.IDefaultValueProvider {

    /** Flag -> operator option. */
    public static final Map<String, ConfigOption<?>> FLAGS = Collections.unmodifiableMap(flags());

    private static Map<String, ConfigOption<?>> flags() {
        Map<String, ConfigOption<?>> m = new LinkedHashMap<>();
        m.put("--model", QSparseOptions.MODEL_PATH);
        m.put("--mode", QSparseOptions.MODE);
        m.put("--max-batch-size", QSparseOptions.BATCH_MAX_SIZE);
        m.put("--max-wait", QSparseOptions.BATCH_MAX_WAIT);
        m.put("--threads", QSparseOptions.THREADS);
        return m;
    }

    /**
     * The default of an option whose longest name is in {@link #FLAGS}, as a command-line string;
     * null for every other option (picocli then uses the annotation's default, if any).
     */
    @Override
    public String defaultValue(CommandLine.Model.ArgSpec arg) {
        if (!arg.isOption()) {
            return null;
        }
        ConfigOption<?> option = FLAGS.get(((CommandLine.Model.OptionSpec) arg).longestName());
        return option == null || !option.hasDefaultValue() ? null : flagText(option.defaultValue());
    }

    /** A value as the job's and the demo's flags spell it (durations in ISO-8601, e.g. PT0.01S). */
    public static String flagText(Object value) {
        return value instanceof Duration d ? d.toString() : text(value);
    }

    /** A value as the Flink configuration spells it (durations like "10 ms"). */
    public static String text(Object value) {
        if (value instanceof Task t) {
            return t.wireName();
        }
        if (value instanceof Duration d) {
            return TimeUtils.formatWithHighestUnit(d);
        }
        if (value instanceof List<?> list) {
            List<String> parts = new ArrayList<>();
            list.forEach(v -> parts.add(String.valueOf(v)));
            return String.join(";", parts);
        }
        return String.valueOf(value);
    }

    /** Every {@code qsparse.*} option with its default and description, for a usage footer. */
    public static List<String> help() {
        List<String> lines = new ArrayList<>();
        lines.add("");
        lines.add(
                "Operator options (qsparse.*), from the Flink configuration (flink run -Dqsparse.KEY=VALUE, config.yaml)"
                        + " or --set qsparse.KEY=VALUE; the flags above override them:");
        for (ConfigOption<?> option : QSparseOptions.all()) {
            String def = option.hasDefaultValue() ? text(option.defaultValue()) : "";
            lines.add("  " + option.key() + " (default: " + (def.isEmpty() ? "none" : def) + ")");
            lines.addAll(wrap(new PlainText().format(option.description()), "      ", 116));
        }
        // picocli formats footer lines with String.format.
        lines.replaceAll(l -> l.replace("%", "%%"));
        return lines;
    }

    private static List<String> wrap(String text, String indent, int width) {
        List<String> out = new ArrayList<>();
        StringBuilder line = new StringBuilder(indent);
        for (String word : text.split(" ")) {
            if (line.length() > indent.length() && line.length() + 1 + word.length() > width) {
                out.add(line.toString());
                line = new StringBuilder(indent);
            }
            if (line.length() > indent.length()) {
                line.append(' ');
            }
            line.append(word);
        }
        out.add(line.toString());
        return out;
    }

    /** Flink's option descriptions as plain text (Flink ships only an HTML formatter). */
    static final class PlainText extends Formatter {
        @Override
        protected void formatLink(StringBuilder state, String link, String description) {
            state.append(description).append(" (").append(link).append(')');
        }

        @Override
        protected void formatLineBreak(StringBuilder state) {
            state.append(' ');
        }

        @Override
        protected void formatText(
                StringBuilder state, String format, String[] elements, EnumSet<TextElement.TextStyle> styles) {
            state.append(elements.length == 0 ? format : String.format(format, (Object[]) elements));
        }

        @Override
        protected void formatList(StringBuilder state, String[] entries) {
            state.append(String.join("; ", entries));
        }

        @Override
        protected Formatter newInstance() {
            return new PlainText();
        }
    }
}

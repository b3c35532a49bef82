package dev.qsparse.jobs;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.Appender;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.appender.WriterAppender;
import org.apache.logging.log4j.core.config.Configuration;
import org.apache.logging.log4j.core.config.LoggerConfig;
import org.apache.logging.log4j.core.layout.PatternLayout;

/**
 * Every log event of this JVM at INFO and above (Flink's default level), with stack traces, while
 * open; the console keeps its own level. For tests that grep logs for what must not be there.
 */
public final class CapturedLogs implements AutoCloseable {

    private final StringWriter text = new StringWriter();
    private final LoggerContext context = (LoggerContext) LogManager.getContext(false);
    private final LoggerConfig root = context.getConfiguration().getRootLogger();
    private final Level rootLevel = root.getLevel();
    private final Appender appender;

    public CapturedLogs() {
        Configuration config = context.getConfiguration();
        appender = WriterAppender.newBuilder()
                .setName("captured-" + System.nanoTime())
                .setTarget(text)
                .setLayout(PatternLayout.newBuilder()
                        .withPattern("%p %c - %m%n")
                        .withConfiguration(config)
                        .build())
                .build();
        appender.start();
        // The console's appender refs keep the configured level; the root lets INFO through to ours.
        for (String name :
                root.getAppenderRefs().stream().map(ref -> ref.getRef()).toList()) {
            Appender console = config.getAppender(name);
            root.removeAppender(name);
            root.addAppender(console, rootLevel, null);
        }
        root.addAppender(appender, Level.INFO, null);
        root.setLevel(Level.INFO);
        context.updateLoggers();
    }

    /** What was logged so far. */
    public String text() {
        synchronized (text) {
            return text.toString();
        }
    }

    @Override
    public void close() {
        root.removeAppender(appender.getName());
        root.setLevel(rootLevel);
        context.updateLoggers();
        appender.stop();
    }

    /** {@code t} as a log or {@code flink run} shows it: messages of the whole chain and stack traces. */
    public static String printed(Throwable t) {
        StringWriter w = new StringWriter();
        t.printStackTrace(new PrintWriter(w));
        return w.toString();
    }
}

package dev.qsparse.sql;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.LogEvent;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.appender.AbstractAppender;
import org.apache.logging.log4j.core.config.Configuration;
import org.apache.logging.log4j.core.config.LoggerConfig;
import org.apache.logging.log4j.core.config.Property;

/**
 * The WARN and ERROR messages one class logs while it is open, through the real logging backend
 * (SLF4J to Log4j 2, as in a Flink distribution): an appender added to that class's logger.
 */
final class CapturedLog implements AutoCloseable {

    private final List<String> messages = new CopyOnWriteArrayList<>();
    private final String logger;
    private final AbstractAppender appender;

    private CapturedLog(Class<?> source) {
        this.logger = source.getName();
        this.appender = new AbstractAppender("captured-" + logger, null, null, true, Property.EMPTY_ARRAY) {
            @Override
            public void append(LogEvent event) {
                messages.add(event.getMessage().getFormattedMessage());
            }
        };
        appender.start();
        LoggerContext context = (LoggerContext) LogManager.getContext(false);
        Configuration config = context.getConfiguration();
        LoggerConfig loggerConfig = new LoggerConfig(logger, Level.WARN, true);
        loggerConfig.addAppender(appender, Level.WARN, null);
        config.addLogger(logger, loggerConfig);
        context.updateLoggers();
    }

    static CapturedLog of(Class<?> source) {
        return new CapturedLog(source);
    }

    /** What was logged so far, in order. */
    List<String> messages() {
        return List.copyOf(messages);
    }

    @Override
    public void close() {
        LoggerContext context = (LoggerContext) LogManager.getContext(false);
        context.getConfiguration().removeLogger(logger);
        context.updateLoggers();
        appender.stop();
    }
}

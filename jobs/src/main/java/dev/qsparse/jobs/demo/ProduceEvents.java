package dev.qsparse.jobs.demo;

import dev.qsparse.jobs.kafka.EventProducers;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Sends demo events ({@link DemoEvents}: held-out texts as JSON, ids {@code evt-00000}, ...) to a
 * topic, all at once, for trying a deployed job ({@code docker/local/cluster.sh produce}).
 *
 * <pre>
 * java -cp ... dev.qsparse.jobs.demo.ProduceEvents BOOTSTRAP TOPIC COUNT [EVENTS_FILE [MALFORMED]]
 * </pre>
 */
public final class ProduceEvents {

    private ProduceEvents() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 3 || args.length > 5) {
            System.err.println("usage: ProduceEvents BOOTSTRAP TOPIC COUNT [EVENTS_FILE [MALFORMED]]");
            System.exit(2);
        }
        Path file = Path.of(args.length > 3 ? args[3] : "models/data/events.txt");
        int malformed = args.length > 4 ? Integer.parseInt(args[4]) : 0;
        List<DemoEvents.Event> events =
                DemoEvents.build(DemoEvents.readTexts(file), Integer.parseInt(args[2]), malformed, null, 7L);
        Properties p = EventProducers.properties(args[0]);
        try (KafkaProducer<byte[], byte[]> producer =
                new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
            List<java.util.concurrent.Future<?>> sent = new java.util.ArrayList<>();
            for (DemoEvents.Event e : events) {
                sent.add(producer.send(new ProducerRecord<>(args[1], e.payload())));
            }
            for (java.util.concurrent.Future<?> f : sent) {
                f.get(); // a failed send fails the command
            }
        }
        System.out.println("sent " + events.size() + " events to " + args[1] + " on " + args[0]);
    }
}

package dev.qsparse.e2e.cluster;

import dev.qsparse.jobs.kafka.EmbeddedKafkaBroker;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Ports for the processes {@code cluster.sh} starts, chosen below the kernel's ephemeral range.
 * A port the kernel handed out for a probe socket can be handed out again after the probe closes:
 * to a port-0 bind or an outgoing connection of a process the script starts before the one meant to
 * bind it (the broker, the TaskManagers, the JobManager's own blob server), which then fails to
 * start. Ports outside the ephemeral range are never handed out that way.
 */
final class ClusterPorts {

    private static final Random RANDOM = new Random();
    private static final Set<Integer> CHOSEN = ConcurrentHashMap.newKeySet();
    /** How far below the ephemeral range to look: room for many runs without repeats. */
    private static final int SPAN = 12_000;

    private ClusterPorts() {}

    /** A port free now, below the ephemeral range, and not returned before in this JVM. */
    static int free(String what) throws IOException {
        int ephemeralLow = ephemeralRangeStart();
        int low = Math.max(1024, ephemeralLow - SPAN);
        for (int attempt = 0; attempt < 200; attempt++) {
            int port = low + RANDOM.nextInt(ephemeralLow - low);
            if (!CHOSEN.add(port)) {
                continue;
            }
            try {
                return EmbeddedKafkaBroker.choosePort(port, what);
            } catch (IOException taken) {
                // Held by another process: try another.
            }
        }
        throw new IOException("no free port for " + what + " in " + low + "-" + (ephemeralLow - 1));
    }

    /** The first port of /proc/sys/net/ipv4/ip_local_port_range (Linux's default 32768 otherwise). */
    private static int ephemeralRangeStart() {
        try {
            String range = Files.readString(Path.of("/proc/sys/net/ipv4/ip_local_port_range"))
                    .strip();
            int low = Integer.parseInt(range.split("\\s+")[0]);
            return low > 2048 ? low : 32768;
        } catch (IOException | RuntimeException e) {
            return 32768;
        }
    }
}

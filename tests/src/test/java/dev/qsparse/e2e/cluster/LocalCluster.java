package dev.qsparse.e2e.cluster;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Drives {@code docker/local/cluster.sh} from a test: the script starts the processes (Kafka
 * broker, JobManager, TaskManagers) and keeps their PIDs in its work directory, which this class
 * reads to signal them and to look into {@code /proc}. Everything it started is stopped by
 * {@link #close()}, and by a JVM shutdown hook should the test JVM itself be stopped.
 */
final class LocalCluster implements AutoCloseable {

    static final Path ROOT = Path.of("..").toAbsolutePath().normalize();
    static final Path SCRIPT = ROOT.resolve("docker/local/cluster.sh");

    private static final ObjectMapper JSON = new ObjectMapper();

    final Path work;
    final int kafkaPort;
    final int restPort;
    private final Map<String, String> env = new HashMap<>();
    private final Path scriptLog;
    private final HttpClient http =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final Thread shutdownHook = new Thread(this::killAll, "local-cluster-kill");

    LocalCluster(Path work, String mvn, int kafkaPort, int controllerPort, int rpcPort, int restPort)
            throws IOException {
        this.work = work.toAbsolutePath().normalize();
        this.kafkaPort = kafkaPort;
        this.restPort = restPort;
        Files.createDirectories(this.work);
        this.scriptLog = this.work.resolve("cluster-sh.log");
        env.put("QSPARSE_CLUSTER_WORK", this.work.toString());
        env.put("KAFKA_PORT", String.valueOf(kafkaPort));
        env.put("KAFKA_CONTROLLER_PORT", String.valueOf(controllerPort));
        env.put("FLINK_RPC_PORT", String.valueOf(rpcPort));
        env.put("FLINK_REST_PORT", String.valueOf(restPort));
        env.put("MVN", mvn);
        env.put("STOP_TIMEOUT", "20");
        Runtime.getRuntime().addShutdownHook(shutdownHook);
    }

    /** The port {@code cluster.sh sql-gateway} binds the SQL gateway's REST API to. */
    void sqlGatewayPort(int port) {
        env.put("SQL_GATEWAY_PORT", String.valueOf(port));
    }

    String bootstrapServers() {
        return "127.0.0.1:" + kafkaPort;
    }

    /** Runs {@code cluster.sh ARGS}, returns its stdout; its stderr goes to cluster-sh.log. */
    String script(Duration timeout, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("bash", SCRIPT.toString()));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command)
                .directory(ROOT.toFile())
                .redirectError(ProcessBuilder.Redirect.appendTo(scriptLog.toFile()));
        pb.environment().putAll(env);
        Process p = pb.start();
        p.getOutputStream().close();
        // Output is a job id at most: reading it after exit cannot block the script.
        if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException("cluster.sh " + String.join(" ", args) + " did not finish within " + timeout
                    + "; see " + scriptLog);
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        if (p.exitValue() != 0) {
            throw new IllegalStateException("cluster.sh " + String.join(" ", args) + " failed (exit " + p.exitValue()
                    + "):\n" + tail(scriptLog, 25));
        }
        return out;
    }

    /** PID of a process the script started ("kafka", "jobmanager", "taskmanager-N"). */
    long pid(String name) throws IOException {
        return Long.parseLong(
                Files.readString(work.resolve("pids/" + name + ".pid")).strip());
    }

    /** GET on the JobManager's REST API. */
    JsonNode rest(String path) throws IOException, InterruptedException {
        HttpResponse<String> r = http.send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + restPort + path))
                        .timeout(Duration.ofSeconds(10))
                        .GET()
                        .build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) {
            throw new IOException("GET " + path + ": HTTP " + r.statusCode() + " " + r.body());
        }
        return JSON.readTree(r.body());
    }

    void cancel(String jobId) throws IOException, InterruptedException {
        http.send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + restPort + "/jobs/" + jobId + "?mode=cancel"))
                        .timeout(Duration.ofSeconds(10))
                        .method("PATCH", HttpRequest.BodyPublishers.noBody())
                        .build(),
                HttpResponse.BodyHandlers.discarding());
    }

    /** Lines of /proc/PID/maps naming {@code fileName}: one per mapping of that file. */
    static long mappings(long pid, String fileName) throws IOException {
        try (Stream<String> lines = Files.lines(Path.of("/proc/" + pid + "/maps"))) {
            return lines.filter(l -> l.endsWith("/" + fileName)).count();
        }
    }

    /** Stops everything with the script (jobs cancelled, SIGTERM, wait), then kills what is left. */
    @Override
    public void close() {
        try {
            script(Duration.ofMinutes(2), "stop");
        } catch (Exception e) {
            System.err.println("cluster.sh stop failed: " + e.getMessage());
        } finally {
            killAll();
            try {
                Runtime.getRuntime().removeShutdownHook(shutdownHook);
            } catch (IllegalStateException ignored) {
                // The JVM is already shutting down.
            }
        }
    }

    /** SIGKILL to every process whose PID file is still there and that carries this work dir's marker. */
    private void killAll() {
        Path pids = work.resolve("pids");
        if (!Files.isDirectory(pids)) {
            return;
        }
        try (Stream<Path> files = Files.list(pids)) {
            for (Path f : files.toList()) {
                OptionalLong pid = readPid(f);
                if (pid.isEmpty()) {
                    continue;
                }
                Optional<ProcessHandle> h = ProcessHandle.of(pid.getAsLong());
                if (h.isPresent()
                        && h.get()
                                .info()
                                .arguments()
                                .map(a -> String.join(" ", a))
                                .orElse("")
                                .contains("-Dqsparse.cluster.work=" + work)) {
                    h.get().destroyForcibly();
                    h.get().onExit().get(10, TimeUnit.SECONDS);
                }
            }
        } catch (Exception e) {
            System.err.println("could not kill the cluster's processes: " + e);
        }
    }

    private static OptionalLong readPid(Path f) {
        try {
            return OptionalLong.of(Long.parseLong(Files.readString(f).strip()));
        } catch (IOException | NumberFormatException e) {
            return OptionalLong.empty();
        }
    }

    static String tail(Path file, int lines) {
        try {
            List<String> all = Files.readAllLines(file);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException e) {
            return "(" + file + " unreadable: " + e.getMessage() + ")";
        }
    }
}

package dev.qsparse.jobs.demo;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The demo's web UI as a browser reaches it: a proxy in front of Flink's REST endpoint (which
 * listens on loopback only) that forwards reads and nothing else. Flink's {@code web.cancel.enable}
 * only hides the UI's cancel button: the REST API still cancels a job on a plain
 * {@code GET /jobs/ID/yarn-cancel}, which any web page can make a browser send, and CORS cannot
 * stop a request that needs no preflight. So here:
 *
 * <ul>
 *   <li>only GET and HEAD pass (405 otherwise: no upload, run, cancel, stop, savepoint, rescale,
 *       cluster shutdown);
 *   <li>the GET endpoints that act ({@code yarn-cancel}, {@code yarn-stop}) are refused (403);
 *   <li>a request with an {@code Origin} other than the UI's own is refused (403), and every
 *       answer names only that origin in {@code Access-Control-Allow-Origin}.
 * </ul>
 */
final class ReadOnlyWebUi implements AutoCloseable {

    private static final List<String> FORWARDED_HEADERS =
            List.of("Content-Type", "Cache-Control", "Last-Modified", "Expires", "ETag");

    private final HttpServer server;
    private final ExecutorService threads;
    private final HttpClient client;
    private final URI flinkRest;
    private final String origin;

    private ReadOnlyWebUi(HttpServer server, URI flinkRest, String origin) {
        this.server = server;
        this.flinkRest = flinkRest;
        this.origin = origin;
        this.threads = Executors.newFixedThreadPool(4, r -> {
            Thread t = new Thread(r, "qsparse-demo-web-ui");
            t.setDaemon(true);
            return t;
        });
        this.client =
                HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
        server.setExecutor(threads);
        server.createContext("/", this::handle);
    }

    /**
     * Serves {@code bindAddress:port}, forwarding reads to {@code flinkRest}; {@code origin} is the
     * UI's own URL (scheme, host and port), the only origin it answers.
     */
    static ReadOnlyWebUi start(String bindAddress, int port, URI flinkRest, String origin) throws IOException {
        ReadOnlyWebUi ui =
                new ReadOnlyWebUi(HttpServer.create(new InetSocketAddress(bindAddress, port), 0), flinkRest, origin);
        ui.server.start();
        return ui;
    }

    /** The UI's URL: its own origin. */
    String url() {
        return origin;
    }

    private void handle(HttpExchange exchange) throws IOException {
        try (exchange) {
            exchange.getResponseHeaders().set("Access-Control-Allow-Origin", origin);
            String method = exchange.getRequestMethod();
            String path = exchange.getRequestURI().getPath().toLowerCase(Locale.ROOT);
            String from = exchange.getRequestHeaders().getFirst("Origin");
            if (!method.equals("GET") && !method.equals("HEAD")) {
                refuse(exchange, 405, "the demo's web UI is read-only");
            } else if (from != null && !from.equals(origin)) {
                refuse(exchange, 403, "requests from other origins are refused");
            } else if (path.contains("/yarn-")) {
                refuse(exchange, 403, "the demo's web UI cannot stop or cancel jobs");
            } else {
                forward(exchange, method);
            }
        }
    }

    private void forward(HttpExchange exchange, String method) throws IOException {
        String query = exchange.getRequestURI().getRawQuery();
        URI target = flinkRest.resolve(exchange.getRequestURI().getRawPath() + (query == null ? "" : "?" + query));
        HttpResponse<byte[]> response;
        try {
            response = client.send(
                    HttpRequest.newBuilder(target)
                            .method(method, HttpRequest.BodyPublishers.noBody())
                            .timeout(Duration.ofSeconds(30))
                            .build(),
                    HttpResponse.BodyHandlers.ofByteArray());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            refuse(exchange, 503, "interrupted");
            return;
        } catch (IOException e) {
            refuse(exchange, 502, "Flink's REST endpoint did not answer");
            return;
        }
        for (String name : FORWARDED_HEADERS) {
            response.headers()
                    .firstValue(name)
                    .ifPresent(v -> exchange.getResponseHeaders().set(name, v));
        }
        byte[] body = method.equals("HEAD") ? new byte[0] : response.body();
        exchange.sendResponseHeaders(response.statusCode(), body.length == 0 ? -1 : body.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
        }
    }

    private static void refuse(HttpExchange exchange, int status, String why) throws IOException {
        byte[] body = ("{\"errors\":[\"" + why + "\"]}").getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.sendResponseHeaders(status, body.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
        }
    }

    @Override
    public void close() {
        server.stop(0);
        threads.shutdownNow();
    }
}

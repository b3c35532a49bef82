package dev.qsparse.jobs.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qsparse.jobs.kafka.EmbeddedKafkaBroker;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.apache.flink.api.common.JobStatus;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.core.execution.JobClient;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.sink.v2.DiscardingSink;
import org.junit.jupiter.api.Test;

/**
 * D1: the demo's web UI, configured as the demo configures it, on a running local cluster with a
 * running job. A request from another origin (here: {@code curl -H 'Origin: http://evil.example'},
 * which is what a web page's plain GET or form POST amounts to) cannot cancel the job or upload a
 * jar (405, 403), reading from another origin is refused, CORS names only the UI's own origin,
 * and the UI still works for reading.
 */
class DemoWebUiTest {

    private static final String EVIL = "http://evil.example";

    @Test
    void theDemosWebUiCannotCancelOrSubmitAndAnswersOnlyItsOwnOrigin() throws Exception {
        int uiPort = EmbeddedKafkaBroker.choosePort(0, "web UI");
        Configuration conf = EmbeddedDemo.webUiConfiguration("127.0.0.1", uiPort);
        String ui = "http://127.0.0.1:" + uiPort;
        String rest = EmbeddedDemo.webUiUrl(conf);
        assertNotEquals(ui, rest);
        StreamExecutionEnvironment env = StreamExecutionEnvironment.createLocalEnvironmentWithWebUI(conf);
        env.setParallelism(1);
        env.fromSequence(0, Long.MAX_VALUE)
                .map(i -> {
                    Thread.sleep(10);
                    return i;
                })
                .sinkTo(new DiscardingSink<>());
        JobClient job = env.executeAsync("demo web UI test");
        try (ReadOnlyWebUi webUi = EmbeddedDemo.serveWebUi(conf, "127.0.0.1", uiPort)) {
            assertEquals(ui, webUi.url());
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
            while (job.getJobStatus().get() != JobStatus.RUNNING) {
                assertTrue(System.nanoTime() < deadline, "the job did not start");
                Thread.sleep(50);
            }
            HttpClient http = HttpClient.newHttpClient();
            String jobUrl = ui + "/jobs/" + job.getJobID();
            for (String origin : new String[] {EVIL, null}) {
                // The repro (a GET: 202 and the job cancelled, before), with and without
                // a foreign Origin (a web page; curl on this machine).
                assertEquals(403, get(http, jobUrl + "/yarn-cancel", origin).statusCode());
                assertEquals(403, get(http, jobUrl + "/YARN-stop", origin).statusCode());
                assertEquals(
                        405,
                        send(http, jobUrl + "?mode=cancel", "PATCH", origin).statusCode());
                assertEquals(405, send(http, jobUrl + "/stop", "POST", origin).statusCode());
                assertEquals(
                        405, send(http, ui + "/jars/upload", "POST", origin).statusCode());
                assertEquals(405, send(http, ui + "/cluster", "DELETE", origin).statusCode());
            }
            // Reading from another origin is refused too; CORS names only the UI's own origin.
            HttpResponse<String> evilRead = get(http, ui + "/overview", EVIL);
            assertEquals(403, evilRead.statusCode());
            assertEquals(
                    ui,
                    evilRead.headers().firstValue("Access-Control-Allow-Origin").orElse(""));

            // The UI itself works: its page, the REST reads, its own origin.
            assertEquals(200, get(http, ui + "/", null).statusCode());
            HttpResponse<String> overview = get(http, ui + "/overview", ui);
            assertEquals(200, overview.statusCode(), overview.body());
            assertEquals(
                    ui,
                    overview.headers().firstValue("Access-Control-Allow-Origin").orElse(""),
                    overview.headers().map().toString());
            HttpResponse<String> config = get(http, ui + "/config", null);
            assertTrue(config.body().replace(" ", "").contains("\"web-submit\":false"), config.body());
            assertTrue(config.body().replace(" ", "").contains("\"web-cancel\":false"), config.body());
            // Flink's own REST endpoint (on loopback, behind the UI) lists and takes no jars.
            assertEquals(404, get(http, rest + "/jars", null).statusCode());

            Thread.sleep(500);
            assertEquals(JobStatus.RUNNING, job.getJobStatus().get(), "the job still runs");
        } finally {
            // The demo's own way out still works: through the job client, not the web UI (the
            // cluster stops with the job).
            job.cancel().get(1, TimeUnit.MINUTES);
        }
    }

    private static HttpResponse<String> get(HttpClient http, String url, String origin) throws Exception {
        return send(http, url, "GET", origin);
    }

    private static HttpResponse<String> send(HttpClient http, String url, String method, String origin)
            throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url))
                .method(method, HttpRequest.BodyPublishers.noBody())
                .timeout(Duration.ofSeconds(30));
        if (origin != null) {
            request.header("Origin", origin);
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }
}

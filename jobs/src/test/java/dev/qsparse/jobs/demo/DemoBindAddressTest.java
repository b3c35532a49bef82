package dev.qsparse.jobs.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.ConnectException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.Socket;
import java.net.URI;
import java.util.Collections;
import java.util.Optional;
import org.apache.flink.configuration.Configuration;
import org.apache.flink.runtime.minicluster.MiniCluster;
import org.apache.flink.runtime.minicluster.MiniClusterConfiguration;
import org.junit.jupiter.api.Test;

/**
 * The demo's Flink web UI (which accepts job uploads) and blob server listen on loopback only,
 * unless asked otherwise, and the printed URL is where the UI listens.
 */
class DemoBindAddressTest {

    /** An IPv4 address of this machine that is not loopback, if it has one. */
    private static Optional<InetAddress> externalAddress() throws IOException {
        for (NetworkInterface nif : Collections.list(NetworkInterface.getNetworkInterfaces())) {
            if (!nif.isUp() || nif.isLoopback()) {
                continue;
            }
            for (InetAddress a : Collections.list(nif.getInetAddresses())) {
                if (a instanceof Inet4Address && !a.isLoopbackAddress()) {
                    return Optional.of(a);
                }
            }
        }
        return Optional.empty();
    }

    private static boolean reachable(InetAddress address, int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(address, port), 2_000);
            return true;
        } catch (ConnectException refused) {
            return false;
        } catch (IOException other) {
            return false;
        }
    }

    private record Ports(URI rest, int blob) {}

    private static Ports start(String bindAddress, InetAddress external, boolean expectExternal) throws Exception {
        Configuration conf = EmbeddedDemo.bindTo(new Configuration(), bindAddress, 0);
        try (MiniCluster cluster = new MiniCluster(new MiniClusterConfiguration.Builder()
                .setConfiguration(conf)
                .setNumTaskManagers(1)
                .setNumSlotsPerTaskManager(1)
                .build())) {
            cluster.start();
            URI rest = cluster.getRestAddress().get();
            int blob = cluster.getClusterInformation().getBlobServerPort();
            InetAddress loopback = InetAddress.getByName("127.0.0.1");
            assertEquals(true, reachable(loopback, rest.getPort()), "web UI on loopback");
            assertEquals(expectExternal, reachable(external, rest.getPort()), "web UI on " + external);
            assertEquals(expectExternal, reachable(external, blob), "blob server on " + external);
            return new Ports(rest, blob);
        }
    }

    @Test
    void theWebUiAndBlobServerListenOnLoopbackOnlyByDefault() throws Exception {
        Optional<InetAddress> external = externalAddress();
        assumeTrue(external.isPresent(), "this machine has no non-loopback IPv4 address to probe from");
        Ports ports = start("127.0.0.1", external.get(), false);
        assertEquals("127.0.0.1", ports.rest().getHost());
        // The check can tell: bound to every interface, both are reachable from outside loopback.
        start("0.0.0.0", external.get(), true);
    }

    @Test
    void thePrintedUrlIsTheBoundAddress() {
        assertEquals(
                "http://127.0.0.1:8081",
                EmbeddedDemo.webUiUrl(EmbeddedDemo.bindTo(new Configuration(), "127.0.0.1", 8081)));
        assertEquals(
                "http://10.1.2.3:9000",
                EmbeddedDemo.webUiUrl(EmbeddedDemo.bindTo(new Configuration(), "10.1.2.3", 9000)));
        assertEquals(
                "http://127.0.0.1:9000",
                EmbeddedDemo.webUiUrl(EmbeddedDemo.bindTo(new Configuration(), "0.0.0.0", 9000)));
    }
}

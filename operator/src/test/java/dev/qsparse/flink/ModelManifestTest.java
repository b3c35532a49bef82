package dev.qsparse.flink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ModelManifestTest {

    private static final String SHA = "a".repeat(64);

    private static ModelManifest parse(String json) {
        return ModelManifest.parse("m/" + ModelManifest.FILE_NAME, json.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void readsVersionAndFiles() {
        ModelManifest m = parse("{\"format\": 1, \"version\": \"2026-12\", \"files\": [{\"path\": \"a/b.json\","
                + " \"size\": 3, \"sha256\": \"" + SHA + "\"}]}");
        assertEquals("2026-12", m.version());
        assertEquals(new ModelManifest.Entry("a/b.json", 3, SHA), m.files().get("a/b.json"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"../x", "/etc/passwd", "a//b", "./a", "a\\\\b", "qsparse-manifest.json", ""})
    void pathsThatLeaveTheDirectoryAreRefused(String path) {
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> parse("{\"format\": 1, \"files\": [{\"path\": \"" + path + "\", \"size\": 1, \"sha256\": \"" + SHA
                        + "\"}]}"));
        assertTrue(e.getMessage().startsWith("m/qsparse-manifest.json: files[0]"), e.getMessage());
    }

    @Test
    void badFieldsAreNamed() {
        String f = "{\"path\": \"x\", \"size\": 1, \"sha256\": \"" + SHA + "\"}";
        assertThrows(IllegalArgumentException.class, () -> parse("{\"files\": [" + f + "]}"), "format");
        assertTrue(assertThrows(
                        IllegalArgumentException.class,
                        () -> parse("{\"format\": 1, \"files\": [{\"path\": \"x\", \"size\": -1, \"sha256\": \"" + SHA
                                + "\"}]}"))
                .getMessage()
                .contains("(x): \"size\""));
        assertTrue(assertThrows(
                        IllegalArgumentException.class,
                        () -> parse(
                                "{\"format\": 1, \"files\": [{\"path\": \"x\", \"size\": 1, \"sha256\": \"ABC\"}]}"))
                .getMessage()
                .contains("\"sha256\" must be 64 lowercase"));
        assertTrue(assertThrows(
                        IllegalArgumentException.class,
                        () -> parse("{\"format\": 1, \"files\": [" + f + ", " + f + "]}"))
                .getMessage()
                .contains("x is listed twice"));
        assertTrue(assertThrows(
                        IllegalArgumentException.class,
                        () -> parse(
                                "{\"format\": 1, \"version\": \"" + "v".repeat(200) + "\", \"files\": [" + f + "]}"))
                .getMessage()
                .contains("\"version\""));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> parse("{\"format\": 1, \"files\": ["))
                .getMessage()
                .startsWith("m/qsparse-manifest.json: "));
    }
}

package dev.qsparse.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qsparse.runtime.safetensors.ModelLoadException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A broken model directory fails at load, naming the file and the tensor. */
class ModelLoadTest {

    @TempDir
    Path dir;

    private Path copyOfTestModel() throws IOException {
        try (Stream<Path> files = Files.list(TestModels.TEST_MODEL)) {
            for (Path f : files.toList()) {
                Files.copy(f, dir.resolve(f.getFileName()));
            }
        }
        return dir;
    }

    @Test
    void loadsTheTestModel() throws IOException {
        try (Model model = Model.load(TestModels.TEST_MODEL)) {
            assertEquals("qsparse", model.config().modelType());
            assertTrue(model.tokenizer().isPresent());
            assertTrue(model.network().parameterCount() > 10_000);
            assertEquals("test-model", model.name());
        }
    }

    @Test
    void truncatedWeightsNameFileAndTensor() throws IOException {
        Path m = copyOfTestModel();
        Path weights = m.resolve("model.safetensors");
        byte[] all = Files.readAllBytes(weights);
        Files.write(weights, Arrays.copyOf(all, all.length - 1000));
        IOException e = assertThrows(IOException.class, () -> Model.load(m));
        assertTrue(e.getMessage().contains("model.safetensors"), e.getMessage());
        assertTrue(e.getMessage().contains("tensor '"), e.getMessage());
    }

    @Test
    void configThatDisagreesWithTheWeightsNamesTheTensor() throws IOException {
        Path m = copyOfTestModel();
        String config = Files.readString(m.resolve("config.json"));
        Files.writeString(
                m.resolve("config.json"), config.replaceFirst("\"hidden_size\":\\s*\\d+", "\"hidden_size\": 64"));
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> Model.load(m));
        assertTrue(
                e.getMessage().contains("model.embed_tokens.weight")
                        && e.getMessage().contains("expected"),
                e.getMessage());
    }

    @Test
    void missingTensorIsNamed() throws IOException {
        Path m = copyOfTestModel();
        String config = Files.readString(m.resolve("config.json"));
        Files.writeString(
                m.resolve("config.json"),
                config.replaceFirst("\"num_hidden_layers\":\\s*\\d+", "\"num_hidden_layers\": 3"));
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> Model.load(m));
        assertTrue(e.getMessage().contains("model.layers.2."), e.getMessage());
    }

    @Test
    void badConfigFiles() throws IOException {
        Path m = copyOfTestModel();
        Files.writeString(m.resolve("config.json"), "{not json");
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> Model.load(m));
        assertTrue(e.getMessage().contains("config.json"), e.getMessage());
        Files.writeString(m.resolve("config.json"), "{\"model_type\": \"gpt5\"}");
        e = assertThrows(ModelLoadException.class, () -> Model.load(m));
        assertTrue(e.getMessage().contains("gpt5"), e.getMessage());
        Files.writeString(m.resolve("config.json"), "{\"model_type\": \"qsparse\", \"hidden_size\": 8}");
        e = assertThrows(ModelLoadException.class, () -> Model.load(m));
        assertTrue(e.getMessage().contains("num_attention_heads"), e.getMessage());
        Files.delete(m.resolve("config.json"));
        e = assertThrows(ModelLoadException.class, () -> Model.load(m));
        assertTrue(e.getMessage().contains("config.json"), e.getMessage());
    }

    @Test
    void notADirectory() {
        IOException e = assertThrows(IOException.class, () -> Model.load(dir.resolve("missing-model")));
        assertTrue(e.getMessage().contains("missing-model"), e.getMessage());
    }

    @Test
    void brokenTokenizerIsNamed() throws IOException {
        Path m = copyOfTestModel();
        Files.writeString(m.resolve("tokenizer.json"), "{\"model\": {}}");
        IOException e = assertThrows(IOException.class, () -> Model.load(m));
        assertTrue(e.getMessage().contains("tokenizer.json"), e.getMessage());
    }
}

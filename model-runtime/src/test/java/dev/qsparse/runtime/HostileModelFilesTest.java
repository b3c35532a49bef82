package dev.qsparse.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qsparse.runtime.safetensors.ModelLoadException;
import dev.qsparse.runtime.tokenizer.TokenizerLoadException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * One hostile line in config.json or tokenizer.json fails the load with a message naming the file
 * and the key, before anything is sized from it: never an OutOfMemoryError, never a value silently
 * replaced by a default.
 */
class HostileModelFilesTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private Path model(String file, Consumer<ObjectNode> change) throws IOException {
        try (Stream<Path> files = Files.list(TestModels.TEST_MODEL)) {
            for (Path f : files.toList()) {
                Files.copy(f, dir.resolve(f.getFileName()));
            }
        }
        ObjectNode root = (ObjectNode) JSON.readTree(dir.resolve(file).toFile());
        change.accept(root);
        JSON.writeValue(dir.resolve(file).toFile(), root);
        return dir;
    }

    private static <E extends IOException> E fails(Class<E> type, Path m, String file, String... fragments) {
        E e = assertThrows(type, () -> {
            try (Model ignored = Model.load(m)) {
                // not reached
            }
        });
        assertTrue(e.getMessage().contains(m.resolve(file).toString()), "names the file: " + e.getMessage());
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), "says '" + f + "': " + e.getMessage());
        }
        return e;
    }

    @Test
    void hugeLayerCountFailsWithoutAllocating() throws IOException {
        Path m = model("config.json", c -> c.put("num_hidden_layers", Integer.MAX_VALUE));
        fails(
                ModelLoadException.class,
                m,
                "config.json",
                "'num_hidden_layers' must be an integer in [1, 1024], got 2147483647");
    }

    @Test
    void shapesThatTheWeightFilesCannotHoldFail() throws IOException {
        // Each within its own range, but together far more than the 360 KB of weights present.
        Path m = model("config.json", c -> {
            c.put("num_hidden_layers", 1000);
            c.put("intermediate_size", 100_000);
        });
        fails(
                ModelLoadException.class,
                m,
                "config.json",
                "num_hidden_layers=1000",
                "intermediate_size=100000",
                "bytes of weights, but the *.safetensors files in");
    }

    @Test
    void aHugeTokenIdInTheVocabFailsBeforeArraysAreBuilt() throws IOException {
        Path m = model("tokenizer.json", t -> ((ObjectNode) t.get("model").get("vocab")).put("zzz", 2_000_000_000));
        fails(
                TokenizerLoadException.class,
                m,
                "tokenizer.json",
                "model.vocab['zzz'] = 2000000000 is too large for a tokenizer of ");
    }

    @Test
    void aHugeAddedTokenIdFailsBeforeArraysAreBuilt() throws IOException {
        Path m = model(
                "tokenizer.json",
                t -> t.putArray("added_tokens")
                        .addObject()
                        .put("id", 2_000_000_000)
                        .put("content", "<|evil|>")
                        .put("special", true));
        fails(TokenizerLoadException.class, m, "tokenizer.json", "added_tokens[0].id = 2000000000 is too large");
    }

    @Test
    void aTokenIdPastTheModelsVocabularyFails() throws IOException {
        // Within the tokenizer's own bound, but the model has 1000 embedding rows.
        Path m = model(
                "tokenizer.json",
                t -> t.putArray("added_tokens").addObject().put("id", 1500).put("content", "<|x|>"));
        fails(
                TokenizerLoadException.class,
                m,
                "tokenizer.json",
                "added_tokens[0].id = 1500 is outside the model's vocab_size 1000");
    }

    @ParameterizedTest(name = "{0}: {1}")
    @CsvSource(
            delimiter = '|',
            value = {
                "topk_ratio          | \"abc\"    | 'topk_ratio' must be a number in (0, 1], got \"abc\"",
                "topk_ratio_mlp      | 0          | 'topk_ratio_mlp' must be a number in (0, 1], got 0",
                "activation_bits     | \"eight\"  | 'activation_bits' must be 0, 8 or null, got \"eight\"",
                "activation_bits     | 4          | 'activation_bits' must be 0, 8 or null, got 4",
                "hidden_size         | 48.7       | 'hidden_size' must be an integer in [1, 65536], got 48.7",
                "hidden_size         | \"48\"     | 'hidden_size' must be an integer in [1, 65536], got \"48\"",
                "rms_norm_eps        | -1         | 'rms_norm_eps' must be a positive finite number below 1.0, got -1",
                "rope_theta          | 0          | 'rope_theta' must be a positive finite number, got 0",
                "rope_theta          | 1e400      | 'rope_theta' must be a positive finite number, got",
                "bos_token_id        | 99999      | 'bos_token_id' must be an integer in [0, 999], got 99999",
                "eos_token_id        | [0, 5000]  | 'eos_token_id[1]' must be an integer in [0, 999], got 5000",
                "topk_block          | [0, 0]     | topk_block must be [N, M] with integers 1 <= N <= M <= 65536, got [0,0]",
                "topk_block          | [4, 2]     | topk_block must be [N, M]",
                "num_attention_heads | 0          | 'num_attention_heads' must be an integer in [1, 1024], got 0",
                "num_key_value_heads | 3          | num_key_value_heads = 3 must divide num_attention_heads = 4",
                "tie_word_embeddings | \"yes\"    | 'tie_word_embeddings' must be true or false, got \"yes\"",
                "weight_quant        | 7          | 'weight_quant' must be a string, got 7",
                "max_position_embeddings | -1     | 'max_position_embeddings' must be an integer in [1, 16777216], got -1",
            })
    void wrongTypedOrOutOfRangeValuesAreRejectedNamingTheKey(String key, String value, String message)
            throws IOException {
        Path m = model("config.json", c -> {
            try {
                c.set(key, JSON.readTree(value));
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        });
        fails(ModelLoadException.class, m, "config.json", message);
    }

    @Test
    void theUntouchedTestModelStillLoads() throws IOException {
        Path m = model("config.json", c -> {});
        try (Model model = Model.load(m)) {
            assertEquals(1000, model.config().vocabSize());
        }
    }
}

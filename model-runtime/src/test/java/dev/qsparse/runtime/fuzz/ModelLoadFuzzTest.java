package dev.qsparse.runtime.fuzz;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.PoisonedModels;
import dev.qsparse.runtime.TestModels;
import dev.qsparse.runtime.safetensors.ModelLoadException;
import dev.qsparse.runtime.tokenizer.TokenizerLoadException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Seeded fuzzing of the model loader: config.json, tokenizer.json and the safetensors header
 * mutated (hostile values, removed and added keys, byte damage, trailing garbage, header length
 * fields) and loaded with {@link Model#load}, each case under a time bound. Every case either
 * loads or fails with a named error: a {@link ModelLoadException} / {@link TokenizerLoadException}
 * or an {@link IllegalArgumentException} whose message names the file. Never an
 * OutOfMemoryError, never another exception (NullPointerException, ClassCastException,
 * ArithmeticException, an index out of bounds), never a hang.
 *
 * <p>{@code -Dqsparse.fuzz.seed=N} changes the seed (default fixed, so CI is reproducible);
 * {@code -Dqsparse.fuzz.cases=N} the number of cases per file. A failure names the seed and case.
 */
class ModelLoadFuzzTest {

    private static final long SEED = Long.getLong("qsparse.fuzz.seed", 20261130L);
    private static final int CASES = Integer.getInteger("qsparse.fuzz.cases", 150);
    private static final long CASE_TIMEOUT_S = 20;

    private static final List<String> CONFIG_KEYS = List.of(
            "vocab_size",
            "hidden_size",
            "intermediate_size",
            "num_hidden_layers",
            "num_attention_heads",
            "num_key_value_heads",
            "head_dim",
            "max_position_embeddings",
            "rms_norm_eps",
            "rope_theta",
            "tie_word_embeddings",
            "bos_token_id",
            "eos_token_id",
            "topk_ratio",
            "topk_ratio_attn",
            "topk_ratio_mlp",
            "activation_bits",
            "topk_rescale",
            "weight_quant",
            "lm_head_quant",
            "topk_block",
            "model_type",
            "weight_layout",
            "d_model",
            "nhead",
            "num_layers",
            "dim_feedforward",
            "k_ratio");
    private static final List<String> TOKENIZER_KEYS = List.of(
            "added_tokens",
            "normalizer",
            "pre_tokenizer",
            "decoder",
            "model",
            "vocab",
            "merges",
            "type",
            "id",
            "content",
            "special",
            "ignore_merges",
            "byte_fallback",
            "unk_token",
            "add_prefix_space",
            "use_regex",
            "normalizers",
            "pretokenizers",
            "pattern",
            "Regex",
            "behavior",
            "post_processor",
            "processors",
            "single",
            "special_tokens",
            "ids");
    private static final List<String> TENSOR_KEYS = List.of("dtype", "shape", "data_offsets", "__metadata__");

    private static ExecutorService executor;

    @TempDir
    Path tmp;

    @BeforeAll
    static void start() {
        executor = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "fuzz-load");
            t.setDaemon(true);
            return t;
        });
    }

    @AfterAll
    static void stop() {
        executor.shutdownNow();
    }

    /** Loads {@code dir} under the time bound and checks the outcome; {@code what} names the case. */
    private void loadChecked(Path dir, String file, String what) throws Exception {
        Future<Throwable> f = executor.submit(() -> {
            try (Model m = Model.load(dir)) {
                m.config();
                return null;
            } catch (Throwable t) {
                return t;
            }
        });
        Throwable t;
        try {
            t = f.get(CASE_TIMEOUT_S, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            f.cancel(true);
            fail(what + ": Model.load did not return within " + CASE_TIMEOUT_S + " s");
            return;
        }
        if (t == null) {
            return;
        }
        String message = String.valueOf(t.getMessage());
        if (t instanceof ModelLoadException
                || t instanceof TokenizerLoadException
                || t instanceof IllegalArgumentException) {
            assertTrue(message.contains(dir.toString()), what + ": the error names no file of the model: " + t);
            assertTrue(message.length() < 20_000, what + ": an error of " + message.length() + " characters");
            return;
        }
        AssertionError e = new AssertionError(what + " (" + file + "): "
                + t.getClass().getName() + ": " + (message.length() > 500 ? message.substring(0, 500) : message));
        e.initCause(t);
        throw e;
    }

    private static byte[] bytes(JsonNode node) throws IOException {
        // Through a String: a lone surrogate becomes '?', as any writer of the file would do.
        return JsonMutator.JSON.writeValueAsString(node).getBytes(StandardCharsets.UTF_8);
    }

    private void fuzzJson(String file, List<String> keys, long seed) throws Exception {
        Path dir = PoisonedModels.copy(TestModels.TEST_MODEL, tmp.resolve("m-" + file));
        byte[] original = Files.readAllBytes(dir.resolve(file));
        JsonMutator m = new JsonMutator(seed);
        for (int i = 0; i < CASES; i++) {
            byte[] mutated;
            if (m.nextInt(4) == 0) {
                mutated = m.mutateBytes(original);
            } else {
                JsonNode tree = JsonMutator.JSON.readTree(original);
                m.mutateTree(tree, keys);
                mutated = bytes(tree);
            }
            Files.write(dir.resolve(file), mutated);
            loadChecked(dir, file, "seed " + seed + " case " + i);
        }
    }

    @Test
    void mutatedConfigJsonLoadsOrFailsNamingTheFile() throws Exception {
        fuzzJson("config.json", CONFIG_KEYS, SEED);
    }

    @Test
    void mutatedTokenizerJsonLoadsOrFailsNamingTheFile() throws Exception {
        fuzzJson("tokenizer.json", TOKENIZER_KEYS, SEED + 1);
    }

    @Test
    void mutatedSafetensorsHeadersLoadOrFailNamingTheFile() throws Exception {
        Path dir = PoisonedModels.copy(TestModels.TEST_MODEL, tmp.resolve("m-weights"));
        Path file = dir.resolve("model.safetensors");
        byte[] original = Files.readAllBytes(file);
        int n = (int)
                ByteBuffer.wrap(original, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        byte[] header = Arrays.copyOfRange(original, 8, 8 + n);
        byte[] data = Arrays.copyOfRange(original, 8 + n, original.length);
        long seed = SEED + 2;
        JsonMutator m = new JsonMutator(seed);
        for (int i = 0; i < CASES; i++) {
            byte[] h;
            int kind = m.nextInt(6);
            if (kind == 0) {
                h = m.mutateBytes(header);
            } else {
                ObjectNode tree = (ObjectNode) JsonMutator.JSON.readTree(header);
                m.mutateTree(tree, TENSOR_KEYS);
                h = bytes(tree);
            }
            long length = h.length;
            if (kind == 1) {
                // The header length field itself: off by a little, or anything at all.
                length = switch (m.nextInt(4)) {
                    case 0 -> length + m.random().nextInt(-16, 17);
                    case 1 -> m.random().nextLong();
                    case 2 -> -length;
                    default -> original.length;
                };
            }
            ByteBuffer out = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
            out.putLong(length).put(h);
            // Sometimes the data section is cut short.
            out.put(data, 0, m.nextInt(8) == 0 ? m.nextInt(data.length + 1) : data.length);
            Files.write(file, Arrays.copyOf(out.array(), out.position()));
            loadChecked(dir, "model.safetensors", "seed " + seed + " case " + i);
        }
    }
}

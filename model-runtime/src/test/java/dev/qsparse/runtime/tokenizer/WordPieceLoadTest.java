package dev.qsparse.runtime.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * A WordPiece {@code tokenizer.json} with something the reader does not implement (a type, a key, a
 * strategy) or something out of bounds is refused, and the message names the file and the key. Each
 * case is the real all-MiniLM-L6-v2 file with one change.
 */
class WordPieceLoadTest {
    @TempDir
    static Path dir;

    static Path real;

    @BeforeAll
    static void copy() throws Exception {
        real = dir.resolve("tokenizer.json");
        WordPieceReferenceTest.copyResource(real);
    }

    static Arguments refused(String name, Consumer<ObjectNode> change, String fragment) {
        return Arguments.of(name, change, fragment);
    }

    static ObjectNode obj(ObjectNode root, String key) {
        return (ObjectNode) root.get(key);
    }

    static Stream<Arguments> refusals() {
        return Stream.of(
                refused(
                        "unknown-normalizer",
                        r -> obj(r, "normalizer").put("type", "Precompiled"),
                        "'normalizer.type' 'Precompiled' is not supported"),
                refused(
                        "bert-normalizer-unknown-key",
                        r -> obj(r, "normalizer").put("foo", true),
                        "'normalizer.foo' is not a key this reader knows"),
                refused(
                        "bert-normalizer-missing-key",
                        r -> obj(r, "normalizer").remove("lowercase"),
                        "'normalizer.lowercase' is missing"),
                refused(
                        "bert-normalizer-not-boolean",
                        r -> obj(r, "normalizer").put("clean_text", "yes"),
                        "'normalizer.clean_text' is \"yes\""),
                refused(
                        "sequence-with-unknown",
                        r -> {
                            ObjectNode seq = r.putObject("normalizer").put("type", "Sequence");
                            ArrayNode list = seq.putArray("normalizers");
                            list.addObject().put("type", "NFD");
                            list.addObject().put("type", "Replace");
                        },
                        "'normalizer.normalizers[1].type' 'Replace' is not supported"),
                refused(
                        "unknown-pre-tokenizer",
                        r -> obj(r, "pre_tokenizer").put("type", "Whitespace"),
                        "'pre_tokenizer.type' 'Whitespace' is not supported"),
                refused(
                        "pre-tokenizer-unknown-key",
                        r -> obj(r, "pre_tokenizer").put("split", true),
                        "'pre_tokenizer.split' is not a key"),
                refused(
                        "unknown-model",
                        r -> obj(r, "model").put("type", "Unigram"),
                        "model.type 'Unigram' is not supported (supported: BPE, WordPiece)"),
                refused("model-unknown-key", r -> obj(r, "model").put("dropout", 0.1), "'model.dropout' is not a key"),
                refused(
                        "unk-not-in-vocab",
                        r -> obj(r, "model").put("unk_token", "<unk>"),
                        "'model.unk_token' '<unk>' is not in model.vocab"),
                refused(
                        "max-chars-zero",
                        r -> obj(r, "model").put("max_input_chars_per_word", 0),
                        "'model.max_input_chars_per_word' is 0"),
                refused(
                        "max-chars-huge",
                        r -> obj(r, "model").put("max_input_chars_per_word", 1_000_000_000),
                        "'model.max_input_chars_per_word' is 1000000000"),
                refused(
                        "vocab-id-huge",
                        r -> obj(obj(r, "model"), "vocab").put("zzz", 2_000_000_000),
                        "'model.vocab['zzz']' = 2000000000 is too large"),
                refused(
                        "vocab-token-long",
                        r -> obj(obj(r, "model"), "vocab").put("x".repeat(300), 30522),
                        "longer than 256 characters"),
                refused(
                        "vocab-duplicate-id",
                        r -> obj(obj(r, "model"), "vocab").put("zzz", 5),
                        "'model.vocab' gives id 5 to both"),
                refused(
                        "unknown-post-processor",
                        r -> obj(r, "post_processor").put("type", "RobertaProcessing"),
                        "'post_processor.type' 'RobertaProcessing' is not supported"),
                refused(
                        "template-unknown-special",
                        r -> {
                            ArrayNode single =
                                    (ArrayNode) obj(r, "post_processor").get("single");
                            ((ObjectNode) single.get(0).get("SpecialToken")).put("id", "[BOS]");
                        },
                        "post_processor.special_tokens['[BOS]'] is missing"),
                refused(
                        "template-type-id",
                        r -> {
                            ArrayNode single =
                                    (ArrayNode) obj(r, "post_processor").get("single");
                            ((ObjectNode) single.get(1).get("Sequence")).put("type_id", 1);
                        },
                        "'post_processor.single[1].Sequence.type_id' is 1"),
                refused(
                        "template-bad-id",
                        r -> ((ArrayNode) obj(obj(obj(r, "post_processor"), "special_tokens"), "[CLS]")
                                        .get("ids"))
                                .set(0, 99_999_999),
                        "'post_processor.special_tokens['[CLS]'].ids[0]' = 99999999 is not a token id"),
                refused(
                        "unknown-decoder",
                        r -> obj(r, "decoder").put("type", "ByteLevel"),
                        "'decoder.type' 'ByteLevel' is not supported"),
                refused(
                        "truncation-strategy",
                        r -> obj(r, "truncation").put("strategy", "OnlySecond"),
                        "'truncation.strategy' 'OnlySecond' is not supported"),
                refused("truncation-stride", r -> obj(r, "truncation").put("stride", 16), "'truncation.stride' is 16"),
                refused(
                        "truncation-too-short",
                        r -> obj(r, "truncation").put("max_length", 1),
                        "'truncation.max_length' is 1, expected an integer in [2, "),
                refused(
                        "truncation-direction",
                        r -> obj(r, "truncation").put("direction", "Middle"),
                        "'truncation.direction' 'Middle' is not supported"),
                refused(
                        "padding-strategy",
                        r -> obj(r, "padding").put("strategy", "Longest"),
                        "'padding.strategy' \"Longest\" is not supported"),
                refused(
                        "padding-pad-id",
                        r -> obj(r, "padding").put("pad_id", 99_999_999),
                        "'padding.pad_id' = 99999999 is not a token"),
                refused(
                        "added-token-unknown-key",
                        r -> ((ObjectNode) r.get("added_tokens").get(0)).put("foo", 1),
                        "'added_tokens[0].foo' is not a key"),
                refused(
                        "added-token-no-normalized",
                        r -> ((ObjectNode) r.get("added_tokens").get(1)).remove("normalized"),
                        "'added_tokens[1].normalized' is missing"),
                refused(
                        "added-token-huge-id",
                        r -> ((ObjectNode) r.get("added_tokens").get(0)).put("id", 2_000_000_000),
                        "'added_tokens[0].id' = 2000000000 is too large"),
                refused("unknown-top-level-key", r -> r.put("extra", 1), "'extra' is not a top-level key"),
                refused("unknown-version", r -> r.put("version", "2.0"), "'version' \"2.0\" is not supported"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("refusals")
    void refusedNamingFileAndKey(String name, Consumer<ObjectNode> change, String fragment) throws Exception {
        ObjectNode root = (ObjectNode) WordPieceReferenceTest.MAPPER.readTree(real.toFile());
        change.accept(root);
        Path file = dir.resolve(name + ".json");
        WordPieceReferenceTest.MAPPER.writeValue(file.toFile(), root);
        TokenizerLoadException e = assertThrows(TokenizerLoadException.class, () -> Tokenizer.load(file));
        assertTrue(e.getMessage().startsWith(file + ": "), e.getMessage());
        assertTrue(e.getMessage().contains(fragment), "message says '" + fragment + "': " + e.getMessage());
        assertEquals(file, e.file());
    }

    @Test
    void idsBeyondTheModelsVocabularyAreRefused() {
        TokenizerLoadException e = assertThrows(TokenizerLoadException.class, () -> Tokenizer.load(real, 30_000));
        assertTrue(e.getMessage().contains("is outside the model's vocab_size 30000"), e.getMessage());
    }

    @Test
    void theRealFileLoadsAsWordPiece() throws Exception {
        Tokenizer t = Tokenizer.load(real, 30_522);
        assertTrue(t instanceof WordPieceTokenizer);
        assertEquals(30_522, t.vocabSize());
    }
}

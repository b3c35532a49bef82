package dev.qsparse.runtime.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Malformed or unsupported tokenizer.json files fail with a TokenizerLoadException naming the file. */
class TokenizerLoadTest {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    @TempDir
    Path dir;

    private Path write(String name, String content) throws IOException {
        Path p = dir.resolve(name);
        Files.writeString(p, content);
        return p;
    }

    /** The fixture with one modification applied. */
    private Path variant(String name, Consumer<ObjectNode> change) throws Exception {
        ObjectNode root = (ObjectNode)
                MAPPER.readTree(TokenizerTest.fixture("tokenizer.json").toFile());
        change.accept(root);
        return write(name, MAPPER.writeValueAsString(root));
    }

    private static TokenizerLoadException assertLoadFails(Path file, String expectedFragment) {
        TokenizerLoadException e = assertThrows(TokenizerLoadException.class, () -> Tokenizer.load(file));
        assertTrue(e.getMessage().contains(file.toString()), "message names the file: " + e.getMessage());
        assertTrue(
                e.getMessage().contains(expectedFragment),
                "message says '" + expectedFragment + "': " + e.getMessage());
        assertEquals(file, e.file());
        return e;
    }

    @Test
    void notJson() throws Exception {
        assertLoadFails(write("garbage.json", "this is not json"), "not valid JSON");
        assertLoadFails(write("truncated.json", "{\"model\": {\"type\": \"BPE\", "), "not valid JSON");
        assertLoadFails(write("trailing.json", "{} {}"), "not valid JSON");
        assertLoadFails(write("empty.json", ""), "empty");
        assertLoadFails(write("array.json", "[1, 2]"), "not a JSON object");
    }

    @Test
    void missingFile() {
        assertLoadFails(dir.resolve("nope.json"), "does not exist");
    }

    @Test
    void missingModel() throws Exception {
        assertLoadFails(variant("nomodel.json", r -> r.remove("model")), "missing 'model'");
    }

    @Test
    void mergesReferencingUnknownTokens() throws Exception {
        assertLoadFails(
                variant(
                        "badmerge.json",
                        r -> ((com.fasterxml.jackson.databind.node.ArrayNode)
                                        r.get("model").get("merges"))
                                .add("Ġzzq qqz")),
                "not in model.vocab");
        // both parts exist but their concatenation does not
        assertLoadFails(
                variant(
                        "badmerge2.json",
                        r -> ((com.fasterxml.jackson.databind.node.ArrayNode)
                                        r.get("model").get("merges"))
                                .add("Ġthe Ġthe")),
                "'ĠtheĠthe'");
        assertLoadFails(
                variant(
                        "badmerge3.json",
                        r -> ((com.fasterxml.jackson.databind.node.ArrayNode)
                                        r.get("model").get("merges"))
                                .add("onlyone")),
                "model.merges[");
        assertLoadFails(
                variant(
                        "badmerge4.json",
                        r -> ((com.fasterxml.jackson.databind.node.ArrayNode)
                                        r.get("model").get("merges"))
                                .addArray()
                                .add("a")),
                "model.merges[");
    }

    @Test
    void unsupportedComponents() throws Exception {
        assertLoadFails(
                variant("unigram.json", r -> ((ObjectNode) r.get("model")).put("type", "Unigram")),
                "model.type 'Unigram' is not supported");
        assertLoadFails(variant("nfkc.json", r -> r.putObject("normalizer").put("type", "NFKC")), "normalizer 'NFKC'");
        assertLoadFails(
                variant("lowercase-in-sequence.json", r -> {
                    ObjectNode seq = r.putObject("normalizer").put("type", "Sequence");
                    seq.putArray("normalizers").addObject().put("type", "NFC");
                    ((com.fasterxml.jackson.databind.node.ArrayNode) seq.get("normalizers"))
                            .addObject()
                            .put("type", "Lowercase");
                }),
                "normalizer 'Lowercase' at 'normalizer.normalizers[1]'");
        assertLoadFails(
                variant("metaspace.json", r -> r.putObject("pre_tokenizer").put("type", "Metaspace")), "Metaspace");
        assertLoadFails(variant("nopre.json", r -> r.putNull("pre_tokenizer")), "pre_tokenizer");
        assertLoadFails(
                variant("decoder.json", r -> r.putObject("decoder").put("type", "WordPiece")), "decoder 'WordPiece'");
        assertLoadFails(variant("dropout.json", r -> ((ObjectNode) r.get("model")).put("dropout", 0.1)), "dropout");
        assertLoadFails(
                variant("prefix.json", r -> ((ObjectNode) r.get("model")).put("continuing_subword_prefix", "##")),
                "continuing_subword_prefix");
        assertLoadFails(
                variant("badregex.json", r -> {
                    ObjectNode seq = r.putObject("pre_tokenizer");
                    seq.put("type", "Sequence");
                    ObjectNode split = seq.putArray("pretokenizers").addObject();
                    split.put("type", "Split").putObject("pattern").put("Regex", "(unclosed");
                    split.put("behavior", "Isolated");
                    ((com.fasterxml.jackson.databind.node.ArrayNode) seq.get("pretokenizers"))
                            .addObject()
                            .put("type", "ByteLevel")
                            .put("use_regex", false);
                }),
                "not a valid regex");
    }

    @Test
    void vocabMustCoverAllBytes() throws Exception {
        assertLoadFails(
                variant("nobyte.json", r -> {
                    ObjectNode vocab = (ObjectNode) r.get("model").get("vocab");
                    vocab.remove(String.valueOf(ByteLevelAlphabet.toChar(0x07)));
                }),
                "byte 0x07");
    }

    @Test
    void badVocabAndAddedTokens() throws Exception {
        assertLoadFails(
                variant("vocabid.json", r -> ((ObjectNode) r.get("model").get("vocab")).put("zzz", "x")), "zzz");
        assertLoadFails(variant("dupid.json", r -> ((ObjectNode) r.get("model").get("vocab")).put("zzz", 5)), "id 5");
        assertLoadFails(
                variant(
                        "added.json",
                        r -> r.putArray("added_tokens").addObject().put("id", 3)),
                "added_tokens[0]");
    }

    @Test
    void fixtureLoads() throws Exception {
        Tokenizer t = Tokenizer.load(variant("ok.json", r -> {}));
        assertEquals(1000, t.vocabSize());
    }

    private static ObjectNode llama3Template(ObjectNode processor, String token, int id) {
        processor.put("type", "TemplateProcessing");
        com.fasterxml.jackson.databind.node.ArrayNode single = processor.putArray("single");
        single.addObject().putObject("SpecialToken").put("id", token).put("type_id", 0);
        single.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
        single.addObject().putObject("SpecialToken").put("id", token).put("type_id", 0); // trailing: not read
        ObjectNode entry = processor.putObject("special_tokens").putObject(token);
        entry.put("id", token).putArray("ids").add(id);
        entry.putArray("tokens").add(token);
        return processor;
    }

    @Test
    void postProcessorSaysWhatGoesBeforeTheText() throws Exception {
        assertTrue(
                Tokenizer.load(TokenizerTest.fixture("tokenizer.json"))
                        .prefixTokens()
                        .isEmpty(),
                "none: config");
        Tokenizer byteLevel = Tokenizer.load(
                variant("bytelevel.json", r -> r.putObject("post_processor").put("type", "ByteLevel")));
        assertEquals(0, byteLevel.prefixTokens().orElseThrow().length, "ByteLevel: nothing (Qwen)");
        Tokenizer template = Tokenizer.load(variant("template.json", r -> {
            ObjectNode seq = r.putObject("post_processor").put("type", "Sequence");
            com.fasterxml.jackson.databind.node.ArrayNode list = seq.putArray("processors");
            list.addObject().put("type", "ByteLevel");
            llama3Template(list.addObject(), "<|endoftext|>", 0);
        }));
        org.junit.jupiter.api.Assertions.assertArrayEquals(
                new int[] {0}, template.prefixTokens().orElseThrow());
        Tokenizer roberta = Tokenizer.load(variant(
                "roberta.json",
                r -> r.putObject("post_processor")
                        .put("type", "RobertaProcessing")
                        .set(
                                "cls",
                                MAPPER.createArrayNode().add("<|endoftext|>").add(0))));
        org.junit.jupiter.api.Assertions.assertArrayEquals(
                new int[] {0}, roberta.prefixTokens().orElseThrow());

        assertLoadFails(
                variant(
                        "unknown-id.json",
                        r -> llama3Template(r.putObject("post_processor"), "<|endoftext|>", 1 << 30)),
                "post_processor.special_tokens['<|endoftext|>'].ids[0]");
        assertLoadFails(
                variant("unnamed.json", r -> {
                    ObjectNode t = llama3Template(r.putObject("post_processor"), "<|endoftext|>", 0);
                    t.remove("special_tokens");
                }),
                "names special token '<|endoftext|>'");
        assertLoadFails(
                variant("other.json", r -> r.putObject("post_processor").put("type", "Mystery")),
                "unsupported post-processor type 'Mystery'");
    }
}

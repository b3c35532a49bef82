package dev.qsparse.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.qsparse.runtime.model.ModelConverter;
import dev.qsparse.runtime.model.RandomModels;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The model directories a benchmark runs: a float source (random weights at the seed README's
 * shape, or a given model), its int8 and ternary conversions, and one small directory per variant
 * (its own config.json, the weights a symbolic link to the shared converted file, so that all
 * variants of a format share one copy in the page cache). Kept between runs under a work directory.
 */
public final class BenchModels {

    /** The decode variants of the table. */
    public enum Variant {
        DENSE_F32("dense f32", "f32", 1.0, 0),
        DENSE_INT8("dense int8", "int8", 1.0, 8),
        TOPK50_INT8("50% top-K int8", "int8", 0.5, 8),
        TOPK50_TERNARY("50% top-K ternary", "ternary", 0.5, 8);

        public final String label;
        final String weights;
        final double ratio;
        final int activationBits;

        Variant(String label, String weights, double ratio, int activationBits) {
            this.label = label;
            this.weights = weights;
            this.ratio = ratio;
            this.activationBits = activationBits;
        }
    }

    private BenchModels() {}

    /** The seed README's shape with random weights, written once under {@code work/seed-f32}. */
    public static Path seedShape(Path work, PrintStream log) throws IOException {
        Path dir = work.resolve("seed-f32");
        if (!Files.isRegularFile(dir.resolve("model.safetensors"))
                || !Files.isRegularFile(dir.resolve("config.json"))) {
            log.println("bench: writing the random seed-shape model to " + dir + " ...");
            RandomModels.write(dir, RandomModels.Shape.seedReadme(), 2024);
        }
        return dir;
    }

    /**
     * Gives {@code model} (the random seed-shape model, which has none) the tokenizer of {@code donor}
     * when its ids fit the model's vocabulary, so that the bench can embed text events with it.
     */
    public static void borrowTokenizer(Path model, Path donor) throws IOException {
        Path mine = model.resolve("tokenizer.json");
        Path theirs = donor.resolve("tokenizer.json");
        if (Files.isRegularFile(mine) || !Files.isRegularFile(theirs)) {
            return;
        }
        ObjectMapper json = new ObjectMapper();
        int modelVocab = json.readTree(model.resolve("config.json").toFile())
                .path("vocab_size")
                .asInt();
        int donorVocab = json.readTree(donor.resolve("config.json").toFile())
                .path("vocab_size")
                .asInt();
        if (donorVocab > 0 && donorVocab <= modelVocab) {
            Files.copy(theirs, mine);
        }
    }

    /** Variant directories of {@code source} (converted as needed under {@code work/name-*}). */
    public static Map<Variant, Path> variants(Path source, String name, Path work, PrintStream log) throws IOException {
        Map<String, Path> converted = new LinkedHashMap<>();
        converted.put("f32", source);
        for (String w : new String[] {"int8", "ternary"}) {
            Path out = work.resolve(name + "-" + w);
            if (!Files.isRegularFile(out.resolve("model.safetensors")) || isOlder(out, source)) {
                log.println("bench: converting " + source + " to " + w + " ...");
                ModelConverter.convert(source, out, ModelConverter.Target.parse(w), true, true);
            }
            converted.put(w, out);
        }
        Map<Variant, Path> out = new LinkedHashMap<>();
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        for (Variant v : Variant.values()) {
            Path weights = converted.get(v.weights);
            Path dir = work.resolve("variants").resolve(name + "-" + v.name().toLowerCase(java.util.Locale.ROOT));
            Files.createDirectories(dir);
            ObjectNode config =
                    (ObjectNode) json.readTree(weights.resolve("config.json").toFile());
            config.put("topk_ratio", v.ratio);
            for (String k :
                    new String[] {"topk_ratio_attn", "topk_ratio_attn_out", "topk_ratio_mlp", "topk_ratio_mlp_out"}) {
                config.put(k, v.ratio);
            }
            config.put("activation_bits", v.activationBits);
            config.remove("topk_block");
            if ("int8".equals(config.path("lm_head_quant").asText())) {
                // As `qsparse convert` writes it by default (also for conversions cached before it did).
                config.put("lm_head_activation_bits", 8);
            }
            json.writeValue(dir.resolve("config.json").toFile(), config);
            Path link = dir.resolve("model.safetensors");
            Files.deleteIfExists(link);
            // A hard link (the loader follows symbolic links only inside the model directory); a
            // copy where the file system has none.
            try {
                Files.createLink(link, weights.resolve("model.safetensors").toRealPath());
            } catch (IOException | UnsupportedOperationException e) {
                Files.copy(weights.resolve("model.safetensors"), link);
            }
            Path tokenizer = weights.resolve("tokenizer.json");
            if (!Files.isRegularFile(tokenizer)) {
                tokenizer = source.resolve("tokenizer.json");
            }
            if (Files.isRegularFile(tokenizer)) {
                Files.copy(tokenizer, dir.resolve("tokenizer.json"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
            out.put(v, dir);
        }
        return out;
    }

    private static boolean isOlder(Path converted, Path source) throws IOException {
        return Files.getLastModifiedTime(converted.resolve("model.safetensors"))
                        .compareTo(Files.getLastModifiedTime(
                                source.resolve("model.safetensors").toRealPath()))
                < 0;
    }
}

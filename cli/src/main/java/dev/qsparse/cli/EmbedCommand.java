package dev.qsparse.cli;

import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.inference.InferenceRequest;
import dev.qsparse.runtime.inference.InferenceResult;
import dev.qsparse.runtime.inference.InferenceSession;
import dev.qsparse.runtime.inference.Pooling;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(
        name = "embed",
        mixinStandardHelpOptions = true,
        description = {
            "Embed a text: {\"embedding\": [...], ...} (L2-normalised; an encoder's only when its modules.json has a"
                    + " Normalize module).",
            "With --input (or --file), every non-blank line is embedded as its own text, the model loaded once, and"
                    + " one JSON object per line is printed as it is ready (JSON Lines), each with its \"line\""
                    + " number (and \"id\"). jsonl keys: text, id, pooling."
        })
final class EmbedCommand implements Callable<Integer> {

    /** The JSON Lines keys embed reads besides "id" and "text". */
    static final Set<String> JSONL_KEYS = Set.of("pooling");

    @Spec
    CommandSpec spec;

    @Mixin
    ModelOptions modelOptions;

    @Mixin
    InputOptions inputs;

    @Option(names = "--text", description = "Text to embed.")
    String text;

    @Option(
            names = "--file",
            paramLabel = "FILE",
            description = "The same as --input FILE --format lines: UTF-8 text, one text per line (blank lines"
                    + " skipped), bounded by --max-file-bytes, --max-lines and --max-line-chars.")
    Path file;

    @Option(
            names = "--pooling",
            description = "mean, last, cls or max (default: the model's own: an encoder's 1_Pooling, else mean);"
                    + " a jsonl line's \"pooling\" overrides it.")
    String pooling;

    @Override
    public Integer call() throws Exception {
        inputs.requireExactlyOne(spec, "--text", text != null, "--file", file != null);
        Pooling p = pooling == null ? null : Pooling.fromName(pooling);
        if (text != null) {
            try (Model model = modelOptions.load()) {
                Json.print(object(model, model.newSession().embed(text, p)));
            }
            return 0;
        }
        List<InputRecord> records = file != null ? inputs.readLines(file, "embed") : inputs.read("embed", JSONL_KEYS);
        List<InferenceRequest> requests = new ArrayList<>(records.size());
        for (InputRecord r : records) {
            requests.add(InferenceRequest.embed(r.text(), pooling(r, p)));
        }
        try (Model model = modelOptions.load()) {
            InferenceSession session = model.newSession();
            BatchRun.run(session, records, requests, inputs.batch, e -> object(model, (InferenceResult.Embedding) e));
        }
        return 0;
    }

    private static Pooling pooling(InputRecord r, Pooling otherwise) {
        String name = r.string("pooling");
        if (name == null) {
            return otherwise;
        }
        try {
            return Pooling.fromName(name);
        } catch (IllegalArgumentException e) {
            throw r.error("\"pooling\": " + e.getMessage());
        }
    }

    private static Map<String, Object> object(Model model, InferenceResult.Embedding e) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("embedding", e.vector());
        out.put("dimension", e.vector().length);
        out.put("pooling", e.pooling().name().toLowerCase(Locale.ROOT));
        out.put("model", model.name());
        Stats.put(out, e.stats());
        return out;
    }
}

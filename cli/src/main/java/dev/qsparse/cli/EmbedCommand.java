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
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
        name = "embed",
        mixinStandardHelpOptions = true,
        description = {
            "Embed a text: {\"embedding\": [...], ...} (L2-normalised; an encoder's only when its modules.json has a"
                    + " Normalize module).",
            "With --file, every non-empty line is embedded as its own text, the model loaded once, and one JSON"
                    + " object per line is printed as it is ready (JSON Lines), each with its \"line\" number."
        })
final class EmbedCommand implements Callable<Integer> {

    @Mixin
    ModelOptions modelOptions;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Input input;

    static final class Input {
        @Option(names = "--text", required = true, description = "Text to embed.")
        String text;

        @Option(
                names = "--file",
                required = true,
                paramLabel = "FILE",
                description = "UTF-8 text file, one text per line (blank lines skipped). Bounded by"
                        + " --max-file-bytes, --max-lines and --max-line-chars; binary content, a bound passed or"
                        + " a line the model cannot embed is an error naming the file and line (exit 1; the lines"
                        + " before it are already printed).")
        Path file;
    }

    @Option(
            names = "--pooling",
            description = "mean, last, cls or max (default: the model's own: an encoder's 1_Pooling, else mean).")
    String pooling;

    @Option(
            names = "--max-file-bytes",
            paramLabel = "N",
            defaultValue = "67108864",
            description = "Read at most N bytes of --file (default ${DEFAULT-VALUE}).")
    long maxFileBytes;

    @Option(
            names = "--max-lines",
            paramLabel = "N",
            defaultValue = "100000",
            description = "Most non-empty lines --file may hold (default ${DEFAULT-VALUE}).")
    int maxLines;

    @Option(
            names = "--max-line-chars",
            paramLabel = "N",
            defaultValue = "20000",
            description = "Longest line of --file, in code points (default ${DEFAULT-VALUE}); the model reads at most"
                    + " its context of it anyway.")
    int maxLineChars;

    @Option(
            names = "--batch",
            paramLabel = "N",
            defaultValue = "32",
            description = "Lines of --file embedded together (1 to 1024, default ${DEFAULT-VALUE}); results are"
                    + " the same at any batch size.")
    int batch;

    @Override
    public Integer call() throws Exception {
        Pooling p = pooling == null ? null : Pooling.fromName(pooling);
        if (input.file != null) {
            checkBounds();
        }
        try (Model model = modelOptions.load()) {
            InferenceSession session = model.newSession();
            if (input.text != null) {
                Json.print(object(model, session.embed(input.text, p)));
            } else {
                embedFile(model, session, p);
            }
            return 0;
        }
    }

    private void checkBounds() {
        if (maxFileBytes < 1) {
            throw new IllegalArgumentException("--max-file-bytes must be >= 1, got " + maxFileBytes);
        }
        if (maxLines < 1) {
            throw new IllegalArgumentException("--max-lines must be >= 1, got " + maxLines);
        }
        if (maxLineChars < 1) {
            throw new IllegalArgumentException("--max-line-chars must be >= 1, got " + maxLineChars);
        }
        if (batch < 1 || batch > 1024) {
            throw new IllegalArgumentException("--batch must be between 1 and 1024, got " + batch);
        }
    }

    /** Checks every line's bounds before the first is embedded, then embeds them a batch at a time. */
    private void embedFile(Model model, InferenceSession session, Pooling p) throws Exception {
        Path file = input.file;
        List<String> lines = TextFile.readLines(file, maxFileBytes);
        List<Integer> numbers = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            if (line.isBlank()) {
                continue;
            }
            int chars = line.codePointCount(0, line.length());
            if (chars > maxLineChars) {
                throw new IllegalArgumentException(file + ": line " + (i + 1) + " is " + chars
                        + " code points, over --max-line-chars " + maxLineChars);
            }
            if (numbers.size() == maxLines) {
                throw new IllegalArgumentException(
                        file + ": more than --max-lines " + maxLines + " non-empty lines (line " + (i + 1) + ")");
            }
            numbers.add(i);
        }
        if (numbers.isEmpty()) {
            throw new IllegalArgumentException(
                    file + ": no non-empty line to embed (" + lines.size() + " line(s), all blank)");
        }
        for (int from = 0; from < numbers.size(); from += batch) {
            List<Integer> chunk = numbers.subList(from, Math.min(numbers.size(), from + batch));
            List<InferenceRequest> requests = new ArrayList<>(chunk.size());
            for (int i : chunk) {
                requests.add(InferenceRequest.embed(lines.get(i), p));
            }
            List<InferenceResult> results = session.run(requests);
            for (int k = 0; k < chunk.size(); k++) {
                int line = chunk.get(k) + 1;
                if (results.get(k) instanceof InferenceResult.Failure f) {
                    throw new IllegalArgumentException(file + ": line " + line + ": " + f.reason());
                }
                Map<String, Object> out = new LinkedHashMap<>();
                out.put("line", line);
                out.putAll(object(model, (InferenceResult.Embedding) results.get(k)));
                Json.print(out);
            }
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

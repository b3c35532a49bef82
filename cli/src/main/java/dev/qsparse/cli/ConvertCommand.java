package dev.qsparse.cli;

import dev.qsparse.runtime.model.ModelConverter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(
        name = "convert",
        mixinStandardHelpOptions = true,
        description = {
            "Write a runtime-ready model directory (f32, int8 or ternary weights).",
            "Its weights load by memory-mapping alone, with no quantization at load, and every task on the machine",
            "shares them through the page cache. Prints {\"out\": DIR, \"weights\": ..., \"lm_head\": ...,",
            "\"lm_head_input\": ..., \"bytes\": ..., \"quantized_tensors\": ...}."
        })
final class ConvertCommand implements Callable<Integer> {

    @Option(
            names = "--model",
            required = true,
            paramLabel = "DIR",
            description = "Source model directory (float weights, or a packed Hugging Face BitNet checkpoint).")
    Path model;

    @Option(
            names = "--out",
            required = true,
            paramLabel = "DIR",
            description = "Directory to write (created if missing).")
    Path out;

    @Option(
            names = "--weights",
            required = true,
            paramLabel = "FORMAT",
            description = "f32 (as stored), int8 (per output channel) or ternary (BitNet b1.58, 2-bit packed).")
    String weights;

    @Option(
            names = "--lm-head",
            paramLabel = "FORMAT",
            defaultValue = "int8",
            description = "Format of the lm head with --weights int8|ternary: int8 (default) or f32.")
    String lmHead;

    @Option(
            names = "--lm-head-input",
            paramLabel = "FORMAT",
            description = "Input of an int8 lm head: int8 (default; quantized per token, so that a batch's lm head is"
                    + " an integer product: 16-sequence decode +7-9%%, held-out perplexity of the demo model +0.003-0.006%%)"
                    + " or f32 (as it comes).")
    String lmHeadInput;

    @Override
    public Integer call() throws Exception {
        ModelConverter.Target target = ModelConverter.Target.parse(weights);
        boolean lmHeadInt8 = isInt8("--lm-head", lmHead);
        boolean lmHeadInputInt8 = lmHeadInput == null ? lmHeadInt8 : isInt8("--lm-head-input", lmHeadInput);
        if (lmHeadInputInt8 && !lmHeadInt8) {
            throw new IllegalArgumentException("--lm-head-input int8 needs an int8 lm head (--lm-head int8)");
        }
        long start = System.nanoTime();
        ModelConverter.Result r = ModelConverter.convert(model, out, target, lmHeadInt8, lmHeadInputInt8);
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("out", r.directory().toString());
        json.put("weights", r.weights());
        json.put("lm_head", r.lmHead());
        json.put("lm_head_input", r.lmHeadInput());
        json.put("bytes", r.bytes());
        json.put("quantized_tensors", r.quantizedTensors());
        json.put("millis", (System.nanoTime() - start) / 1e6);
        Json.print(json);
        return 0;
    }

    /** An int8|f32 option's value: true for int8 ("float" and "none" also mean f32). */
    private static boolean isInt8(String option, String value) {
        return switch (value) {
            case "int8" -> true;
            case "f32", "float", "none" -> false;
            default -> throw new IllegalArgumentException(option + " must be int8 or f32, got " + value);
        };
    }
}

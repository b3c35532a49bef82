package dev.qsparse.runtime.model;

import dev.qsparse.runtime.safetensors.Checkpoint;
import dev.qsparse.runtime.safetensors.ModelLoadException;
import java.nio.file.Path;

/**
 * BitNet embedding models' BitLinear input norms (microsoft/bitnet-embedding-0.6b, a {@code qwen3}
 * config): every projection {@code P} has its own RMSNorm {@code P.norm.weight}, applied to its
 * input before the int8 activation quantization and the ternary product. Their names, as
 * Microsoft's {@code utils/convert-bitnet-embedding-to-gguf.py} maps them: {@code
 * layers.N.self_attn.{q,k,v,o}_proj.norm.weight} and {@code layers.N.mlp.{gate,up,down}_proj.norm.weight},
 * with or without the {@code model.} prefix. The checkpoint, not config.json, says whether a model
 * has them: the published config is a plain {@code qwen3} one.
 */
final class ProjectionNorms {

    static final String SUFFIX = ".norm.weight";

    private ProjectionNorms() {}

    /** Name of {@code P.weight}'s input norm. */
    static String of(String weightName) {
        return WeightLoader.prefix(weightName) + SUFFIX;
    }

    /**
     * Whether the directory's checkpoint holds a projection input norm. A directory whose weights
     * cannot be opened says no: the load that follows names what is wrong with them.
     */
    static boolean present(Path modelDir) {
        try (Checkpoint ckpt = Checkpoint.open(modelDir)) {
            for (String name : ckpt.tensorNames()) {
                if (name.endsWith("_proj" + SUFFIX)) {
                    return true;
                }
            }
            return false;
        } catch (ModelLoadException | RuntimeException e) {
            return false;
        }
    }
}

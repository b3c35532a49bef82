package dev.qsparse.runtime.model;

import dev.qsparse.runtime.safetensors.Checkpoint;

/**
 * Where a decoder checkpoint's tensors live: under {@code model.} as a {@code *ForCausalLM} saves
 * them, or at the top level as the base model ({@code Qwen3Model}) saves them, which is how
 * sentence-transformers writes an embedding model (Qwen3-Embedding, bitnet-embedding). The lm
 * head, when stored, is {@code lm_head.weight} either way.
 */
final class HubPrefix {

    static final String CAUSAL_LM = "model.";

    private HubPrefix() {}

    /** {@code model.} unless only the base model's {@code embed_tokens.weight} is there. */
    static String of(Checkpoint ckpt) {
        return !ckpt.contains(CAUSAL_LM + "embed_tokens.weight") && ckpt.contains("embed_tokens.weight")
                ? ""
                : CAUSAL_LM;
    }
}

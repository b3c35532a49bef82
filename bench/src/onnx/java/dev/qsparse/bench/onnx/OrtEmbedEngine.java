package dev.qsparse.bench.onnx;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.qsparse.bench.EmbedEngine;
import dev.qsparse.runtime.tokenizer.Tokenizer;
import dev.qsparse.runtime.tokenizer.WordPieceTokenizer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * ONNX Runtime directly on the sentence-transformers export (all-MiniLM-L6-v2.onnx from
 * langchain4j's jar): our WordPiece tokenizer (ids equal to DJL's, see WordPieceReferenceTest),
 * one run over the right-padded batch with its attention mask, then sentence-transformers' mean
 * pooling over the unmasked positions and L2 normalisation. {@code intra_op_num_threads} is the
 * bench's thread count, one inter-op thread.
 */
final class OrtEmbedEngine implements EmbedEngine {

    private final OrtEnvironment env;
    private final OrtSession session;
    private final WordPieceTokenizer tokenizer;
    private final int maxSeqLength;

    OrtEmbedEngine(OrtEnvironment env, Path onnx, Path tokenizerJson, int maxSeqLength, int threads) throws Exception {
        this.env = env;
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setIntraOpNumThreads(threads);
            options.setInterOpNumThreads(1);
            this.session = env.createSession(onnx.toString(), options);
        }
        this.tokenizer = (WordPieceTokenizer) Tokenizer.load(tokenizerJson);
        this.maxSeqLength = maxSeqLength;
    }

    @Override
    public String name() {
        return "onnxruntime " + env.getVersion() + " f32";
    }

    @Override
    public List<float[]> embed(List<String> texts) throws Exception {
        int n = texts.size();
        int[][] ids = new int[n][];
        int longest = 0;
        int[] prefix = tokenizer.prefixTokens().orElse(new int[0]);
        int[] suffix = tokenizer.suffixTokens();
        for (int i = 0; i < n; i++) {
            int[] text = tokenizer.encode(texts.get(i));
            int keep = Math.min(text.length, maxSeqLength - prefix.length - suffix.length);
            int[] t = new int[prefix.length + keep + suffix.length];
            System.arraycopy(prefix, 0, t, 0, prefix.length);
            System.arraycopy(text, 0, t, prefix.length, keep);
            System.arraycopy(suffix, 0, t, prefix.length + keep, suffix.length);
            ids[i] = t;
            longest = Math.max(longest, t.length);
        }
        long[] inputIds = new long[n * longest];
        long[] mask = new long[n * longest];
        long[] types = new long[n * longest];
        for (int i = 0; i < n; i++) {
            for (int p = 0; p < ids[i].length; p++) {
                inputIds[i * longest + p] = ids[i][p];
                mask[i * longest + p] = 1;
            }
        }
        long[] shape = {n, longest};
        try (OnnxTensor a = OnnxTensor.createTensor(env, LongBuffer.wrap(inputIds), shape);
                OnnxTensor m = OnnxTensor.createTensor(env, LongBuffer.wrap(mask), shape);
                OnnxTensor t = OnnxTensor.createTensor(env, LongBuffer.wrap(types), shape);
                OrtSession.Result r = session.run(Map.of("input_ids", a, "attention_mask", m, "token_type_ids", t))) {
            float[][][] hidden = (float[][][]) r.get(0).getValue();
            List<float[]> out = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                float[] v = new float[hidden[i][0].length];
                for (int p = 0; p < ids[i].length; p++) {
                    for (int d = 0; d < v.length; d++) {
                        v[d] += hidden[i][p][d];
                    }
                }
                double norm = 0;
                for (int d = 0; d < v.length; d++) {
                    v[d] /= ids[i].length;
                    norm += (double) v[d] * v[d];
                }
                float inv = (float) (1 / Math.sqrt(norm));
                for (int d = 0; d < v.length; d++) {
                    v[d] *= inv;
                }
                out.add(v);
            }
            return out;
        }
    }

    @Override
    public void close() throws Exception {
        session.close();
    }
}

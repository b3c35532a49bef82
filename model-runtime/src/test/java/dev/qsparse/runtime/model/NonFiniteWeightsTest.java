package dev.qsparse.runtime.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qsparse.runtime.Model;
import dev.qsparse.runtime.TestModels;
import dev.qsparse.runtime.safetensors.Checkpoint;
import dev.qsparse.runtime.safetensors.DType;
import dev.qsparse.runtime.safetensors.FiniteWeights;
import dev.qsparse.runtime.safetensors.ModelLoadException;
import dev.qsparse.runtime.safetensors.TensorInfo;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * One NaN or infinity planted in a weight of any checkpoint format (F32, F16, BF16, a BitNet
 * bf16 latent weight, a norm of a packed BitNet checkpoint, the seed model) fails the load and
 * {@code convert}, naming the file, the tensor and the element: before, F32 failed only the
 * requests that met the weight, and BitNet quantized NaN into a valid ternary code (finite, wrong
 * logits; convert wrote a clean-looking model).
 */
class NonFiniteWeightsTest {

    private static final Path FIXTURES = Path.of("src/test/resources/fixtures");
    private static final Path BITNET = Path.of("src/test/resources/fixtures-bitnet");

    @TempDir
    Path tmp;

    enum Poison {
        NAN("NaN"),
        POSITIVE_INFINITY("+Infinity"),
        NEGATIVE_INFINITY("-Infinity");

        final String shown;

        Poison(String shown) {
            this.shown = shown;
        }

        /** The poison's bits in {@code dtype}, little-endian. */
        void write(ByteBuffer b, int byteOffset, DType dtype) {
            switch (dtype) {
                case F32 ->
                    b.putFloat(
                            byteOffset,
                            this == NAN
                                    ? Float.NaN
                                    : this == POSITIVE_INFINITY ? Float.POSITIVE_INFINITY : Float.NEGATIVE_INFINITY);
                case BF16 ->
                    b.putShort(
                            byteOffset, (short) (this == NAN ? 0x7fc1 : this == POSITIVE_INFINITY ? 0x7f80 : 0xff80));
                case F16 ->
                    b.putShort(
                            byteOffset, (short) (this == NAN ? 0x7e01 : this == POSITIVE_INFINITY ? 0x7c00 : 0xfc00));
                default -> throw new IllegalArgumentException(dtype.name());
            }
        }
    }

    /** A model, one of its float tensors, the element to poison as [row, col] (or [i]), and a convert target. */
    record Case(String label, Path model, String tensor, long[] at, ModelConverter.Target convertTo) {
        @Override
        public String toString() {
            return label;
        }
    }

    static List<Case> cases() {
        return List.of(
                new Case(
                        "F32 projection",
                        TestModels.TEST_MODEL,
                        "model.layers.0.mlp.up_proj.weight",
                        new long[] {3, 5},
                        ModelConverter.Target.INT8),
                new Case(
                        "F32 tied embedding",
                        TestModels.TEST_MODEL,
                        "model.embed_tokens.weight",
                        new long[] {999, 47},
                        ModelConverter.Target.F32),
                new Case(
                        "F32 norm",
                        TestModels.TEST_MODEL,
                        "model.norm.weight",
                        new long[] {7},
                        ModelConverter.Target.TERNARY),
                new Case(
                        "BF16 projection",
                        FIXTURES.resolve("qsparse_bf16"),
                        "model.layers.0.self_attn.q_proj.weight",
                        new long[] {39, 0},
                        ModelConverter.Target.INT8),
                new Case(
                        "F16 projection",
                        FIXTURES.resolve("qsparse_f16"),
                        "model.layers.0.mlp.down_proj.weight",
                        new long[] {0, 63},
                        ModelConverter.Target.F32),
                new Case(
                        "BitNet bf16 latent weight",
                        BITNET.resolve("bitnet_bf16"),
                        "model.layers.0.mlp.up_proj.weight",
                        new long[] {10, 20},
                        ModelConverter.Target.TERNARY),
                new Case(
                        "BitNet bf16 sub-norm",
                        BITNET.resolve("bitnet_bf16"),
                        "model.layers.0.mlp.ffn_sub_norm.weight",
                        new long[] {127},
                        ModelConverter.Target.TERNARY),
                new Case(
                        "BitNet packed: norm",
                        BITNET.resolve("bitnet_packed"),
                        "model.layers.0.self_attn.attn_sub_norm.weight",
                        new long[] {1},
                        ModelConverter.Target.TERNARY),
                new Case(
                        "BitNet packed: embedding",
                        BITNET.resolve("bitnet_packed"),
                        "model.embed_tokens.weight",
                        new long[] {5, 6},
                        ModelConverter.Target.F32),
                new Case(
                        "seed F32",
                        FIXTURES.resolve("seed_float"),
                        "decoder_layers.0.feed_forward.w_up.weight",
                        new long[] {1, 2},
                        ModelConverter.Target.F32));
    }

    static Stream<Arguments> everyCaseAndPoison() {
        List<Arguments> out = new ArrayList<>();
        for (Case c : cases()) {
            for (Poison p : Poison.values()) {
                out.add(Arguments.of(c, p));
            }
        }
        return out.stream();
    }

    /** A copy of {@code c.model()} with one element of {@code c.tensor()} replaced by {@code poison}. */
    private Path poisoned(Case c, Poison poison) throws IOException {
        Path out = Files.createTempDirectory(tmp, "poisoned");
        try (Stream<Path> files = Files.list(c.model())) {
            for (Path f : files.toList()) {
                if (!f.getFileName().toString().endsWith(".safetensors")) {
                    Files.copy(f, out.resolve(f.getFileName()));
                }
            }
        }
        SafetensorsWriter writer = new SafetensorsWriter();
        try (Checkpoint ckpt = Checkpoint.open(c.model())) {
            for (String name : ckpt.tensorNames()) {
                TensorInfo info = ckpt.info(name);
                ByteBuffer src = ckpt.buffer(name);
                ByteBuffer copy = ByteBuffer.allocate(src.remaining()).order(ByteOrder.LITTLE_ENDIAN);
                copy.put(src.duplicate()).flip();
                if (name.equals(c.tensor())) {
                    long flat = c.at()[0];
                    if (c.at().length == 2) {
                        flat = c.at()[0] * info.dim(1) + c.at()[1];
                    }
                    poison.write(copy, Math.toIntExact(flat * info.dtype().bytes()), info.dtype());
                }
                writer.add(name, info.dtype().name(), info.shape(), info.byteLength(), () -> copy);
            }
            writer.write(out.resolve(Checkpoint.SINGLE_FILE));
        }
        return out;
    }

    private static void assertNames(Exception e, Path dir, Case c, Poison p) {
        String element =
                c.at().length == 2 ? "element [" + c.at()[0] + ", " + c.at()[1] + "]" : "element [" + c.at()[0] + "]";
        for (String part : new String[] {
            dir.resolve(Checkpoint.SINGLE_FILE).toString(), "'" + c.tensor() + "'", element, " is " + p.shown, "finite"
        }) {
            assertTrue(e.getMessage().contains(part), "'" + part + "' missing from: " + e.getMessage());
        }
    }

    @ParameterizedTest(name = "{0}, {1}")
    @MethodSource("everyCaseAndPoison")
    void aNonFiniteWeightFailsTheLoadNamingFileTensorAndElement(Case c, Poison p) throws IOException {
        // The unpoisoned copy loads: the failure is the planted value, not the copy.
        Path clean = poisonedNowhere(c);
        Model.load(clean).close();
        Path dir = poisoned(c, p);
        ModelLoadException e =
                assertThrows(ModelLoadException.class, () -> Model.load(dir).close());
        assertNames(e, dir, c, p);
    }

    @ParameterizedTest(name = "{0}, {1}")
    @MethodSource("everyCaseAndPoison")
    void convertRefusesANonFiniteWeightBeforeWritingAnything(Case c, Poison p) throws IOException {
        Path dir = poisoned(c, p);
        Path out = tmp.resolve("converted-" + System.nanoTime());
        ModelLoadException e =
                assertThrows(ModelLoadException.class, () -> ModelConverter.convert(dir, out, c.convertTo(), true));
        assertNames(e, dir, c, p);
        assertTrue(Files.notExists(out), "nothing written");
    }

    private Path poisonedNowhere(Case c) throws IOException {
        Path out = Files.createTempDirectory(tmp, "clean");
        try (Stream<Path> files = Files.list(c.model())) {
            for (Path f : files.toList()) {
                Files.copy(f, out.resolve(f.getFileName()));
            }
        }
        return out;
    }

    @Test
    void theScanFindsEveryPositionInEveryDtype() {
        // Every element position of a word and of the tail, each dtype: the SWAR test misses none.
        for (DType dtype : new DType[] {DType.F32, DType.F16, DType.BF16}) {
            int n = 37;
            for (int bad = 0; bad < n; bad++) {
                for (Poison p : Poison.values()) {
                    ByteBuffer b = ByteBuffer.allocate(n * dtype.bytes()).order(ByteOrder.LITTLE_ENDIAN);
                    for (int i = 0; i < n; i++) {
                        // Large finite values, all exponent bits but one set, both signs.
                        switch (dtype) {
                            case F32 -> b.putFloat(i * 4, (i % 2 == 0 ? 1 : -1) * Float.MAX_VALUE);
                            case F16 -> b.putShort(i * 2, (short) (i % 2 == 0 ? 0x7bff : 0xfbff));
                            default -> b.putShort(i * 2, (short) (i % 2 == 0 ? 0x7f7f : 0xff7f));
                        }
                    }
                    assertEquals(-1, FiniteWeights.firstNonFinite(b, dtype), dtype + " all finite");
                    p.write(b, bad * dtype.bytes(), dtype);
                    assertEquals(bad, FiniteWeights.firstNonFinite(b, dtype), dtype + " " + p + " at " + bad);
                }
            }
        }
        ByteBuffer d = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
        d.putDouble(0, Double.MAX_VALUE).putDouble(8, -1e300).putDouble(16, Double.NaN);
        assertEquals(2, FiniteWeights.firstNonFinite(d, DType.F64));
    }
}

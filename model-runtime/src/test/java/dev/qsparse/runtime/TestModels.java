package dev.qsparse.runtime;

import java.nio.file.Path;

/** Paths of the models committed under the test resources. */
public final class TestModels {

    /** Random-weight qsparse model with a real BPE tokenizer (training/make_test_model.py). */
    public static final Path TEST_MODEL = Path.of("src/test/resources/test-model");

    private TestModels() {}
}

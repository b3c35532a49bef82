package dev.qsparse.nativekernels;

import dev.qsparse.runtime.kernel.BatchBackend;
import dev.qsparse.runtime.kernel.BatchBackendProvider;
import java.util.List;

/** The native module's entry for {@link java.util.ServiceLoader}: its levels, and a backend at one of them. */
public final class NativeBatchBackendProvider implements BatchBackendProvider {

    @Override
    public List<String> levels() {
        return NativeKernels.LEVELS;
    }

    @Override
    public List<String> runnableLevels() {
        return NativeKernels.runnable();
    }

    @Override
    public BatchBackend open(String level) {
        return new NativeBatchBackend(level);
    }
}

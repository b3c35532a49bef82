package dev.qsparse.runtime.kernel;

/** Prints the backend a JVM picks; run by {@link KernelFallbackTest} in a JVM without the Vector API module. */
public final class FallbackMain {

    private FallbackMain() {}

    public static void main(String[] args) {
        System.out.println(KernelBackends.best().name());
    }
}

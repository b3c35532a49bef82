package dev.qsparse.runtime.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.Arrays;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** The start-up self-test covers every kernel, passes on this JVM, and names a kernel that disagrees. */
class KernelSelfTestTest {

    @Test
    void theTableNamesEveryKernelOfTheInterface() {
        Set<String> kernels = Arrays.stream(KernelBackend.class.getMethods())
                .filter(m ->
                        !Modifier.isStatic(m.getModifiers()) && !m.getName().equals("name"))
                .map(Method::getName)
                .collect(Collectors.toCollection(TreeSet::new));
        Set<String> checked = KernelSelfTest.CHECKS.stream()
                .map(KernelSelfTest.Check::kernel)
                .collect(Collectors.toCollection(TreeSet::new));
        assertEquals(kernels, checked);
        assertEquals(21, checked.size());
    }

    @Test
    void theVectorKernelsPassAndADisagreeingKernelIsNamed() {
        if (KernelBackends.vectorModulePresent()) {
            KernelSelfTest.run(new VectorBackend()); // throws naming a kernel that disagrees
        }
        // A backend whose softmax is off by one ulp somewhere: the check names it.
        KernelBackend scalar = KernelBackends.scalar();
        KernelBackend off = (KernelBackend) java.lang.reflect.Proxy.newProxyInstance(
                KernelBackend.class.getClassLoader(), new Class<?>[] {KernelBackend.class}, (p, m, a) -> {
                    Object r = m.invoke(scalar, a);
                    if (m.getName().equals("softmax")) {
                        float[] x = (float[]) a[0];
                        int i = (Integer) a[1];
                        x[i] = Math.nextUp(x[i]);
                    }
                    return r;
                });
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> KernelSelfTest.run(off));
        assertTrue(e.getMessage().endsWith(": softmax"), e.getMessage());
    }
}

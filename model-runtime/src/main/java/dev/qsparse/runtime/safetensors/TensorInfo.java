package dev.qsparse.runtime.safetensors;

import java.util.Arrays;

/**
 * One tensor's header entry: its dtype, shape and byte range relative to the start of the data
 * section. Validated by {@link SafetensorsFile} before it is handed out.
 */
public record TensorInfo(String name, DType dtype, long[] shape, long begin, long end) {

    public long byteLength() {
        return end - begin;
    }

    public long elementCount() {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        return n;
    }

    public int rank() {
        return shape.length;
    }

    public long dim(int i) {
        return shape[i];
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape);
    }
}

package dev.qsparse.runtime.kernel;

import dev.qsparse.runtime.safetensors.DType;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;

/**
 * Reads a memory-mapped tensor element by element as float32, whatever float dtype it is stored
 * in. F32 reads straight from the mapping; F16 and BF16 widen each element on the fly, so no
 * float copy of the weights is ever made.
 */
public abstract class FloatView {

    private final int size;

    FloatView(int size) {
        this.size = size;
    }

    public final int size() {
        return size;
    }

    public abstract float get(int index);

    /** The dtype as stored, so kernels can pick a specialised loop. */
    public abstract DType dtype();

    public static FloatView of(ByteBuffer littleEndian, DType dtype) {
        return switch (dtype) {
            case F32 -> new F32(littleEndian);
            case F16 -> new F16(littleEndian);
            case BF16 -> new BF16(littleEndian);
            default -> throw new IllegalArgumentException("not a float dtype: " + dtype);
        };
    }

    /** Copies into a new heap array: only for small tensors (norms, biases). */
    public float[] toArray() {
        float[] out = new float[size];
        for (int i = 0; i < size; i++) {
            out[i] = get(i);
        }
        return out;
    }

    static final class F32 extends FloatView {
        final FloatBuffer data;
        /** The same floats as little-endian bytes, for the vector kernels. */
        final ByteBuffer bytes;

        F32(ByteBuffer littleEndian) {
            super(littleEndian.remaining() / 4);
            this.bytes = littleEndian.slice().order(java.nio.ByteOrder.LITTLE_ENDIAN);
            this.data = this.bytes.asFloatBuffer();
        }

        @Override
        public float get(int index) {
            return data.get(index);
        }

        @Override
        public DType dtype() {
            return DType.F32;
        }
    }

    static final class F16 extends FloatView {
        private final ByteBuffer data;

        F16(ByteBuffer data) {
            super(data.remaining() / 2);
            this.data = data;
        }

        @Override
        public float get(int index) {
            return Half.toFloat(data.getShort(index * 2));
        }

        @Override
        public DType dtype() {
            return DType.F16;
        }
    }

    static final class BF16 extends FloatView {
        private final ByteBuffer data;
        /** The same bytes as 16-bit patterns, element 0 at index 0 (absolute reads only: shared by threads). */
        private final java.nio.ShortBuffer shorts;

        BF16(ByteBuffer data) {
            super(data.remaining() / 2);
            this.data = data;
            ByteBuffer whole = data.duplicate().order(data.order());
            whole.position(0);
            this.shorts = whole.asShortBuffer();
        }

        /** Copies {@code n} raw bfloat16 patterns from element {@code from} into {@code dst} (one bulk read). */
        void patterns(int from, short[] dst, int n) {
            shorts.get(from, dst, 0, n);
        }

        @Override
        public float get(int index) {
            // bfloat16 is the top half of a float32.
            return Float.intBitsToFloat((data.getShort(index * 2) & 0xffff) << 16);
        }

        @Override
        public DType dtype() {
            return DType.BF16;
        }
    }
}

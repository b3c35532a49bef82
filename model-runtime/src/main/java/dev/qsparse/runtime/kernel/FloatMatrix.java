package dev.qsparse.runtime.kernel;

import dev.qsparse.runtime.safetensors.DType;
import java.nio.FloatBuffer;

/** Row-major float weights read straight from a mapped tensor (F32, F16 or BF16). */
public final class FloatMatrix implements WeightMatrix {

    private final FloatView view;
    private final FloatBuffer f32;
    private final int rows;
    private final int cols;

    public FloatMatrix(FloatView view, int rows, int cols) {
        if ((long) rows * cols != view.size()) {
            throw new IllegalArgumentException("view of " + view.size() + " elements is not " + rows + "x" + cols);
        }
        this.view = view;
        this.f32 = view instanceof FloatView.F32 v ? v.data : null;
        this.rows = rows;
        this.cols = cols;
    }

    @Override
    public int rows() {
        return rows;
    }

    @Override
    public int cols() {
        return cols;
    }

    public float get(int r, int c) {
        return view.get(r * cols + c);
    }

    @Override
    public void matvec(float[] x, float[] out) {
        if (f32 != null) {
            for (int r = 0; r < rows; r++) {
                int base = r * cols;
                float sum = 0f;
                for (int c = 0; c < cols; c++) {
                    sum += f32.get(base + c) * x[c];
                }
                out[r] = sum;
            }
            return;
        }
        for (int r = 0; r < rows; r++) {
            int base = r * cols;
            float sum = 0f;
            for (int c = 0; c < cols; c++) {
                sum += view.get(base + c) * x[c];
            }
            out[r] = sum;
        }
    }

    @Override
    public void matvecSparse(float[] x, int[] index, int count, float[] out) {
        for (int r = 0; r < rows; r++) {
            int base = r * cols;
            float sum = 0f;
            for (int j = 0; j < count; j++) {
                int c = index[j];
                sum += view.get(base + c) * x[c];
            }
            out[r] = sum;
        }
    }

    @Override
    public void row(int r, float[] out) {
        int base = r * cols;
        for (int c = 0; c < cols; c++) {
            out[c] = view.get(base + c);
        }
    }

    public FloatView view() {
        return view;
    }

    @Override
    public String format() {
        return view.dtype().name();
    }

    @Override
    public long storedBytes() {
        return (long) rows * cols * (view.dtype() == DType.F32 ? 4 : 2);
    }
}

package dev.qsparse.runtime.kernel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.Random;
import org.junit.jupiter.api.Test;

class KeyBlocksTest {

    /** A run of positions, aligned to a block or not, across block ends or not, lands where single stores put it. */
    @Test
    void storingARunEqualsStoringEachPosition() {
        Random r = new Random(3);
        int kvStride = 40;
        for (int first : new int[] {0, 1, 15, 16, 17, 30}) {
            for (int count : new int[] {1, 2, 15, 16, 17, 33, 50}) {
                int positions = KeyBlocks.roundUp(first + count);
                float[][] keys = new float[count + 3][kvStride];
                for (float[] k : keys) {
                    for (int c = 0; c < kvStride; c++) {
                        k[c] = r.nextFloat();
                    }
                }
                float[] one = new float[positions * kvStride];
                float[] run = new float[positions * kvStride];
                for (int j = 0; j < count; j++) {
                    KeyBlocks.store(one, first + j, kvStride, keys[2 + j], 0);
                }
                KeyBlocks.storeRun(run, first, count, kvStride, keys, 2);
                assertArrayEquals(one, run, "first " + first + " count " + count);
            }
        }
    }
}

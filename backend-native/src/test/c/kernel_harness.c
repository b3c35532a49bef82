/*
 * The native kernels without a JVM: every level this CPU runs against a scalar reference written
 * from the products' definitions (BatchBackend's javadoc), and, with "bench", their times.
 *
 *   kernel_harness            check every runnable level; exit 1 on the first difference
 *   kernel_harness bench      time each level on model-sized shapes (one thread)
 *   kernel_harness one LEVEL LAYOUT ROWS COLS COUNT KEEP    time one product
 *   kernel_harness decode LEVEL float|int8 [TOKENS] [small|2b4t]  emulate decode steps (see decode())
 *
 * Integer products and the int8 x float product must equal the reference bit for bit (exact integer
 * sums, the same float operations in the same order); float32 products must equal the reference of
 * their fixed order (16 lane partials, halving tree, tail), bit for bit, whichever kernel (dot
 * product or register-blocked tile) a batch size and row range pick.
 */
#define _POSIX_C_SOURCE 199309L
#include "../../main/c/qsparse_kernels.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t state = 88172645463325252ULL;

static uint32_t next(void) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return (uint32_t)(state >> 16);
}

static float gaussianish(void) {
    return ((int)(next() % 2001) - 1000) / 250.0f;
}

static void *zalloc(size_t bytes) {
    void *p = calloc(1, bytes + 64);
    if (p == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

struct problem {
    int rows, padded, cols, count;
    long stride, xstride;
    int8_t *weights;      /* int8 columns, ternary columns or f32 rows */
    float *row_scales;
    float *x;
    float *token_scales;
    int32_t *token_sums;
    int32_t *index, *counts;
    float *out, *expected;
    int8_t *scratch;
};

static void fill_activations(struct problem *p, int integer, double keep) {
    for (int t = 0; t < p->count; t++) {
        int32_t sum = 0;
        int n = 0;
        for (int c = 0; c < p->cols; c++) {
            float v = 0;
            if ((next() % 1000) < keep * 1000) {
                /* the extremes -128 and 127 included */
                v = integer ? (float)((int)(next() % 256) - 128) : gaussianish();
            }
            p->x[(long)t * p->xstride + c] = v;
            sum += (int32_t)v;
            if (v != 0) {
                p->index[(long)t * p->xstride + n++] = c;
            }
        }
        p->token_sums[t] = sum;
        p->counts[t] = n;
        p->token_scales[t] = 0.01f + (next() % 1000) / 1000.0f;
    }
    /*
     * Pairs of inputs with the same kept columns (the kernels that share weight loads): row 1 keeps
     * row 0's columns, with its own values there.
     */
    if (p->count > 2) {
        memcpy(p->index + p->xstride, p->index, 4 * p->xstride);
        p->counts[1] = p->counts[0];
        float *x0 = p->x, *x1 = p->x + p->xstride;
        int32_t sum = 0;
        for (int c = 0; c < p->cols; c++) {
            x1[c] = x0[c] == 0 ? 0 : (integer ? (float)((int)(next() % 255) - 127) : gaussianish());
            x1[c] = x0[c] != 0 && x1[c] == 0 ? 1 : x1[c];
            sum += (int32_t)x1[c];
        }
        p->token_sums[1] = sum;
    }
}

static struct problem make(int layout, int rows, int cols, int count, double keep) {
    struct problem p;
    memset(&p, 0, sizeof p);
    p.rows = rows;
    p.padded = layout == QS_F32_ROWS ? rows : (rows + 63) / 64 * 64;
    p.cols = cols;
    p.count = count;
    p.xstride = (cols + 63) / 64 * 64;
    p.stride = layout == QS_INT8_COLUMNS ? p.padded : layout == QS_TERNARY_COLUMNS ? p.padded / 4 : cols;
    long weight_bytes = layout == QS_F32_ROWS ? 4L * rows * cols : (long)cols * p.stride;
    p.weights = zalloc(weight_bytes);
    if (layout == QS_INT8_COLUMNS) {
        for (long i = 0; i < weight_bytes; i++) {
            p.weights[i] = (int8_t)((int)(next() % 255) - 127);
        }
    } else if (layout == QS_TERNARY_COLUMNS) {
        for (long i = 0; i < weight_bytes; i++) {
            uint8_t b = 0;
            for (int k = 0; k < 4; k++) {
                b |= (uint8_t)((next() % 3) << (2 * k));
            }
            p.weights[i] = (int8_t)b;
        }
    } else {
        float *w = (float *)p.weights;
        for (long i = 0; i < (long)rows * cols; i++) {
            w[i] = gaussianish();
        }
    }
    p.row_scales = zalloc(4L * p.padded);
    for (int o = 0; o < p.padded; o++) {
        p.row_scales[o] = o < rows ? 0.001f + (next() % 1000) / 100000.0f : 0;
    }
    p.x = zalloc(4L * count * p.xstride);
    p.index = zalloc(4L * count * p.xstride);
    p.counts = zalloc(4L * count);
    p.token_scales = zalloc(4L * count);
    p.token_sums = zalloc(4L * count);
    fill_activations(&p, layout != QS_F32_ROWS && keep >= 0, keep < 0 ? -keep : keep);
    p.out = zalloc(4L * count * p.padded);
    p.expected = zalloc(4L * count * p.padded);
    p.scratch = zalloc(qs_scratch_bytes(cols, count, p.xstride));
    return p;
}

static void release(struct problem *p) {
    free(p->weights);
    free(p->row_scales);
    free(p->x);
    free(p->index);
    free(p->counts);
    free(p->token_scales);
    free(p->token_sums);
    free(p->out);
    free(p->expected);
    free(p->scratch);
}

static int ternary_code(const struct problem *p, int o, int c) {
    /* 64 outputs per 16 bytes: output 16m + i of a group in byte i, bits 2m..2m+1 */
    uint8_t b = (uint8_t)p->weights[(long)c * p->stride + (o / 64) * 16 + o % 16];
    return ((b >> (2 * ((o % 64) / 16))) & 3) - 1;
}

/* The definitions, one output at a time. */
static void reference(int layout, int float_activations, struct problem *p) {
    for (int t = 0; t < p->count; t++) {
        const float *x = p->x + (long)t * p->xstride;
        for (int o = 0; o < p->padded; o++) {
            float v;
            if (layout == QS_F32_ROWS) {
                const float *w = (const float *)p->weights + (long)o * p->cols;
                float part[16] = {0};
                int c16 = p->cols / 16 * 16;
                for (int c = 0; c < c16; c++) {
                    part[c % 16] = fmaf(w[c], x[c], part[c % 16]);
                }
                for (int half = 8; half >= 1; half /= 2) {
                    for (int j = 0; j < half; j++) {
                        part[j] = part[j] + part[j + half];
                    }
                }
                v = part[0];
                for (int c = c16; c < p->cols; c++) {
                    v = fmaf(w[c], x[c], v);
                }
            } else if (float_activations == 1) {
                float acc = 0;
                for (int j = 0; j < p->counts[t]; j++) {
                    int c = p->index[(long)t * p->xstride + j];
                    acc = fmaf((float)p->weights[(long)c * p->stride + o], x[c], acc);
                }
                v = acc * p->row_scales[o] * p->token_scales[t];
            } else if (layout == QS_INT8_COLUMNS) {
                int64_t sum = 0;
                for (int c = 0; c < p->cols; c++) {
                    sum += (int64_t)p->weights[(long)c * p->stride + o] * (int64_t)x[c];
                }
                v = (float)sum * p->row_scales[o] * p->token_scales[t];
                if (float_activations == 3) {
                    int32_t raw = (int32_t)sum;
                    memcpy(&v, &raw, 4);
                }
            } else {
                int64_t sum = 0; /* codes 0..2 against x, less the activation sum: code - 1 per weight */
                for (int c = 0; c < p->cols; c++) {
                    sum += (int64_t)(ternary_code(p, o, c) + 1) * (int64_t)x[c];
                }
                v = (float)(int32_t)(sum - p->token_sums[t]) * p->token_scales[t];
                if (float_activations == 3) {
                    int32_t raw = (int32_t)sum; /* the code sums, before the activation sum comes off */
                    memcpy(&v, &raw, 4);
                }
            }
            p->expected[(long)t * p->padded + o] = v;
        }
    }
}

/* float_activations: 0 integer batch product, 1 int8 x float, 2 sparse integer product (index lists). */
static void run(const struct qs_level *l, int layout, int float_activations, struct problem *p, long o0, long len) {
    struct qs_weights w = {layout, p->weights, p->stride, p->padded, p->cols, p->row_scales, o0, len};
    struct qs_batch b = {p->x, p->count, p->xstride, p->token_scales, p->token_sums, p->index, p->counts};
    struct qs_output o = {p->out, p->padded, p->scratch, float_activations == 3};
    if (layout == QS_F32_ROWS) {
        l->f32_rows(&w, &b, &o);
    } else if (float_activations >= 2) {
        l->integer_sparse(&w, &b, &o);
    } else if (float_activations) {
        l->int8_float(&w, &b, &o);
    } else {
        l->integer(&w, &b, &o);
    }
}

static const char *what(int layout, int float_activations) {
    if (float_activations >= 2) {
        return layout == QS_INT8_COLUMNS ? (float_activations == 2 ? "int8 sparse" : "int8 sparse sums")
                                         : (float_activations == 2 ? "ternary sparse" : "ternary sparse sums");
    }
    return layout == QS_F32_ROWS ? "f32" : float_activations ? "int8 x float" : layout == QS_INT8_COLUMNS ? "int8" : "ternary";
}

/* Every output of every row equal, bit for bit; split in two calls to test o0 > 0. */
static int check(const struct qs_level *l, int layout, int float_activations, int rows, int cols, int count) {
    struct problem p = make(layout, rows, cols, count, float_activations == 1 || layout == QS_F32_ROWS ? -0.6 : 0.6);
    reference(layout, float_activations, &p);
    long split = layout == QS_F32_ROWS ? p.padded / 2 : p.padded / 128 * 64;
    if (split > 0) {
        run(l, layout, float_activations, &p, 0, split);
    }
    run(l, layout, float_activations, &p, split, p.padded - split);
    int bad = 0;
    for (int t = 0; t < count && !bad; t++) {
        for (int o = 0; o < rows; o++) {
            float e = p.expected[(long)t * p.padded + o], a = p.out[(long)t * p.padded + o];
            if (memcmp(&e, &a, 4) != 0) { /* as bits: the sums modes compare int32s */
                printf("level %s: MISMATCH %s %dx%d batch %d: row %d output %d expected %.9g got %.9g\n", l->name,
                       what(layout, float_activations), rows, cols, count, t, o, e, a);
                bad = 1;
                break;
            }
        }
    }
    release(&p);
    return bad;
}

/*
 * Extremes where a narrower sum would overflow: every activation -128 or 127 against weights all
 * +-127 (int8) or codes all 2 or all 0 (ternary), over 3072 inputs (many int16 chunks of the
 * ternary sparse kernel), for the batch, sparse and sparse-sums products.
 */
static int check_extremes(const struct qs_level *l) {
    int bad = 0;
    int layouts[] = {QS_INT8_COLUMNS, QS_TERNARY_COLUMNS};
    int modes[] = {0, 2, 3};
    for (int k = 0; k < 2; k++) {
        for (int m = 0; m < 3; m++) {
            for (int variant = 0; variant < 4; variant++) {
                int count = modes[m] == 0 ? 4 : 1;
                struct problem p = make(layouts[k], 384, 3072, count, 1.0); /* a wide block and a tail */
                float xv = variant % 2 == 0 ? -128.0f : 127.0f;
                long weight_bytes = (long)p.cols * p.stride;
                for (long i = 0; i < weight_bytes; i++) {
                    if (layouts[k] == QS_INT8_COLUMNS) {
                        p.weights[i] = (int8_t)(variant < 2 ? 127 : -127);
                    } else {
                        p.weights[i] = (int8_t)(variant < 2 ? 0xAA : 0x00); /* codes 2 (+1) or 0 (-1) */
                    }
                }
                for (int t = 0; t < count; t++) {
                    for (int c = 0; c < p.cols; c++) {
                        p.x[(long)t * p.xstride + c] = xv;
                        p.index[(long)t * p.xstride + c] = c;
                    }
                    p.counts[t] = p.cols;
                    p.token_sums[t] = (int32_t)xv * p.cols;
                }
                reference(layouts[k], modes[m], &p);
                run(l, layouts[k], modes[m], &p, 0, p.padded);
                if (memcmp(p.out, p.expected, 4L * count * p.padded) != 0) {
                    printf("level %s: MISMATCH at extremes: %s, variant %d\n", l->name, what(layouts[k], modes[m]),
                           variant);
                    bad = 1;
                }
                release(&p);
            }
        }
    }
    return bad;
}

static double seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void bench(const struct qs_level *l, int layout, int float_activations, int rows, int cols, int count,
                  double keep) {
    struct problem p = make(layout, rows, cols, count, float_activations == 1 || layout == QS_F32_ROWS ? -1.0 : keep);
    double best = 1e9;
    for (int rep = 0; rep < 7; rep++) {
        double t0 = seconds();
        run(l, layout, float_activations, &p, 0, p.padded);
        double dt = seconds() - t0;
        best = dt < best ? dt : best;
    }
    printf("%-12s %-15s %5d x %5d batch %3d keep %3.0f%%: %9.4f ms\n", l->name, what(layout, float_activations), rows,
           cols, count, keep * 100, best * 1e3);
    release(&p);
}

/*
 * Decode steps of a BitNet shape as the engine runs its products: per token each layer's 7 ternary
 * single-input products over their own weights (MLP down with half its inputs kept, as ReLU^2 leaves
 * them), then the int8 lm head on float ("float") or int8 ("int8") activations. small: hidden 768,
 * 12 layers, 3 KV heads, MLP 3072, vocab 32000, 46 MB a token; 2b4t: hidden 2560, 30 layers, 5 KV
 * heads, MLP 6912, vocab 128256, 0.8 GB a token. Both exceed the L3 of most machines, so the products
 * run from memory as in the engine, where the one-product timings run in cache; at 0.8 GB the page
 * walks of 4 KB pages count too (the engine's working set at 2B4T). Prints each product's fastest
 * token over the run.
 */
static void decode(const struct qs_level *l, int head_floats, int tokens, int big) {
    static const int small_shapes[7][2] = {{768, 768}, {192, 768}, {192, 768}, {768, 768}, {3072, 768}, {3072, 768},
                                           {768, 3072}};
    static const int big_shapes[7][2] = {{2560, 2560}, {640, 2560}, {640, 2560}, {2560, 2560}, {6912, 2560},
                                         {6912, 2560}, {2560, 6912}};
    static const char *names[7] = {"q", "k", "v", "o", "gate", "up", "down"};
    const int(*shapes)[2] = big ? big_shapes : small_shapes;
    int n_layers = big ? 30 : 12;
    struct problem(*layers)[7] = malloc(sizeof(struct problem[7]) * n_layers);
    if (layers == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    for (int layer = 0; layer < n_layers; layer++) {
        for (int k = 0; k < 7; k++) {
            layers[layer][k] = make(QS_TERNARY_COLUMNS, shapes[k][0], shapes[k][1], 1, k == 6 ? 0.5 : 1.0);
        }
    }
    struct problem head = make(QS_INT8_COLUMNS, big ? 128256 : 32000, big ? 2560 : 768, 1, head_floats ? -1.0 : 1.0);
    double best[8], ternary_best = 1e9;
    for (int k = 0; k < 8; k++) {
        best[k] = 1e9;
    }
    for (int t = 0; t < tokens; t++) {
        double per[7] = {0}, ternary = 0;
        for (int layer = 0; layer < n_layers; layer++) {
            for (int k = 0; k < 7; k++) {
                double t0 = seconds();
                run(l, QS_TERNARY_COLUMNS, 2, &layers[layer][k], 0, layers[layer][k].padded);
                double dt = seconds() - t0;
                per[k] += dt;
                ternary += dt;
            }
        }
        double t0 = seconds();
        run(l, QS_INT8_COLUMNS, head_floats ? 1 : 2, &head, 0, head.padded);
        double dt = seconds() - t0;
        for (int k = 0; k < 7; k++) {
            best[k] = per[k] < best[k] ? per[k] : best[k];
        }
        best[7] = dt < best[7] ? dt : best[7];
        ternary_best = ternary < ternary_best ? ternary : ternary_best;
    }
    printf("%s decode (%s shape), %d tokens, fastest token (us): ternary %.0f (", l->name, big ? "2b4t" : "small", tokens,
           ternary_best * 1e6);
    for (int k = 0; k < 7; k++) {
        printf("%s%s %.0f", k ? ", " : "", names[k], best[k] * 1e6);
    }
    printf("), lm head %s %.0f\n", head_floats ? "int8 x float" : "int8 sparse", best[7] * 1e6);
    for (int layer = 0; layer < n_layers; layer++) {
        for (int k = 0; k < 7; k++) {
            release(&layers[layer][k]);
        }
    }
    free(layers);
    release(&head);
}

int main(int argc, char **argv) {
    int timing = argc > 1 && strcmp(argv[1], "bench") == 0;
    if (argc > 1 && strcmp(argv[1], "one") == 0 && argc == 8) {
        /* kernel_harness one LEVEL LAYOUT(int8|ternary|float|f32) ROWS COLS COUNT KEEP: one timed product */
        for (int i = 0; i < QS_LEVELS; i++) {
            if (strcmp(qs_levels[i]->name, argv[2]) == 0 && qs_levels[i]->supported()) {
                int f = strcmp(argv[3], "float") == 0 ? 1 : 2;
                int layout = strcmp(argv[3], "ternary") == 0 ? QS_TERNARY_COLUMNS
                             : strcmp(argv[3], "f32") == 0    ? QS_F32_ROWS
                                                              : QS_INT8_COLUMNS;
                int count = atoi(argv[6]);
                bench(qs_levels[i], layout, layout == QS_F32_ROWS ? 0 : (count >= 4 && f == 2 ? 0 : f), atoi(argv[4]),
                      atoi(argv[5]), count, atof(argv[7]));
                return 0;
            }
        }
        return 2;
    }
    if (argc > 3 && strcmp(argv[1], "decode") == 0) {
        for (int i = 0; i < QS_LEVELS; i++) {
            if (strcmp(qs_levels[i]->name, argv[2]) == 0 && qs_levels[i]->supported()) {
                decode(qs_levels[i], strcmp(argv[3], "float") == 0, argc > 4 ? atoi(argv[4]) : 100,
                       argc > 5 && strcmp(argv[5], "2b4t") == 0);
                return 0;
            }
        }
        return 2;
    }
    /* 1088 and 9024 rows: whole 256-output blocks of the wide ternary kernel, a tail, two tiles of 4096 */
    static const int shapes[][2] = {{64, 4}, {100, 3}, {320, 130}, {192, 768}, {64, 1}, {5, 17}, {33, 256},
                                    {1088, 24}, {9024, 9}};
    static const int counts[] = {1, 2, 3, 4, 5, 7, 13, 64};
    int failures = 0;
    for (int i = 0; i < QS_LEVELS; i++) {
        const struct qs_level *l = qs_levels[i];
        __builtin_cpu_init();
        if (!l->supported()) {
            printf("level %s: skipped, this CPU lacks it\n", l->name);
            continue;
        }
        if (timing) {
            int layouts[] = {QS_INT8_COLUMNS, QS_TERNARY_COLUMNS};
            for (int k = 0; k < 2; k++) {
                bench(l, layouts[k], 0, 2048, 768, 16, 0.5);
                bench(l, layouts[k], 0, 2048, 768, 64, 0.5);
                /* decode: one input, dense and half its columns kept, in cache and from memory (64 MB) */
                bench(l, layouts[k], 2, 2048, 768, 1, 1.0);
                bench(l, layouts[k], 2, 2048, 768, 1, 0.5);
                bench(l, layouts[k], 2, 8192, 8192, 1, 1.0);
                bench(l, layouts[k], 2, 8192, 8192, 1, 0.5);
            }
            bench(l, QS_INT8_COLUMNS, 1, 32000, 768, 16, 1.0);
            bench(l, QS_INT8_COLUMNS, 1, 32000, 768, 1, 1.0);
            bench(l, QS_F32_ROWS, 0, 2048, 768, 1, 1.0);
            bench(l, QS_F32_ROWS, 0, 2048, 768, 16, 1.0);
            continue;
        }
        int checks = 0, bad = 0;
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
                int rows = shapes[s][0], cols = shapes[s][1], count = counts[c];
                bad |= check(l, QS_INT8_COLUMNS, 0, rows, cols, count);
                bad |= check(l, QS_TERNARY_COLUMNS, 0, rows, cols, count);
                bad |= check(l, QS_INT8_COLUMNS, 1, rows, cols, count);
                bad |= check(l, QS_F32_ROWS, 0, rows, cols, count);
                bad |= check(l, QS_INT8_COLUMNS, 2, rows, cols, count);
                bad |= check(l, QS_TERNARY_COLUMNS, 2, rows, cols, count);
                bad |= check(l, QS_INT8_COLUMNS, 3, rows, cols, count);
                bad |= check(l, QS_TERNARY_COLUMNS, 3, rows, cols, count);
                checks += 8;
            }
        }
        bad |= check_extremes(l);
        checks += 24;
        /*
         * Float32 batches: every count that picks a different mix of register-blocked tiles (blocks
         * of 48 or 32 inputs) and dot-product kernels, rows off the 8-row strips, columns off 16 and
         * off the 256-column blocks, one to three column blocks.
         */
        static const int f32_shapes[][2] = {{37, 781}, {96, 300}, {13, 16}, {24, 1029}, {9, 5}};
        static const int f32_counts[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 27, 28, 31, 32, 33, 40, 41, 47,
                                         48, 49, 63, 64, 65, 79, 80, 96, 100, 128, 131};
        for (size_t s = 0; s < sizeof f32_shapes / sizeof f32_shapes[0]; s++) {
            for (size_t c = 0; c < sizeof f32_counts / sizeof f32_counts[0]; c++) {
                bad |= check(l, QS_F32_ROWS, 0, f32_shapes[s][0], f32_shapes[s][1], f32_counts[c]);
                checks++;
            }
        }
        printf("level %s: %s (%d products checked)\n", l->name, bad ? "FAILED" : "ok", checks);
        failures += bad;
    }
    return failures == 0 ? 0 : 1;
}

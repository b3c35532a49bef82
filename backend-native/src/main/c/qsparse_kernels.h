/*
 * The native products of qsparse's batch backend, one table of functions per x86 level. The Java
 * side's records (WeightSlice, ActivationBatch, OutputBlock) are read into the three structs below at
 * the JNI boundary (jni_boundary.c), where every size is checked against its buffer in 64-bit
 * arithmetic; the kernels trust what they are given. The test harness (src/test/c) calls the same
 * tables without a JVM.
 */
#ifndef QSPARSE_KERNELS_H
#define QSPARSE_KERNELS_H

#include <stdint.h>

#define QS_BLOCK 64 /* outputs per column block: o0 and len of the column layouts are multiples of it */

/* WeightSlice.Layout, by ordinal. */
enum qs_layout { QS_INT8_COLUMNS = 0, QS_TERNARY_COLUMNS = 1, QS_F32_ROWS = 2 };

/* Which outputs of which weights (WeightSlice). */
struct qs_weights {
    int layout;
    const int8_t *bytes;     /* column layouts: [cols][stride] bytes; F32_ROWS: rows x cols floats */
    int64_t stride;          /* column layouts: bytes per column; F32_ROWS: floats per row (= cols) */
    int64_t rows;            /* outputs (column layouts: padded to QS_BLOCK) */
    int64_t cols;            /* inputs */
    const float *row_scales; /* INT8_COLUMNS: one per output; else NULL */
    int64_t o0, len;         /* the outputs this call computes */
};

/* The inputs (ActivationBatch). */
struct qs_batch {
    const float *x; /* count rows of stride floats (int8 activations as integers), zero past cols */
    int64_t count, stride;
    const float *token_scales;  /* one per row (column layouts) */
    const int32_t *token_sums;  /* ternary: one per row */
    const int32_t *index;       /* float activations on int8 weights: count rows of stride column numbers */
    const int32_t *counts;      /* with index: kept columns per row */
};

/* Where results go (OutputBlock). */
struct qs_output {
    float *values; /* count rows of stride floats; output o of row t at t * stride + o */
    int64_t stride;
    int8_t *scratch; /* integer products: qs_scratch_bytes(); else NULL */
    int sums;        /* sparse integer products: 1 = write the exact int32 sums, unfinished */
};

/* One instruction level's products. */
struct qs_level {
    const char *name;     /* as qsparse.native.level names it */
    int (*supported)(void); /* whether this CPU runs it */
    void (*integer)(const struct qs_weights *, const struct qs_batch *, const struct qs_output *);
    /* Each input over its own kept columns (index, counts), no repack: decode steps. */
    void (*integer_sparse)(const struct qs_weights *, const struct qs_batch *, const struct qs_output *);
    void (*int8_float)(const struct qs_weights *, const struct qs_batch *, const struct qs_output *);
    void (*f32_rows)(const struct qs_weights *, const struct qs_batch *, const struct qs_output *);
};

/* Best first: the order of NativeKernels.LEVELS on the Java side. */
extern const struct qs_level qs_level_avx512_vnni;
extern const struct qs_level qs_level_avx_vnni;
extern const struct qs_level qs_level_avx2;
#define QS_LEVELS 3
extern const struct qs_level *const qs_levels[QS_LEVELS];

/* always_inline: a call from the kernels' AVX loops costs more than the prefetches (2.5x the ternary decode time) */
#define QS_INLINE static inline __attribute__((always_inline))

/*
 * Every cache line that [from, from + bytes) touches, fetched into L1. A column's run seldom starts on
 * a line: the tensors of a safetensors file sit at any offset (the small BitNet model's at 4-byte steps),
 * and a loop of 64-byte steps from the run's first byte leaves out its last, partial line, which the
 * kernel then waits for: a 768-output ternary column (192 bytes) spans 4 lines, not 3.
 */
QS_INLINE void qs_prefetch_lines(const int8_t *from, long bytes) {
    const int8_t *end = from + bytes;
    for (const int8_t *line = (const int8_t *)((uintptr_t)from & ~(uintptr_t)63); line < end; line += 64) {
        __builtin_prefetch(line, 0, 3);
    }
}

/*
 * The runs [from, from + run) of a quad of kept columns (cp[0..3], in column order), fetched ahead.
 * Four columns within 16 (a quarter of them kept or more) as the whole span, dropped columns too: one
 * sequential stream instead of four short ones (decode emulation, a 768 x 3072 ternary matrix with
 * half its columns kept: 310 -> 290 us a token at the AVX2 level).
 */
QS_INLINE void qs_prefetch_quad(const int8_t *const *cp, long from, long run) {
    const int8_t *first = cp[0] + from, *last = cp[3] + from;
    if (last >= first && last - first <= 15 * run) {
        qs_prefetch_lines(first, last - first + run);
    } else {
        for (int k = 0; k < 4; k++) {
            qs_prefetch_lines(cp[k] + from, run);
        }
    }
}

/*
 * How many quads ahead a sparse ternary kernel fetches, for runs of run bytes: about 6 KB of column
 * runs, 2 to 16 quads. A fixed count of columns is too near for short runs (a 768-output matrix: 192
 * bytes a column, scattered when half the columns are kept) or, for long ones, evicts the lines from
 * L1 before their use (decode emulation of the small BitNet shape).
 */
QS_INLINE int qs_ternary_quads_ahead(long run) {
    long quads = 6144 / (4 * run);
    return quads < 2 ? 2 : quads > 16 ? 16 : (int)quads;
}

/* Scratch of one sparse integer call: an input's activation bytes and column addresses. */
static inline int64_t qs_sparse_scratch_bytes(int64_t cols) {
    return (cols + 4 + 7) / 8 * 8 + (cols + 4) * 8;
}

/*
 * Scratch of one integer call at any level: the repacked weight block, the activations as bytes, and
 * the block's int32 sums per row. In 64 bits: (cols + 3) / 4 wraps in int arithmetic near 2^31.
 */
static inline int64_t qs_scratch_bytes(int64_t cols, int64_t count, int64_t xstride) {
    return (cols + 3) / 4 * 256 + count * xstride + count * QS_BLOCK * 4;
}

#endif

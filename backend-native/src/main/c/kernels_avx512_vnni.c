/*
 * The AVX-512 VNNI level: integer micro-batch products for qsparse's column weight formats, and
 * AVX-512 float32 products.
 *
 * The weights come as model-runtime stores them: input-channel major, column c holds every output's
 * weight (int8: one byte per output; ternary: 2-bit codes, 64 outputs per 16 bytes, output 16k+i of
 * a group in byte i, bits 2k..2k+1). VNNI's vpdpbusd wants, per 32-bit lane (one output), four
 * consecutive inputs, so each call repacks one block of 64 outputs at a time into
 * [input group of 4][64 outputs][4 inputs] (int8 outputs permuted, see pack_int8_block) in an
 * L2-sized scratch, then runs every activation row of the batch over it: the repack is paid once per
 * block and call, the products count times.
 *
 * vpdpbusd multiplies unsigned by signed bytes. Int8 weights are signed, so activations go in as
 * x + 128 (unsigned) and 128 * sum_c W[o,c] is taken off at the end. Ternary codes (0, 1, 2) are
 * unsigned already and the activations stay signed. Every sum is an exact int32, and the float
 * finish repeats the Java kernels' operations in their order: results equal theirs bit for bit.
 */
#include "qsparse_kernels.h"

#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK QS_BLOCK /* outputs per block: 4 zmm registers of 16 int32 lanes */
/*
 * Int8 weights: each block reads 64 bytes of every column, the columns thousands of bytes apart,
 * too many streams for the hardware prefetchers; asking for the same column two blocks ahead
 * keeps more reads in flight (measured: 13.5 -> 11.5 ms for one row over the 113 MB of a seed-shape
 * model, 8.2 -> 7.2 ms for a 16-row lm head product). Ternary slices share lines and gain nothing.
 */
#define PREFETCH_AHEAD 128

#define VNNI __attribute__((target("avx512f,avx512bw,avx512vnni,fma")))
#define VNNI_INLINE static inline __attribute__((always_inline, target("avx512f,avx512bw,avx512vnni,fma")))

enum { FORMAT_INT8 = QS_INT8_COLUMNS, FORMAT_TERNARY = QS_TERNARY_COLUMNS };

/*
 * The repacked order of an int8 group's 64 outputs: output 16q + 4m + i (q, m, i in 0..3) in lane 4q + i of
 * vector m, each lane four inputs' bytes. 512-bit unpacks give exactly that from four columns (they
 * work within each 128-bit lane q), so the repack needs no lane crossing; the sums come out in the
 * same order and unpermute4() puts them back once per block and row. (Repacking into output order
 * with 128-bit unpacks cost more than the products at 16 rows.)
 */

/*
 * One block of 64 int8 outputs into dst[g][256] for input groups g < groups (inputs past cols are 0),
 * in the repacked order above, and the block's weight sums (same order) for the x + 128 correction,
 * taken while the vectors are in registers. src points at the block's first byte in column 0;
 * column c starts at src + c * stride.
 */
VNNI static void pack_int8_block(const int8_t *src, long stride, int cols, int groups, int8_t *dst,
                                 int32_t weight_sums[BLOCK]) {
    const __m512i ones = _mm512_set1_epi8(1);
    __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0;
    for (int g = 0; g < groups; g++) {
        __m512i col[4];
        for (int k = 0; k < 4; k++) {
            int c = 4 * g + k;
            if (c >= cols) {
                col[k] = _mm512_setzero_si512();
            } else {
                _mm_prefetch((const char *)(src + (long)c * stride + PREFETCH_AHEAD), _MM_HINT_T0);
                col[k] = _mm512_loadu_si512(src + (long)c * stride);
            }
        }
        __m512i ab_lo = _mm512_unpacklo_epi8(col[0], col[1]), ab_hi = _mm512_unpackhi_epi8(col[0], col[1]);
        __m512i cd_lo = _mm512_unpacklo_epi8(col[2], col[3]), cd_hi = _mm512_unpackhi_epi8(col[2], col[3]);
        __m512i v0 = _mm512_unpacklo_epi16(ab_lo, cd_lo); /* outputs 16q + 0..3 */
        __m512i v1 = _mm512_unpackhi_epi16(ab_lo, cd_lo); /* 16q + 4..7 */
        __m512i v2 = _mm512_unpacklo_epi16(ab_hi, cd_hi); /* 16q + 8..11 */
        __m512i v3 = _mm512_unpackhi_epi16(ab_hi, cd_hi); /* 16q + 12..15 */
        int8_t *o = dst + (long)g * 256;
        _mm512_storeu_si512(o, v0);
        _mm512_storeu_si512(o + 64, v1);
        _mm512_storeu_si512(o + 128, v2);
        _mm512_storeu_si512(o + 192, v3);
        s0 = _mm512_dpbusd_epi32(s0, ones, v0);
        s1 = _mm512_dpbusd_epi32(s1, ones, v1);
        s2 = _mm512_dpbusd_epi32(s2, ones, v2);
        s3 = _mm512_dpbusd_epi32(s3, ones, v3);
    }
    _mm512_storeu_si512(weight_sums, s0);
    _mm512_storeu_si512(weight_sums + 16, s1);
    _mm512_storeu_si512(weight_sums + 32, s2);
    _mm512_storeu_si512(weight_sums + 48, s3);
}

/*
 * One block of 64 ternary outputs into dst[g][256], in output order: vector m holds outputs
 * 16m..16m+15, each lane the codes of four inputs. A column's 16 bytes hold output 16m + i in bits
 * 2m..2m+1 of byte i, so the four columns' byte i side by side in lane i (a byte shuffle within
 * each 128-bit lane of the broadcast columns, column k into byte k of every lane) give all four
 * vectors by a shift and a mask: no unpacks, no reordering of the sums afterwards.
 */
VNNI static void pack_ternary_block(const int8_t *src, long stride, int cols, int groups, int8_t *dst) {
    const __m512i three = _mm512_set1_epi8(3);
    /* Byte 4j + k of 128-bit lane q takes byte 4q + j of its (broadcast) source: lane i = 4q + j. */
    const __m512i gather = _mm512_set_epi32(0x0F0F0F0F, 0x0E0E0E0E, 0x0D0D0D0D, 0x0C0C0C0C,
                                            0x0B0B0B0B, 0x0A0A0A0A, 0x09090909, 0x08080808,
                                            0x07070707, 0x06060606, 0x05050505, 0x04040404,
                                            0x03030303, 0x02020202, 0x01010101, 0x00000000);
    for (int g = 0; g < groups; g++) {
        __m512i lanes = _mm512_setzero_si512();
        for (int k = 0; k < 4; k++) {
            int c = 4 * g + k;
            if (c < cols) {
                __m512i column = _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(src + (long)c * stride)));
                lanes = _mm512_mask_shuffle_epi8(lanes, (__mmask64)(0x1111111111111111ULL << k), column, gather);
            }
        }
        int8_t *o = dst + (long)g * 256;
        _mm512_storeu_si512(o, _mm512_and_si512(lanes, three));
        _mm512_storeu_si512(o + 64, _mm512_and_si512(_mm512_srli_epi16(lanes, 2), three));
        _mm512_storeu_si512(o + 128, _mm512_and_si512(_mm512_srli_epi16(lanes, 4), three));
        _mm512_storeu_si512(o + 192, _mm512_and_si512(_mm512_srli_epi16(lanes, 6), three));
    }
}

/*
 * One 4-input step of one output lane: int8 weights take unsigned activations, ternary codes signed
 * ones. In inline assembly so that the accumulator is updated in place: with the intrinsic, gcc 12
 * copied every accumulator through another register and the stack on each step (2x slower).
 */
VNNI_INLINE __m512i dot4(int format, __m512i acc, __m512i x4, __m512i w) {
    if (format == FORMAT_INT8) {
        __asm__("vpdpbusd %[s], %[u], %[acc]" : [acc] "+v"(acc) : [u] "v"(x4), [s] "v"(w));
    } else {
        __asm__("vpdpbusd %[s], %[u], %[acc]" : [acc] "+v"(acc) : [u] "v"(w), [s] "v"(x4));
    }
    return acc;
}

VNNI_INLINE __m512i broadcast4(const uint8_t *p) {
    int32_t four;
    memcpy(&four, p, 4);
    return _mm512_set1_epi32(four);
}

/*
 * Micro-kernels over one packed block: out[r][0..64) = sum over input groups g of the block's 4 x 64
 * weights of group g times row r's 4 activation bytes of group g. The accumulators are named
 * variables, one per (row, 16-output quarter), so that the compiler keeps all of them in registers
 * (with an array it spilled and copied them every step).
 */
#define ACC(r) __m512i c##r##0 = _mm512_setzero_si512(), c##r##1 = c##r##0, c##r##2 = c##r##0, c##r##3 = c##r##0
#define ROW(r)                                                 \
    do {                                                       \
        __m512i x4 = broadcast4(x + (r) * xstride + 4L * g);   \
        c##r##0 = dot4(format, c##r##0, x4, w0);               \
        c##r##1 = dot4(format, c##r##1, x4, w1);               \
        c##r##2 = dot4(format, c##r##2, x4, w2);               \
        c##r##3 = dot4(format, c##r##3, x4, w3);               \
    } while (0)
#define STORE(r)                                               \
    do {                                                       \
        int32_t *o = out + (r) * ostride;                      \
        _mm512_storeu_si512(o, c##r##0);                       \
        _mm512_storeu_si512(o + 16, c##r##1);                  \
        _mm512_storeu_si512(o + 32, c##r##2);                  \
        _mm512_storeu_si512(o + 48, c##r##3);                  \
    } while (0)
#define WEIGHTS                                                \
    const int8_t *wg = w + (long)g * 256;                      \
    __m512i w0 = _mm512_loadu_si512(wg), w1 = _mm512_loadu_si512(wg + 64); \
    __m512i w2 = _mm512_loadu_si512(wg + 128), w3 = _mm512_loadu_si512(wg + 192)
#define KERNEL_ARGS int format, const int8_t *w, int groups, const uint8_t *x, long xstride, int32_t *out, long ostride, \
    const struct next_block *next
/*
 * The next block's int8 columns, fetched while this block's products run so that the memory reads
 * overlap the arithmetic instead of following it (the repack then finds them in cache).
 */
struct next_block {
    const int8_t *src; /* the block's first byte in column 0 */
    long stride;
    int cols;
    int only; /* -1: every column; k in 0..3: only the columns c with c % 4 == k */
};
#define FETCH_NEXT                                                                               \
    if (next != NULL) {                                                                          \
        for (int k = next->only < 0 ? 4 * g : 4 * g + next->only; k < 4 * g + 4 && k < next->cols; \
             k += next->only < 0 ? 1 : 4) {                                                      \
            _mm_prefetch((const char *)(next->src + (long)k * next->stride), _MM_HINT_T0);       \
        }                                                                                        \
    }

VNNI_INLINE void kernel6(KERNEL_ARGS) {
    ACC(0); ACC(1); ACC(2); ACC(3); ACC(4); ACC(5);
    for (int g = 0; g < groups; g++) {
        WEIGHTS;
        FETCH_NEXT;
        ROW(0); ROW(1); ROW(2); ROW(3); ROW(4); ROW(5);
    }
    STORE(0); STORE(1); STORE(2); STORE(3); STORE(4); STORE(5);
}

VNNI_INLINE void kernel4(KERNEL_ARGS) {
    ACC(0); ACC(1); ACC(2); ACC(3);
    for (int g = 0; g < groups; g++) {
        WEIGHTS;
        FETCH_NEXT;
        ROW(0); ROW(1); ROW(2); ROW(3);
    }
    STORE(0); STORE(1); STORE(2); STORE(3);
}

VNNI_INLINE void kernel2(KERNEL_ARGS) {
    ACC(0); ACC(1);
    for (int g = 0; g < groups; g++) {
        WEIGHTS;
        FETCH_NEXT;
        ROW(0); ROW(1);
    }
    STORE(0); STORE(1);
}

VNNI_INLINE void kernel1(KERNEL_ARGS) {
    ACC(0);
    for (int g = 0; g < groups; g++) {
        WEIGHTS;
        FETCH_NEXT;
        ROW(0);
    }
    STORE(0);
}

/* Rows of the batch over one packed block, 6 at a time, the rest 4, 2 and 1 at a time. */
VNNI_INLINE void block_rows(int format, const int8_t *w, int groups, const uint8_t *x, long xstride, int count,
                            int32_t *out, long ostride, const struct next_block *next) {
    int t = 0;
    for (; t + 6 <= count; t += 6, next = NULL) {
        kernel6(format, w, groups, x + t * xstride, xstride, out + t * ostride, ostride, next);
    }
    if (t + 4 <= count) {
        kernel4(format, w, groups, x + t * xstride, xstride, out + t * ostride, ostride, next);
        t += 4;
        next = NULL;
    }
    if (t + 2 <= count) {
        kernel2(format, w, groups, x + t * xstride, xstride, out + t * ostride, ostride, next);
        t += 2;
        next = NULL;
    }
    if (t < count) {
        kernel1(format, w, groups, x + t * xstride, xstride, out + t * ostride, ostride, next);
    }
}

/* One copy per format, so that the operand order is a constant inside each. */
VNNI static void rows_int8(const int8_t *w, int groups, const uint8_t *x, long xstride, int count, int32_t *out,
                           long ostride, const struct next_block *next) {
    block_rows(FORMAT_INT8, w, groups, x, xstride, count, out, ostride, next);
}

VNNI static void rows_ternary(const int8_t *w, int groups, const uint8_t *x, long xstride, int count, int32_t *out,
                              long ostride, const struct next_block *next) {
    block_rows(FORMAT_TERNARY, w, groups, x, xstride, count, out, ostride, next);
}

/*
 * Activations of one call (count rows of xstride floats, integers in [-128, 127], zero past the
 * row's inputs) as the bytes the kernels multiply: x + 128 (unsigned) for int8 weights, x for ternary.
 */
VNNI static void prepare_activations(int format, const float *x, long xstride, int count, uint8_t *dst) {
    const __m128i bias = _mm_set1_epi8(format == FORMAT_INT8 ? (char)0x80 : 0);
    long n = (long)count * xstride; /* xstride is a multiple of 64 */
    for (long i = 0; i < n; i += 16) {
        __m512i ints = _mm512_cvtps_epi32(_mm512_loadu_ps(x + i)); /* exact: the floats are integers */
        _mm_storeu_si128((__m128i *)(dst + i), _mm_xor_si128(_mm512_cvtepi32_epi8(ints), bias));
    }
}

/*
 * The Java kernels' finish, in the same float operations (this file is built with
 * -ffp-contract=off, so no multiply is fused): int8 weights out = (float) sum * rowScale[o] * tokenScale[t];
 * ternary out = (float) (sum - tokenSum[t]) * tokenScale[t]. Sixteen outputs at a time, sums unpermuted
 * in registers.
 */
/* 128-bit block q of vector m to block m of vector q: back to output order. */
VNNI_INLINE void unpermute4(__m512i s0, __m512i s1, __m512i s2, __m512i s3, __m512i r[4]) {
    __m512i t0 = _mm512_shuffle_i32x4(s0, s1, 0x44), t1 = _mm512_shuffle_i32x4(s0, s1, 0xEE);
    __m512i t2 = _mm512_shuffle_i32x4(s2, s3, 0x44), t3 = _mm512_shuffle_i32x4(s2, s3, 0xEE);
    r[0] = _mm512_shuffle_i32x4(t0, t2, 0x88);
    r[1] = _mm512_shuffle_i32x4(t0, t2, 0xDD);
    r[2] = _mm512_shuffle_i32x4(t1, t3, 0x88);
    r[3] = _mm512_shuffle_i32x4(t1, t3, 0xDD);
}

VNNI_INLINE void load_unpermuted(const int32_t *in, __m512i r[4]) {
    unpermute4(_mm512_loadu_si512(in), _mm512_loadu_si512(in + 16), _mm512_loadu_si512(in + 32),
               _mm512_loadu_si512(in + 48), r);
}

VNNI static void finish_block(int format, const int32_t *sums, int count, const int32_t weight_sums[BLOCK],
                              const float *row_scale, const float *token_scale, const int32_t *token_sum, float *out,
                              long ostride) {
    __m512i correction[4];
    __m512 scale[4];
    if (format == FORMAT_INT8) {
        load_unpermuted(weight_sums, correction);
        for (int q = 0; q < 4; q++) {
            correction[q] = _mm512_slli_epi32(correction[q], 7); /* 128 * sum_c W[o, c] */
            scale[q] = _mm512_loadu_ps(row_scale + 16 * q);
        }
    }
    for (int t = 0; t < count; t++) {
        __m512i s[4];
        if (format == FORMAT_INT8) {
            load_unpermuted(sums + (long)t * BLOCK, s);
        } else {
            for (int q = 0; q < 4; q++) {
                s[q] = _mm512_loadu_si512(sums + (long)t * BLOCK + 16 * q); /* already in output order */
            }
        }
        float *o = out + (long)t * ostride;
        __m512 ts = _mm512_set1_ps(token_scale[t]);
        if (format == FORMAT_INT8) {
            for (int q = 0; q < 4; q++) {
                __m512 v = _mm512_cvtepi32_ps(_mm512_sub_epi32(s[q], correction[q]));
                _mm512_storeu_ps(o + 16 * q, _mm512_mul_ps(_mm512_mul_ps(v, scale[q]), ts));
            }
        } else {
            __m512i tsum = _mm512_set1_epi32(token_sum[t]);
            for (int q = 0; q < 4; q++) {
                _mm512_storeu_ps(o + 16 * q, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(s[q], tsum)), ts));
            }
        }
    }
}

VNNI static void columns(int format, const int8_t *weights, long stride, int cols, const float *row_scale, int o0,
                         int len, const float *x, int count, long xstride, const float *token_scale,
                         const int32_t *token_sum, float *out, long ostride, int8_t *scratch) {
    int groups = (cols + 3) / 4;
    int8_t *packed = scratch;
    uint8_t *xs = (uint8_t *)(scratch + (long)groups * 256);
    int32_t *sums = (int32_t *)(scratch + (long)groups * 256 + (long)count * xstride);
    prepare_activations(format, x, xstride, count, xs);
    int32_t weight_sums[BLOCK];
    for (int b = o0; b < o0 + len; b += BLOCK) {
        const int8_t *src = weights + (format == FORMAT_INT8 ? b : b / 4);
        if (format == FORMAT_INT8) {
            pack_int8_block(src, stride, cols, groups, packed, weight_sums);
            struct next_block next = {src + BLOCK, stride, cols, -1};
            rows_int8(packed, groups, xs, xstride, count, sums, BLOCK, b + BLOCK < o0 + len ? &next : NULL);
            finish_block(format, sums, count, weight_sums, row_scale + b, token_scale, NULL, out + b, ostride);
        } else {
            pack_ternary_block(src, stride, cols, groups, packed);
            /*
             * Four blocks share each 64-byte line of a column: while this block's rows run, a
             * quarter of the columns fetch the line of the block four on, so that every line
             * arrives once and ahead of its repack.
             */
            struct next_block next = {src + 4 * (BLOCK / 4), stride, cols, (b / BLOCK) % 4};
            rows_ternary(packed, groups, xs, xstride, count, sums, BLOCK, b + 4 * BLOCK < o0 + len ? &next : NULL);
            finish_block(format, sums, count, NULL, NULL, token_scale, token_sum, out + b, ostride);
        }
    }
}

/*
 * Int8 weights times float activations (the lm head, whose input is not quantized), bit for bit as
 * the Java int8Float kernel: per output, acc = fma(w, x, acc) over the input's kept columns in
 * their order, from 0, then acc * rowScale * tokenScale. Inputs whose kept-column lists are equal
 * (a dense input lists every column) share each weight load: up to 6 of them in registers.
 */
#define FACC(r) __m512 f##r##0 = _mm512_setzero_ps(), f##r##1 = f##r##0, f##r##2 = f##r##0, f##r##3 = f##r##0
#define FROW(r)                                                    \
    do {                                                           \
        __m512 xb = _mm512_set1_ps(x[(r) * xstride + c]);          \
        f##r##0 = _mm512_fmadd_ps(w0, xb, f##r##0);                \
        f##r##1 = _mm512_fmadd_ps(w1, xb, f##r##1);                \
        f##r##2 = _mm512_fmadd_ps(w2, xb, f##r##2);                \
        f##r##3 = _mm512_fmadd_ps(w3, xb, f##r##3);                \
    } while (0)
#define FSTORE(r)                                                  \
    do {                                                           \
        float *o = out + (r) * ostride;                            \
        float ts = token_scale[r];                                 \
        _mm512_storeu_ps(o, _mm512_mul_ps(_mm512_mul_ps(f##r##0, s0), _mm512_set1_ps(ts)));      \
        _mm512_storeu_ps(o + 16, _mm512_mul_ps(_mm512_mul_ps(f##r##1, s1), _mm512_set1_ps(ts))); \
        _mm512_storeu_ps(o + 32, _mm512_mul_ps(_mm512_mul_ps(f##r##2, s2), _mm512_set1_ps(ts))); \
        _mm512_storeu_ps(o + 48, _mm512_mul_ps(_mm512_mul_ps(f##r##3, s3), _mm512_set1_ps(ts))); \
    } while (0)
#define FWEIGHTS                                                   \
    int c = index[j];                                              \
    const int8_t *wc = w + (long)c * stride;                       \
    _mm_prefetch((const char *)(wc + PREFETCH_AHEAD), _MM_HINT_T0); \
    __m512 w0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)wc)));        \
    __m512 w1 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(wc + 16)))); \
    __m512 w2 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(wc + 32)))); \
    __m512 w3 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(wc + 48))))
#define FLOAT_ARGS const int8_t *w, long stride, const int32_t *index, int n, const float *x, long xstride, \
    const float *row_scale, const float *token_scale, float *out, long ostride
#define FSCALES                                                    \
    __m512 s0 = _mm512_loadu_ps(row_scale), s1 = _mm512_loadu_ps(row_scale + 16); \
    __m512 s2 = _mm512_loadu_ps(row_scale + 32), s3 = _mm512_loadu_ps(row_scale + 48)

VNNI_INLINE void float6(FLOAT_ARGS) {
    FACC(0); FACC(1); FACC(2); FACC(3); FACC(4); FACC(5);
    for (int j = 0; j < n; j++) {
        FWEIGHTS;
        FROW(0); FROW(1); FROW(2); FROW(3); FROW(4); FROW(5);
    }
    FSCALES;
    FSTORE(0); FSTORE(1); FSTORE(2); FSTORE(3); FSTORE(4); FSTORE(5);
}

VNNI_INLINE void float4(FLOAT_ARGS) {
    FACC(0); FACC(1); FACC(2); FACC(3);
    for (int j = 0; j < n; j++) {
        FWEIGHTS;
        FROW(0); FROW(1); FROW(2); FROW(3);
    }
    FSCALES;
    FSTORE(0); FSTORE(1); FSTORE(2); FSTORE(3);
}

VNNI_INLINE void float2(FLOAT_ARGS) {
    FACC(0); FACC(1);
    for (int j = 0; j < n; j++) {
        FWEIGHTS;
        FROW(0); FROW(1);
    }
    FSCALES;
    FSTORE(0); FSTORE(1);
}

VNNI_INLINE void float1(FLOAT_ARGS) {
    FACC(0);
    for (int j = 0; j < n; j++) {
        FWEIGHTS;
        FROW(0);
    }
    FSCALES;
    FSTORE(0);
}

/* Whether inputs a and b keep the same columns in the same order. */
static int same_columns(const int32_t *index, const int32_t *counts, long xstride, int a, int b) {
    return counts[a] == counts[b] && memcmp(index + a * xstride, index + b * xstride, 4L * counts[a]) == 0;
}

VNNI static void float_columns(const int8_t *weights, long stride, const float *row_scale, int o0, int len,
                               const float *x, const int32_t *index, const int32_t *counts, int count, long xstride,
                               const float *token_scale, float *out, long ostride) {
    for (int b = o0; b < o0 + len; b += BLOCK) {
        const int8_t *w = weights + b;
        int t = 0;
        while (t < count) {
            int g = 1;
            while (g < 6 && t + g < count && same_columns(index, counts, xstride, t, t + g)) {
                g++;
            }
            if (g == 3 || g == 5) {
                g--; /* kernels of 6, 4, 2 and 1 inputs */
            }
            const int32_t *list = index + t * xstride;
            const float *xt = x + t * xstride;
            float *ot = out + t * ostride + b;
            switch (g) {
                case 6: float6(w, stride, list, counts[t], xt, xstride, row_scale + b, token_scale + t, ot, ostride); break;
                case 4: float4(w, stride, list, counts[t], xt, xstride, row_scale + b, token_scale + t, ot, ostride); break;
                case 2: float2(w, stride, list, counts[t], xt, xstride, row_scale + b, token_scale + t, ot, ostride); break;
                default: float1(w, stride, list, counts[t], xt, xstride, row_scale + b, token_scale + t, ot, ostride); break;
            }
            t += g;
        }
    }
}

/*
 * Float32 products, row-major weights w[r * cols + c] (a published or converted f32 tensor, mapped).
 * Every (row, input) sum is taken in one fixed order, whatever the kernel or the batch:
 *   lane partials p_j (j < 16) = fma chain over c = j, j + 16, ... below cols rounded down to 16,
 *   then a halving tree (p_j + p_j+8, then + 4, + 2, + 1), then fma over the remaining columns in order.
 * So a micro-batch gives bit for bit what one input at a time gives, on this backend; the Java
 * kernels (a sequential lane reduction) differ from it in the last bits.
 */
VNNI_INLINE float tree16(__m512 v) {
    __m256 a = _mm256_add_ps(_mm512_castps512_ps256(v), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    __m128 b = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    __m128 c = _mm_add_ps(b, _mm_movehl_ps(b, b));
    return _mm_cvtss_f32(_mm_add_ss(c, _mm_shuffle_ps(c, c, 1)));
}

/* The remaining columns [from, cols) of one sum, in order. */
VNNI_INLINE float f32_tail(float sum, const float *w, const float *x, int from, int cols) {
    for (int c = from; c < cols; c++) {
        sum = _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(w[c]), _mm_set_ss(x[c]), _mm_set_ss(sum)));
    }
    return sum;
}

/*
 * tree16 of 16 vectors at once: each addition pairs the same two values as tree16 does for that
 * vector, so the sums are the same bits; 45 instructions instead of 16 x 8. Lane 4t + r of the
 * result is the sum of a[4r + t].
 */
VNNI_INLINE __m512 tree16x16(const __m512 a[16]) {
    __m512 z[8], w4[4], v[2];
    for (int i = 0; i < 8; i++) { /* lanes 0..7: a[2i]'s j + j+8; lanes 8..15: a[2i+1]'s */
        z[i] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * i], a[2 * i + 1], 0x44),
                             _mm512_shuffle_f32x4(a[2 * i], a[2 * i + 1], 0xEE));
    }
    for (int i = 0; i < 4; i++) { /* block m: a[4i + m]'s j + j+4 */
        w4[i] = _mm512_add_ps(_mm512_shuffle_f32x4(z[2 * i], z[2 * i + 1], 0x88),
                              _mm512_shuffle_f32x4(z[2 * i], z[2 * i + 1], 0xDD));
    }
    for (int i = 0; i < 2; i++) { /* block m: a[8i + m]'s j + j+2 (lanes 0, 1), a[8i + 4 + m]'s (lanes 2, 3) */
        v[i] = _mm512_add_ps(_mm512_shuffle_ps(w4[2 * i], w4[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_ps(w4[2 * i], w4[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    }
    /* block m: the totals of a[m], a[4 + m], a[8 + m], a[12 + m] */
    return _mm512_add_ps(_mm512_shuffle_ps(v[0], v[1], _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_ps(v[0], v[1], _MM_SHUFFLE(3, 1, 3, 1)));
}

#define F4(r) __m512 a##r##0 = _mm512_setzero_ps(), a##r##1 = a##r##0, a##r##2 = a##r##0, a##r##3 = a##r##0
#define FMA4(r)                                                \
    do {                                                       \
        __m512 wv = _mm512_loadu_ps(w + (long)(r) * cols + c); \
        a##r##0 = _mm512_fmadd_ps(wv, x0, a##r##0);            \
        a##r##1 = _mm512_fmadd_ps(wv, x1, a##r##1);            \
        a##r##2 = _mm512_fmadd_ps(wv, x2, a##r##2);            \
        a##r##3 = _mm512_fmadd_ps(wv, x3, a##r##3);            \
    } while (0)

/* 4 rows x 4 inputs: each weight and input vector loaded once per 4 FMAs, 16 accumulators. */
VNNI static void f32_rows4x4(const float *w, int cols, const float *x, long xstride, float *out, long ostride) {
    int c16 = cols & ~15;
    const float *xr0 = x, *xr1 = x + xstride, *xr2 = x + 2 * xstride, *xr3 = x + 3 * xstride;
    F4(0); F4(1); F4(2); F4(3);
    for (int c = 0; c < c16; c += 16) {
        __m512 x0 = _mm512_loadu_ps(xr0 + c), x1 = _mm512_loadu_ps(xr1 + c);
        __m512 x2 = _mm512_loadu_ps(xr2 + c), x3 = _mm512_loadu_ps(xr3 + c);
        FMA4(0); FMA4(1); FMA4(2); FMA4(3);
    }
    __m512 acc[16] = {a00, a01, a02, a03, a10, a11, a12, a13, a20, a21, a22, a23, a30, a31, a32, a33};
    float sums[16];
    _mm512_storeu_ps(sums, tree16x16(acc)); /* lane 4t + r: row r, input t */
    for (int t = 0; t < 4; t++) {
        for (int r = 0; r < 4; r++) {
            out[t * ostride + r] = c16 == cols ? sums[4 * t + r]
                                               : f32_tail(sums[4 * t + r], w + (long)r * cols, x + t * xstride, c16, cols);
        }
    }
}

/* One row, one input. */
VNNI static float f32_row1x1(const float *w, int cols, const float *x) {
    int c16 = cols & ~15;
    __m512 a = _mm512_setzero_ps();
    for (int c = 0; c < c16; c += 16) {
        a = _mm512_fmadd_ps(_mm512_loadu_ps(w + c), _mm512_loadu_ps(x + c), a);
    }
    return f32_tail(tree16(a), w, x, c16, cols);
}

/* 4 rows, one input: 4 independent chains (one alone waits on the FMA latency). */
VNNI static void f32_rows4x1(const float *w, int cols, const float *x, float *out) {
    int c16 = cols & ~15;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    for (int c = 0; c < c16; c += 16) {
        __m512 xv = _mm512_loadu_ps(x + c);
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + c), xv, a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(w + cols + c), xv, a1);
        a2 = _mm512_fmadd_ps(_mm512_loadu_ps(w + 2L * cols + c), xv, a2);
        a3 = _mm512_fmadd_ps(_mm512_loadu_ps(w + 3L * cols + c), xv, a3);
    }
    out[0] = f32_tail(tree16(a0), w, x, c16, cols);
    out[1] = f32_tail(tree16(a1), w + cols, x, c16, cols);
    out[2] = f32_tail(tree16(a2), w + 2L * cols, x, c16, cols);
    out[3] = f32_tail(tree16(a3), w + 3L * cols, x, c16, cols);
}

/*
 * Rows [r0, r0 + n) for count inputs (x: count rows of xstride floats; out: count rows of ostride
 * floats, row r at out[t * ostride + r]). Rows 4 at a time, each block's weights (in L1 for rows of
 * up to ~2000 inputs) read once per 4 inputs.
 */
VNNI static void f32_rows(const float *weights, int cols, int r0, int n, const float *x, long xstride, int count,
                          float *out, long ostride) {
    int r = r0;
    for (; r + 4 <= r0 + n; r += 4) {
        const float *w = weights + (long)r * cols;
        int t = 0;
        for (; t + 4 <= count; t += 4) {
            f32_rows4x4(w, cols, x + t * xstride, xstride, out + t * ostride + r, ostride);
        }
        for (; t < count; t++) {
            f32_rows4x1(w, cols, x + t * xstride, out + t * ostride + r);
        }
    }
    for (; r < r0 + n; r++) {
        for (int t = 0; t < count; t++) {
            out[t * ostride + r] = f32_row1x1(weights + (long)r * cols, cols, x + t * xstride);
        }
    }
}

/*
 * Batches of many inputs: a register-blocked product with the same sums, bit for bit. Output
 * (row, input)'s lane partial p_j is one fma chain over c = j, j + 16, ... whichever way it is
 * computed, so the chains can run with the inputs in the vector lanes instead of the columns: a tile
 * of G_ROWS = 8 weight rows x 48 (or 32) inputs keeps 24 (16) zmm accumulators, lane = input, and
 * for each residue j and column c = 16m + j it broadcasts w[r][c] of the 8 rows and multiplies 3
 * (2) vectors of x[.][c]: 24 FMAs per 3 loads and 8 broadcasts, no horizontal sums in the loop.
 * The 16 residues' chains of a tile are kept in `parts` between column blocks (G_MB groups of 16
 * columns: 8 rows x 512 columns of weights, 16 KB, stay in L1 over the 16 passes) and added by
 * tree16's halving tree at the end; then the tail columns in order, as f32_tail does. So a row's
 * result does not depend on the batch size or on which kernel took it (the harness checks every
 * count against one reference). The inputs of a block are repacked per call into the order the
 * tile reads them (16 x 16 transposes, zero lanes past the batch): count x cols floats, about 1%
 * of the time at 768 rows. Weights are read in place, each 8-row strip once per input block.
 * Measured (Zen 5, one core, 768 x 768 x 128): 105-110 GMAC/s against the dot kernels' 85-90; the
 * FMA peak is about 135.
 */
#define G_ROWS 8
#define G_MB 32
#define G_MIN 28 /* fewer inputs: the dot-product kernels above (faster where a block would be mostly empty) */

/*
 * Inputs [t0, t0 + valid) of x into xp, zero lanes past valid: column c = 16m + j (m < cols / 16) of
 * input t at position mb * 16 + j * blen + m - mb (mb: m's column block, blen: its length), tail
 * columns at position c, each position `width` floats, input t at lane t - t0.
 */
VNNI static void g_pack_inputs(const float *x, long xstride, int t0, int valid, int cols, int width, float *xp) {
    int m16 = cols / 16;
    for (int v = 0; v < width / 16; v++) { /* 16 inputs by 16 columns at a time, transposed */
        int rows = valid - 16 * v < 0 ? 0 : valid - 16 * v > 16 ? 16 : valid - 16 * v;
        const float *xv = x + (long)(t0 + 16 * v) * xstride;
        for (int m = 0; m < m16; m++) {
            int mb = m - m % G_MB, blen = m16 - mb < G_MB ? m16 - mb : G_MB;
            __m512 r[16], t[16], u[16];
            for (int i = 0; i < 16; i++) {
                r[i] = i < rows ? _mm512_loadu_ps(xv + i * xstride + 16 * m) : _mm512_setzero_ps();
            }
            for (int i = 0; i < 8; i++) {
                t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
                t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
            }
            for (int i = 0; i < 4; i++) { /* u[4i + k], 128-bit block L: column 4L + k of inputs 4i..4i+3 */
                __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
                __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
                u[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
                u[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
                u[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
                u[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
            }
            float *dst = xp + ((long)mb * 16 + (m - mb)) * width + 16 * v;
            long jstep = (long)blen * width;
            for (int k = 0; k < 4; k++) {
                __m512 s0 = _mm512_shuffle_f32x4(u[k], u[4 + k], 0x88), s1 = _mm512_shuffle_f32x4(u[k], u[4 + k], 0xDD);
                __m512 s2 = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0x88);
                __m512 s3 = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0xDD);
                _mm512_storeu_ps(dst + k * jstep, _mm512_shuffle_f32x4(s0, s2, 0x88));
                _mm512_storeu_ps(dst + (8 + k) * jstep, _mm512_shuffle_f32x4(s0, s2, 0xDD));
                _mm512_storeu_ps(dst + (4 + k) * jstep, _mm512_shuffle_f32x4(s1, s3, 0x88));
                _mm512_storeu_ps(dst + (12 + k) * jstep, _mm512_shuffle_f32x4(s1, s3, 0xDD));
            }
        }
    }
    for (int c = m16 * 16; c < cols; c++) {
        for (int t = 0; t < width; t++) {
            xp[(long)c * width + t] = t < valid ? x[(long)(t0 + t) * xstride + c] : 0.0f;
        }
    }
}

/* One tile: G_ROWS rows from w (row-major, cols apart) by nt vectors of packed inputs. */
VNNI_INLINE void g_tile(const int nt, const float *w, int cols, const float *xp, __m512 *parts, float *out,
                        long ostride, int valid) {
    const int m16 = cols / 16, width = 16 * nt;
    for (int mb = 0; mb < m16; mb += G_MB) {
        int blen = m16 - mb < G_MB ? m16 - mb : G_MB;
        for (int j = 0; j < 16; j++) {
            __m512 acc[G_ROWS][3]; /* its own array: one that outlives the loop is kept in memory by gcc */
            __m512 *pj = parts + j * G_ROWS * 3;
            for (int i = 0; i < G_ROWS; i++) {
                for (int v = 0; v < nt; v++) {
                    acc[i][v] = mb == 0 ? _mm512_setzero_ps() : pj[3 * i + v];
                }
            }
            const float *xj = xp + ((long)mb * 16 + (long)j * blen) * width;
            const float *wj = w + mb * 16 + j;
            /* The next column block's weights (or the next strip's first; past the last strip a prefetch
             * does not fault and is dropped), a sixteenth per residue pass. */
            for (int l = j * G_MB / 2; l < (j + 1) * G_MB / 2; l++) {
                int i = l / G_MB;
                const float *row = mb + G_MB < m16 ? w + (long)i * cols + (mb + G_MB) * 16 : w + (long)(G_ROWS + i) * cols;
                _mm_prefetch((const char *)(row + 16 * (l % G_MB)), _MM_HINT_T0);
            }
            for (int mm = 0; mm < blen; mm++) {
                __m512 xv[3];
                for (int v = 0; v < nt; v++) {
                    xv[v] = _mm512_loadu_ps(xj + (long)mm * width + 16 * v);
                }
                for (int i = 0; i < G_ROWS; i++) {
                    __m512 b = _mm512_set1_ps(wj[(long)i * cols + 16 * mm]);
                    for (int v = 0; v < nt; v++) {
                        acc[i][v] = _mm512_fmadd_ps(b, xv[v], acc[i][v]);
                    }
                }
            }
            for (int i = 0; i < G_ROWS; i++) {
                for (int v = 0; v < nt; v++) {
                    pj[3 * i + v] = acc[i][v];
                }
            }
        }
    }
    __m512 sum[G_ROWS][3];
    for (int i = 0; i < G_ROWS; i++) { /* tree16's additions, one sum's 16 partials in registers at a time */
        for (int v = 0; v < nt; v++) {
            if (m16 == 0) {
                sum[i][v] = _mm512_setzero_ps();
                continue;
            }
            __m512 p[16];
            for (int j = 0; j < 16; j++) {
                p[j] = parts[j * G_ROWS * 3 + 3 * i + v];
            }
            for (int half = 8; half >= 1; half /= 2) {
                for (int j = 0; j < half; j++) {
                    p[j] = _mm512_add_ps(p[j], p[j + half]);
                }
            }
            sum[i][v] = p[0];
        }
    }
    for (int c = m16 * 16; c < cols; c++) { /* the tail, in order */
        __m512 xv[3];
        for (int v = 0; v < nt; v++) {
            xv[v] = _mm512_loadu_ps(xp + (long)c * width + 16 * v);
        }
        for (int i = 0; i < G_ROWS; i++) {
            __m512 b = _mm512_set1_ps(w[(long)i * cols + c]);
            for (int v = 0; v < nt; v++) {
                sum[i][v] = _mm512_fmadd_ps(b, xv[v], sum[i][v]);
            }
        }
    }
    float sums[G_ROWS][48] __attribute__((aligned(64)));
    for (int i = 0; i < G_ROWS; i++) {
        for (int v = 0; v < nt; v++) {
            _mm512_store_ps(sums[i] + 16 * v, sum[i][v]);
        }
    }
    for (int t = 0; t < valid; t++) { /* lanes are inputs: out[t][r + i] */
        for (int i = 0; i < G_ROWS; i++) {
            out[t * ostride + i] = sums[i][t];
        }
    }
}

VNNI static void g_tile3(const float *w, int cols, const float *xp, __m512 *parts, float *out, long ostride, int valid) {
    g_tile(3, w, cols, xp, parts, out, ostride, valid);
}

VNNI static void g_tile2(const float *w, int cols, const float *xp, __m512 *parts, float *out, long ostride, int valid) {
    g_tile(2, w, cols, xp, parts, out, ostride, valid);
}

/*
 * Rows [r0, r0 + n) for count inputs: blocks of up to 48 inputs (packed once, then every 8-row strip
 * of weights over them), the rows past the last whole strip and the last few inputs (< G_MIN) by
 * f32_rows. Returns the inputs it did not take (from count - left on), or count if its scratch could
 * not be had.
 */
VNNI static int f32_gemm(const float *weights, int cols, int r0, int n, const float *x, long xstride, int count,
                         float *out, long ostride) {
    int strips = n / G_ROWS;
    if (count < G_MIN || strips == 0) {
        return count;
    }
    float *xp = aligned_alloc(64, (4L * 48 * cols + 64 * 16 * G_ROWS * 3 + 63) / 64 * 64);
    if (xp == NULL) {
        return count;
    }
    __m512 *parts = (__m512 *)(xp + 48L * cols);
    int t0 = 0;
    for (;;) {
        /* Blocks of 48 or 32 inputs, at least 85% of their lanes used (128 = 48 + 48 + 32, 64 = 32 + 32). */
        int left = count - t0, nt = left >= 80 || (left >= 41 && left < 64) ? 3 : left >= 28 ? 2 : 0;
        if (nt == 0) {
            break;
        }
        int valid = left < 16 * nt ? left : 16 * nt;
        g_pack_inputs(x, xstride, t0, valid, cols, 16 * nt, xp);
        for (int s = 0; s < strips; s++) {
            int r = r0 + s * G_ROWS;
            const float *w = weights + (long)r * cols;
            float *o = out + t0 * ostride + r;
            switch (nt) {
                case 3: g_tile3(w, cols, xp, parts, o, ostride, valid); break;
                default: g_tile2(w, cols, xp, parts, o, ostride, valid); break;
            }
        }
        if (n > strips * G_ROWS) {
            f32_rows(weights, cols, r0 + strips * G_ROWS, n - strips * G_ROWS, x + t0 * xstride, xstride, valid,
                     out + t0 * ostride, ostride);
        }
        t0 += valid;
    }
    free(xp);
    return count - t0;
}


/* The level's entry points: the structs, checked at the JNI boundary, into the kernels' arguments. */
static void level_integer(const struct qs_weights *w, const struct qs_batch *b, const struct qs_output *o) {
    columns(w->layout, w->bytes, w->stride, (int)w->cols, w->row_scales, (int)w->o0, (int)w->len, b->x,
            (int)b->count, b->stride, b->token_scales, b->token_sums, o->values, o->stride, o->scratch);
}

/*
 * Few inputs (decode): a tile of outputs per column visit, its float sums in L1, four columns added
 * in order to each 16 sums loaded, so that each visit reads F_TILE contiguous bytes of a column (the
 * block kernels above read 64 bytes of every column per block: strided reads that a decode step,
 * with no other inputs to share them, pays in full). Same operations per output as the Java
 * int8Float kernel: bit for bit.
 */
#define F_TILE 2048
#define WIDEN16(p) _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(p))))

VNNI static void float_tile(const int8_t *w, long stride, const int32_t *list, int n, const float *x, float *acc,
                            long width) {
    memset(acc, 0, 4 * width);
    int j = 0;
    for (; j + 4 <= n; j += 4) {
        const int8_t *c0 = w + (long)list[j] * stride, *c1 = w + (long)list[j + 1] * stride;
        const int8_t *c2 = w + (long)list[j + 2] * stride, *c3 = w + (long)list[j + 3] * stride;
        __m512 p0 = _mm512_set1_ps(x[list[j]]), p1 = _mm512_set1_ps(x[list[j + 1]]);
        __m512 p2 = _mm512_set1_ps(x[list[j + 2]]), p3 = _mm512_set1_ps(x[list[j + 3]]);
        for (long o = 0; o < width; o += 16) {
            __m512 a = _mm512_load_ps(acc + o);
            a = _mm512_fmadd_ps(WIDEN16(c0 + o), p0, a);
            a = _mm512_fmadd_ps(WIDEN16(c1 + o), p1, a);
            a = _mm512_fmadd_ps(WIDEN16(c2 + o), p2, a);
            a = _mm512_fmadd_ps(WIDEN16(c3 + o), p3, a);
            _mm512_store_ps(acc + o, a);
        }
    }
    for (; j < n; j++) {
        const int8_t *c0 = w + (long)list[j] * stride;
        __m512 p0 = _mm512_set1_ps(x[list[j]]);
        for (long o = 0; o < width; o += 16) {
            _mm512_store_ps(acc + o, _mm512_fmadd_ps(WIDEN16(c0 + o), p0, _mm512_load_ps(acc + o)));
        }
    }
}

VNNI static void float_columns_tiled(const struct qs_weights *wt, const struct qs_batch *b, const struct qs_output *op) {
    float acc[F_TILE] __attribute__((aligned(64)));
    for (long t = 0; t < b->count; t++) {
        const int32_t *list = b->index + t * b->stride;
        __m512 ts = _mm512_set1_ps(b->token_scales[t]);
        for (long tile = wt->o0; tile < wt->o0 + wt->len; tile += F_TILE) {
            long width = wt->o0 + wt->len - tile < F_TILE ? wt->o0 + wt->len - tile : F_TILE;
            float_tile(wt->bytes + tile, wt->stride, list, b->counts[t], b->x + t * b->stride, acc, width);
            float *o = op->values + t * op->stride + tile;
            for (long v = 0; v < width; v += 16) {
                __m512 f = _mm512_mul_ps(_mm512_load_ps(acc + v), _mm512_loadu_ps(wt->row_scales + tile + v));
                _mm512_storeu_ps(o + v, _mm512_mul_ps(f, ts));
            }
        }
    }
}

static void level_int8_float(const struct qs_weights *w, const struct qs_batch *b, const struct qs_output *o) {
    if (b->count < 4) {
        float_columns_tiled(w, b, o);
        return;
    }
    float_columns(w->bytes, w->stride, w->row_scales, (int)w->o0, (int)w->len, b->x, b->index, b->counts,
                  (int)b->count, b->stride, b->token_scales, o->values, o->stride);
}

static void level_f32_rows(const struct qs_weights *w, const struct qs_batch *b, const struct qs_output *o) {
    const float *weights = (const float *)w->bytes;
    int count = (int)b->count;
    int left = f32_gemm(weights, (int)w->cols, (int)w->o0, (int)w->len, b->x, b->stride, count, o->values, o->stride);
    if (left > 0) {
        f32_rows(weights, (int)w->cols, (int)w->o0, (int)w->len, b->x + (count - left) * b->stride, b->stride, left,
                 o->values + (count - left) * o->stride, o->stride);
    }
}

/*
 * One input over ternary columns on zmm registers (the 256-bit kernel of sparse_256.inc takes the
 * outputs past the last whole 256): four kept columns per visit of a 256-output block, their 64
 * bytes interleaved so that each 32-bit lane holds one byte position of the four columns; each
 * 2-bit plane is a shift and a mask away, and vpdpbusd adds code (0, 1, 2: unsigned) times x
 * (signed) of the four columns into int32, exact and without int16 steps. Accumulator (k, m), lane
 * L, dword d holds output 64L + 16m + 4k + d of the block; the finish transposes the 128-bit lanes
 * of the four k into output order. Sums, finish and results are those of the 256-bit kernel.
 */
#define W_TILE 4096 /* outputs per sweep of the kept columns: int32 sums of 16 KB in L1 */

VNNI_INLINE __m512i dpbusd512(__m512i acc, __m512i u, __m512i s) {
    __asm__("vpdpbusd %[s], %[u], %[acc]" : [acc] "+v"(acc) : [u] "v"(u), [s] "v"(s));
    return acc;
}

/* The lines [from, from + bytes) of four columns, fetched ahead (short runs at scattered addresses). */
VNNI_INLINE void prefetch4(const int8_t *const *cp, long from, long bytes) {
    for (int k = 0; k < 4; k++) {
        qs_prefetch_lines(cp[k] + from, bytes);
    }
}

/* acc[4k + m] += plane m of interleaved vector v (k) times the four activations x4. */
#define WIDE_PLANES(k, v)                                                                                  \
    do {                                                                                                 \
        acc[4 * (k)] = dpbusd512(acc[4 * (k)], _mm512_and_si512((v), three), x4);                         \
        acc[4 * (k) + 1] = dpbusd512(acc[4 * (k) + 1], _mm512_and_si512(_mm512_srli_epi16((v), 2), three), x4); \
        acc[4 * (k) + 2] = dpbusd512(acc[4 * (k) + 2], _mm512_and_si512(_mm512_srli_epi16((v), 4), three), x4); \
        acc[4 * (k) + 3] = dpbusd512(acc[4 * (k) + 3], _mm512_and_si512(_mm512_srli_epi16((v), 6), three), x4); \
    } while (0)

VNNI static void sparse_ternary_wide(const int8_t *const *cp, const int8_t *xb, int n, int32_t token_sum,
                                     float token_scale, long o0, long len, float *out, int32_t *raw) {
    int quads = (n + 3) / 4;
    const __m512i three = _mm512_set1_epi8(3);
    __m512i tsum = _mm512_set1_epi32(token_sum);
    __m512 ts = _mm512_set1_ps(token_scale);
    int32_t sums[W_TILE] __attribute__((aligned(64))); /* accumulator layout: 256-output block b at 256b, (k, m) at 16(4k + m) */
    for (long tile = o0; tile < o0 + len; tile += W_TILE) {
        long width = o0 + len - tile < W_TILE ? o0 + len - tile : W_TILE; /* a multiple of 256 */
        int ahead = qs_ternary_quads_ahead(width / 4);
        memset(sums, 0, 4 * width);
        for (int q = 0; q < quads; q++) {
            int32_t four;
            memcpy(&four, xb + 4 * q, 4);
            __m512i x4 = _mm512_set1_epi32(four);
            const int8_t *c0 = cp[4 * q] + tile / 4, *c1 = cp[4 * q + 1] + tile / 4, *c2 = cp[4 * q + 2] + tile / 4,
                         *c3 = cp[4 * q + 3] + tile / 4;
            if (q + ahead < quads) {
                /*
                 * Column by column: the whole span of the quad (the 256-bit kernel's way) measured
                 * faster from memory here too, but 14-28% slower in cache (more live registers
                 * beside the 16 zmm sums).
                 */
                prefetch4(cp + 4 * (q + ahead), tile / 4, width / 4);
            }
            for (long blk = 0; blk < width; blk += 256) {
                long byte = blk / 4;
                __m512i k0 = _mm512_loadu_si512(c0 + byte), k1 = _mm512_loadu_si512(c1 + byte);
                __m512i k2 = _mm512_loadu_si512(c2 + byte), k3 = _mm512_loadu_si512(c3 + byte);
                __m512i a_lo = _mm512_unpacklo_epi8(k0, k1), a_hi = _mm512_unpackhi_epi8(k0, k1);
                __m512i b_lo = _mm512_unpacklo_epi8(k2, k3), b_hi = _mm512_unpackhi_epi8(k2, k3);
                __m512i *s = (__m512i *)(sums + blk);
                __m512i acc[16];
                for (int i = 0; i < 16; i++) {
                    acc[i] = _mm512_load_si512(s + i);
                }
                WIDE_PLANES(0, _mm512_unpacklo_epi16(a_lo, b_lo)); /* byte positions 4k + d, k = 0 */
                WIDE_PLANES(1, _mm512_unpackhi_epi16(a_lo, b_lo));
                WIDE_PLANES(2, _mm512_unpacklo_epi16(a_hi, b_hi));
                WIDE_PLANES(3, _mm512_unpackhi_epi16(a_hi, b_hi));
                for (int i = 0; i < 16; i++) {
                    _mm512_store_si512(s + i, acc[i]);
                }
            }
        }
        for (long blk = 0; blk < width; blk += 256) {
            const __m512i *s = (const __m512i *)(sums + blk);
            for (int m = 0; m < 4; m++) {
                /* lanes L of (k = 0..3, plane m) are outputs 64L + 16m + 0..15 */
                __m512i r[4];
                unpermute4(_mm512_load_si512(s + m), _mm512_load_si512(s + 4 + m), _mm512_load_si512(s + 8 + m),
                           _mm512_load_si512(s + 12 + m), r);
                for (int l = 0; l < 4; l++) {
                    long o = tile + blk + 64 * l + 16 * m;
                    if (raw != NULL) {
                        _mm512_storeu_si512(raw + o, r[l]); /* the exact code sums, unfinished */
                    } else {
                        __m512 f = _mm512_cvtepi32_ps(_mm512_sub_epi32(r[l], tsum));
                        _mm512_storeu_ps(out + o, _mm512_mul_ps(f, ts));
                    }
                }
            }
        }
    }
}

/*
 * One input over int8 columns on zmm registers: four kept columns per visit of a 64-output block,
 * interleaved as in the ternary kernel (lane L, dword d of vector k: output 16L + 4k + d), the
 * weights' sign bit flipped so that they go in unsigned (w + 128) against the signed activations:
 * vpdpbusd gives sum (w + 128) x exactly, and 128 * sum x comes off at the finish. The same exact
 * sums and finish as the 256-bit kernel (which needs vpsignb, absent on zmm): bit for bit.
 */
/*
 * Outputs per sweep of the kept columns: 3072 takes a 3072-output matrix (a feed-forward's gate and
 * up) in one sweep, each kept column one contiguous 48-line run instead of two, with the prefetch of
 * the group after next still on (it stops past 3072): seed-shape int8 decode 140-162 -> 152-165 tok/s
 * in alternating pairs; 4096 (no prefetch) measured no better than 2048.
 */
#ifndef W_TILE_INT8
#define W_TILE_INT8 3072
#endif

VNNI static void sparse_int8_wide(const int8_t *const *cp, const int8_t *xb, int n, const float *row_scale,
                                  float token_scale, long o0, long len, float *out, int32_t *raw) {
    int groups = (n + 3) / 4;
    int32_t xsum = 0;
    for (int j = 0; j < n; j++) {
        xsum += xb[j];
    }
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    __m512i offset = _mm512_set1_epi32(128 * xsum);
    __m512 ts = _mm512_set1_ps(token_scale);
    int32_t sums[W_TILE_INT8] __attribute__((aligned(64))); /* 64-output block b at 64b, vector k at 16k */
    for (long tile = o0; tile < o0 + len; tile += W_TILE_INT8) {
        long width = o0 + len - tile < W_TILE_INT8 ? o0 + len - tile : W_TILE_INT8; /* a multiple of 64 */
        memset(sums, 0, 4 * width);
        for (int g = 0; g < groups; g++) {
            int32_t four;
            memcpy(&four, xb + 4 * g, 4);
            __m512i x4 = _mm512_set1_epi32(four);
            const int8_t *c0 = cp[4 * g] + tile, *c1 = cp[4 * g + 1] + tile, *c2 = cp[4 * g + 2] + tile,
                         *c3 = cp[4 * g + 3] + tile;
            if (g + 2 < groups && width <= 3072) { /* short runs: fetch the group after next (see sparse_int8) */
                prefetch4(cp + 4 * (g + 2), tile, width);
            }
            for (long blk = 0; blk < width; blk += 64) {
                __m512i k0 = _mm512_xor_si512(_mm512_loadu_si512(c0 + blk), flip);
                __m512i k1 = _mm512_xor_si512(_mm512_loadu_si512(c1 + blk), flip);
                __m512i k2 = _mm512_xor_si512(_mm512_loadu_si512(c2 + blk), flip);
                __m512i k3 = _mm512_xor_si512(_mm512_loadu_si512(c3 + blk), flip);
                __m512i a_lo = _mm512_unpacklo_epi8(k0, k1), a_hi = _mm512_unpackhi_epi8(k0, k1);
                __m512i b_lo = _mm512_unpacklo_epi8(k2, k3), b_hi = _mm512_unpackhi_epi8(k2, k3);
                __m512i *s = (__m512i *)(sums + blk);
                _mm512_store_si512(s, dpbusd512(_mm512_load_si512(s), _mm512_unpacklo_epi16(a_lo, b_lo), x4));
                _mm512_store_si512(s + 1, dpbusd512(_mm512_load_si512(s + 1), _mm512_unpackhi_epi16(a_lo, b_lo), x4));
                _mm512_store_si512(s + 2, dpbusd512(_mm512_load_si512(s + 2), _mm512_unpacklo_epi16(a_hi, b_hi), x4));
                _mm512_store_si512(s + 3, dpbusd512(_mm512_load_si512(s + 3), _mm512_unpackhi_epi16(a_hi, b_hi), x4));
            }
        }
        for (long blk = 0; blk < width; blk += 64) {
            const __m512i *s = (const __m512i *)(sums + blk);
            __m512i r[4];
            unpermute4(_mm512_load_si512(s), _mm512_load_si512(s + 1), _mm512_load_si512(s + 2),
                            _mm512_load_si512(s + 3), r);
            for (int l = 0; l < 4; l++) {
                long o = tile + blk + 16 * l;
                __m512i sum = _mm512_sub_epi32(r[l], offset);
                if (raw != NULL) {
                    _mm512_storeu_si512(raw + o, sum); /* the exact sums, unfinished */
                } else {
                    __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(sum), _mm512_loadu_ps(row_scale + o));
                    _mm512_storeu_ps(out + o, _mm512_mul_ps(f, ts));
                }
            }
        }
    }
}

/* Decode steps on 256-bit registers (EVEX vpdpbusd: no AVX-VNNI needed): see sparse_256.inc. */
#define S_INT8_WIDE sparse_int8_wide
#define S_TERNARY_WIDE sparse_ternary_wide
#define S_TARGET "avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni"
#define S_VNNI 1
#define S_DPBUSD "vpdpbusd"
#include "sparse_256.inc"

static int level_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
           && __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("fma");
}

const struct qs_level qs_level_avx512_vnni = {
    "avx512-vnni", level_supported, level_integer, sparse_integer, level_int8_float, level_f32_rows,
};

/* The AVX2 level (AMD Zen 1-3, Intel Haswell to Comet Lake): see kernels_256.inc. */
#include "qsparse_kernels.h"

#define L256_TARGET "avx2,fma"
#define L256_VNNI 0
#define L256_LEVEL qs_level_avx2
#define L256_NAME "avx2"
#define L256_SUPPORTED() (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
#include "kernels_256.inc"

/* The AVX-VNNI level (Intel Alder Lake and later client parts, AMD Zen 5): see kernels_256.inc. */
#include "qsparse_kernels.h"

#define L256_TARGET "avx2,fma,avxvnni"
#define L256_VNNI 1
#define L256_LEVEL qs_level_avx_vnni
#define L256_NAME "avx-vnni"
#define L256_SUPPORTED() (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("avxvnni"))
#include "kernels_256.inc"

/* Every level this build has, best first: the order of NativeKernels' level numbers. */
#include "qsparse_kernels.h"

const struct qs_level *const qs_levels[QS_LEVELS] = {&qs_level_avx512_vnni, &qs_level_avx_vnni, &qs_level_avx2};

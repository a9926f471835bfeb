// The avx512vnni tier of the K-quant kernels (KQuantTileX86.h): a quad's four products of the unsigned weights
// with the signed activations added to each int32 lane by VNNI's `vpdpbusd` in one step (256-bit vectors,
// AVX512-VL). The sums are exact, the same as the other tiers'.
#if defined(__x86_64__)
#include "KQuantProduct.h"

#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni"))), apply_to = function)

#define CSIMD_KQUANT_DOT _mm256_dpbusd_epi32
#include "KQuantTileX86.h"

static void tile(const uint8_t *group, csimd_kquant_type type, int64_t nb, int n, const int8_t *x, int64_t cols,
                 const int16_t *x_sums, const float *dx, float out[4][8]) {
    CSIMD_KQUANT_SPECIALIZE(csimd_tile_x86, n, type, group, nb, x, cols, x_sums, dx, out);
}

void csimd_multiply_kquant_avx512vnni(const csimd_kquant_matrix *w, const csimd_q8k_activations *x,
                                      int64_t first_row, int64_t end_row, float *y, int accumulate) {
    csimd_kquant_loop(w, x, 0, first_row, end_row, y, accumulate, tile);
}

#pragma clang attribute pop
#endif

// The avx2 tier of the K-quant kernels (KQuantTileX86.h): a quad's four products per int32 lane as
// `vpmaddubsw` of the unsigned weights (≤ 63) with the signed activations (pair sums ≤ 2·63·127, no
// saturation), then `vpmaddwd` with ones. The sums are exact, the same as the other tiers'.
#if defined(__x86_64__)
#include "KQuantProduct.h"

#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)

static inline __attribute__((always_inline)) __m256i dot_quads(__m256i acc, __m256i w, __m256i x) {
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(w, x), _mm256_set1_epi16(1)));
}
#define CSIMD_KQUANT_DOT dot_quads
#include "KQuantTileX86.h"

static void tile(const uint8_t *group, csimd_kquant_type type, int64_t nb, int n, const int8_t *x, int64_t cols,
                 const int16_t *x_sums, const float *dx, float out[4][8]) {
    CSIMD_KQUANT_SPECIALIZE(csimd_tile_x86, n, type, group, nb, x, cols, x_sums, dx, out);
}

void csimd_multiply_kquant_avx2(const csimd_kquant_matrix *w, const csimd_q8k_activations *x,
                                int64_t first_row, int64_t end_row, float *y, int accumulate) {
    csimd_kquant_loop(w, x, 0, first_row, end_row, y, accumulate, tile);
}

#pragma clang attribute pop
#endif

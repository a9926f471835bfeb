// The avx2 tier of the K-quant kernels. Tiles of four activation rows on unpacked super-blocks: per 32
// values, `vpmaddubsw` of the unsigned weights (≤ 63) with the signed activations gives pair sums
// ≤ 2·63·127 (no saturation), `vpmaddwd` with the pairs' scales widens them to int32. Single rows on the GGUF
// bytes (KQuantRowAVX2.h). The sums are exact, the same as the other tiers'.
#if defined(__x86_64__)
#include "KQuantProduct.h"

#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)

#include "KQuantRowAVX2.h"

static void dot4(const csimd_kblock *blocks, int64_t nb, int is_q6, const int8_t *x, int64_t cols,
                 const int16_t *x_sums, int32_t *main, int32_t *minimum) {
    for (int64_t b = 0; b < nb; b++) {
        const csimd_kblock *k = blocks + b;
        const int8_t *a = x + b * CSIMD_KQUANT_BLOCK;
        __m256i sum[4];
        for (int i = 0; i < 4; i++) sum[i] = _mm256_setzero_si256();
        for (int c = 0; c < 8; c++) {
            const __m256i v = _mm256_load_si256((const __m256i *)(k->values + 32 * c));
            const __m256i scales = _mm256_load_si256((const __m256i *)(k->pair_scales + 16 * c));
            for (int i = 0; i < 4; i++) {
                const __m256i q = _mm256_loadu_si256((const __m256i *)(a + i * cols + 32 * c));
                sum[i] = _mm256_add_epi32(sum[i], _mm256_madd_epi16(_mm256_maddubs_epi16(v, q), scales));
            }
        }
        csimd_finish4_avx2(sum, k, nb, b, is_q6, x_sums, main, minimum);
    }
}

static void row1(const uint8_t *row, csimd_kquant_type type, int64_t nb, const int8_t *x, const int16_t *x_sums,
                 int32_t *main, int32_t *minimum) {
    csimd_row1_avx2(row, type, nb, x, x_sums, main, minimum);
}

void csimd_multiply_kquant_avx2(const csimd_kquant_matrix *w, const csimd_q8k_activations *x,
                                int64_t first_row, int64_t end_row, float *y, int accumulate) {
    csimd_kquant_loop(w, x, first_row, end_row, y, accumulate, dot4, row1);
}

#pragma clang attribute pop
#endif

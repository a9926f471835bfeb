// The avx512vnni tier of the K-quant kernels. Tiles of four activation rows on unpacked super-blocks: per 64
// values, `vpmaddubsw` of the unsigned weights (≤ 63) with the signed activations (pair sums ≤ 2·63·127, no
// saturation), then VNNI's `vpdpwssd` multiplies them by the pairs' scales and adds to int32 in one step.
// Single rows on the GGUF bytes with the avx2 code (KQuantRowAVX2.h). The sums are exact, the same as the
// other tiers'.
#if defined(__x86_64__)
#include "KQuantProduct.h"

#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni"))), apply_to = function)

#include "KQuantRowAVX2.h"

static void dot4(const csimd_kblock *blocks, int64_t nb, int is_q6, const int8_t *x, int64_t cols,
                 const int16_t *x_sums, int32_t *main, int32_t *minimum) {
    for (int64_t b = 0; b < nb; b++) {
        const csimd_kblock *k = blocks + b;
        const int8_t *a = x + b * CSIMD_KQUANT_BLOCK;
        __m512i sum[4];
        for (int i = 0; i < 4; i++) sum[i] = _mm512_setzero_si512();
        for (int c = 0; c < 4; c++) {
            const __m512i v = _mm512_load_si512((const void *)(k->values + 64 * c));
            const __m512i scales = _mm512_load_si512((const void *)(k->pair_scales + 32 * c));
            for (int i = 0; i < 4; i++) {
                const __m512i q = _mm512_loadu_si512((const void *)(a + i * cols + 64 * c));
                sum[i] = _mm512_dpwssd_epi32(sum[i], _mm512_maddubs_epi16(v, q), scales);
            }
        }
        __m256i folded[4];
        for (int i = 0; i < 4; i++) {
            folded[i] = _mm256_add_epi32(_mm512_castsi512_si256(sum[i]), _mm512_extracti64x4_epi64(sum[i], 1));
        }
        csimd_finish4_avx2(folded, k, nb, b, is_q6, x_sums, main, minimum);
    }
}

static void row1(const uint8_t *row, csimd_kquant_type type, int64_t nb, const int8_t *x, const int16_t *x_sums,
                 int32_t *main, int32_t *minimum) {
    csimd_row1_avx2(row, type, nb, x, x_sums, main, minimum);
}

void csimd_multiply_kquant_avx512vnni(const csimd_kquant_matrix *w, const csimd_q8k_activations *x,
                                      int64_t first_row, int64_t end_row, float *y, int accumulate) {
    csimd_kquant_loop(w, x, first_row, end_row, y, accumulate, dot4, row1);
}

#pragma clang attribute pop
#endif

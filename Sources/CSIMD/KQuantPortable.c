// The portable tier of the K-quant kernels: plain C the compiler may vectorize for any target. Per pair of
// values, w₀x₀ + w₁x₁ times the pair's scale, summed in int32: the same exact sums as the other tiers'.
#include "KQuantProduct.h"

static inline __attribute__((always_inline)) int32_t dot(const csimd_kblock *k, const int8_t *a) {
    int32_t sum = 0;
    for (int q = 0; q < 128; q++) {
        const int32_t pair = k->values[2 * q] * a[2 * q] + k->values[2 * q + 1] * a[2 * q + 1];
        sum += k->pair_scales[q] * pair;
    }
    return sum;
}

static void dot4(const csimd_kblock *blocks, int64_t nb, const int8_t *x, int64_t cols, int32_t *dots) {
    for (int i = 0; i < 4; i++) {
        for (int64_t b = 0; b < nb; b++) dots[i * nb + b] = dot(blocks + b, x + i * cols + b * CSIMD_KQUANT_BLOCK);
    }
}

static int32_t dot1(const csimd_kblock *k, const int8_t *a) { return dot(k, a); }

static void row1(const uint8_t *row, csimd_kquant_type type, int64_t nb, const int8_t *x, const int16_t *x_sums,
                 csimd_kquant_sums *sums) {
    csimd_kquant_row1_unpacked(row, type, nb, x, x_sums, sums, dot1);
}

void csimd_multiply_kquant_portable(const csimd_kquant_matrix *w, const csimd_q8k_activations *x,
                                    int64_t first_row, int64_t end_row, float *y, int accumulate) {
    csimd_kquant_loop(w, x, first_row, end_row, y, accumulate, dot4, row1);
}

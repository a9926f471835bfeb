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

static int32_t dot1(const csimd_kblock *k, const int8_t *a) { return dot(k, a); }

static void dot4(const csimd_kblock *blocks, int64_t nb, int is_q6, const int8_t *x, int64_t cols,
                 const int16_t *x_sums, int32_t *main, int32_t *minimum) {
    csimd_kquant_dot4_by_blocks(blocks, nb, is_q6, x, cols, x_sums, main, minimum, dot1);
}

static void row1(const uint8_t *row, csimd_kquant_type type, int64_t nb, const int8_t *x, const int16_t *x_sums,
                 int32_t *main, int32_t *minimum) {
    csimd_kquant_row1_by_blocks(row, type, nb, x, x_sums, main, minimum, dot1);
}

void csimd_multiply_kquant_portable(const csimd_kquant_matrix *w, const csimd_q8k_activations *x,
                                    int64_t first_row, int64_t end_row, float *y, int accumulate) {
    csimd_kquant_loop(w, x, first_row, end_row, y, accumulate, dot4, row1);
}

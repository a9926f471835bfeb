// The portable tier of the K-quant kernels: plain C loops over the repacked quads (eight rows × four values per
// chunk of 32 bytes) that the compiler may vectorize for any target; the same exact sums as the other tiers'.
#include "KQuantProduct.h"

/// Value j of quad c (values 4c … 4c + 3) of row r, as KQuantProduct.h's layout stores it.
static inline __attribute__((always_inline)) int32_t quad_value(csimd_kquant_type type, const uint8_t *q, int c, int r,
                                                                int j) {
    if (type == CSIMD_Q5_K) return q[32 * c + 4 * r + j];
    const uint8_t bits = q[32 * (c % 32) + 4 * r + j];
    const int32_t nibble = c < 32 ? bits & 0xF : bits >> 4;
    if (type == CSIMD_Q4_K) return nibble;
    return nibble | ((q[CSIMD_Q6K_HIGH_BITS + 32 * (c % 16) + 4 * r + j] >> (2 * (c / 16))) & 3) << 4;
}

/// acc[r] += Σ_j value(quad c, row r, j) · a[4c + j] over quads first … first + quads − 1, for the eight rows.
static inline __attribute__((always_inline)) void dot_quads(csimd_kquant_type type, int32_t acc[8], const uint8_t *q,
                                                            int first, int quads, const int8_t *a) {
    for (int c = first; c < first + quads; c++) {
        for (int r = 0; r < 8; r++) {
            int32_t s = 0;
            for (int j = 0; j < 4; j++) s += quad_value(type, q, c, r, j) * a[4 * c + j];
            acc[r] += s;
        }
    }
}

/// The integer parts of one group-block times one activation row (values a, Q8_K sums s16): main[r] and
/// minimum[r] as KQuantProduct.h defines them.
static inline __attribute__((always_inline)) void block_parts(csimd_kquant_type type, const uint8_t *q,
                                                              const int8_t *a, const int16_t *s16, int32_t main[8],
                                                              int32_t minimum[8]) {
    const csimd_kquant_layout layout = csimd_kquant_layout_of(type);
    for (int r = 0; r < 8; r++) main[r] = minimum[r] = 0;
    if (type == CSIMD_Q6_K) {
        const int8_t *scales = (const int8_t *)(q + layout.scales);
        for (int s = 0; s < 16; s++) {
            int32_t acc[8] = {0};
            dot_quads(type, acc, q, 4 * s, 4, a);
            for (int r = 0; r < 8; r++) main[r] += scales[8 * s + r] * (acc[r] - 32 * s16[s]);
        }
        return;
    }
    const uint8_t *scales = q + layout.scales, *minima = q + layout.minima;
    for (int s = 0; s < 8; s++) {
        int32_t acc[8] = {0};
        dot_quads(type, acc, q, 8 * s, 8, a);
        const int32_t sum_x = s16[2 * s] + s16[2 * s + 1];
        for (int r = 0; r < 8; r++) {
            main[r] += scales[8 * s + r] * acc[r];
            minimum[r] += minima[8 * s + r] * sum_x;
        }
    }
}

static void tile(const uint8_t *group, csimd_kquant_type type, int64_t nb, int n, const int8_t *x, int64_t cols,
                 const int16_t *x_sums, const float *dx, float out[4][8]) {
    const csimd_kquant_layout layout = csimd_kquant_layout_of(type);
    const int is_q6 = type == CSIMD_Q6_K;
    float sum[4][8] = {{0}}, minima[4][8] = {{0}};
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *q = group + b * layout.bytes;
        for (int i = 0; i < n; i++) {
            int32_t main[8], minimum[8];
            block_parts(type, q, x + i * cols + b * CSIMD_KQUANT_BLOCK, x_sums + (i * nb + b) * 16, main, minimum);
            for (int r = 0; r < 8; r++) {
                const float d = csimd_half_to_float(q + layout.d + 2 * r);
                const float dmin = is_q6 ? 0 : csimd_half_to_float(q + layout.dmin + 2 * r);
                csimd_kquant_accumulate(&sum[i][r], &minima[i][r], dx[i * nb + b], d, dmin, main[r], minimum[r], is_q6);
            }
        }
    }
    for (int i = 0; i < n; i++) {
        for (int r = 0; r < 8; r++) out[i][r] = sum[i][r] - minima[i][r];
    }
}

void csimd_multiply_kquant_portable(const csimd_kquant_matrix *w, const csimd_q8k_activations *x,
                                    int64_t first_row, int64_t end_row, float *y, int accumulate) {
    csimd_kquant_loop(w, x, first_row, end_row, y, accumulate, tile);
}

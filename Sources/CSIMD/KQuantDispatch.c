// The K-quant entry points: block sizes, ggml's Q8_K quantization (one code for every tier) and the product
// on the active tier (csimd_active_tier, shared with the 32-block kernels).
#include "CSIMD.h"
#include "KQuantProduct.h"

#include <math.h>

int64_t csimd_kquant_block_bytes(csimd_kquant_type type) {
    switch (type) {
    case CSIMD_Q4_K: return 144;
    case CSIMD_Q5_K: return 176;
    default: return 210;
    }
}

/// ggml's nearest_int: round half to even through the bits of v + 1.5·2²³ (|v| ≤ 2²²).
static inline int32_t nearest_int(float v) {
    const float shifted = v + 12582912.f;
    int32_t bits;
    memcpy(&bits, &shifted, 4);
    return (bits & 0x007FFFFF) - 0x00400000;
}

void csimd_quantize_q8k(const float *x, int64_t blocks, int8_t *values, float *scales, int16_t *sums) {
    for (int64_t b = 0; b < blocks; b++) {
        const float *xb = x + b * CSIMD_KQUANT_BLOCK;
        int8_t *q = values + b * CSIMD_KQUANT_BLOCK;
        float amax = 0;
        for (int j = 0; j < CSIMD_KQUANT_BLOCK; j++) amax = fabsf(xb[j]) > amax ? fabsf(xb[j]) : amax;
        if (amax == 0) {
            scales[b] = 0;
            memset(q, 0, CSIMD_KQUANT_BLOCK);
            memset(sums + 16 * b, 0, 16 * sizeof *sums);
            continue;
        }
        // The first value of largest magnitude, with its sign (ggml keeps the first on ties).
        int j = 0;
        while (fabsf(xb[j]) != amax) j++;
        const float iscale = -127.f / xb[j];
        for (j = 0; j < CSIMD_KQUANT_BLOCK; j++) {
            const int32_t v = nearest_int(iscale * xb[j]);
            q[j] = (int8_t)(v < 127 ? v : 127);
        }
        for (int s = 0; s < 16; s++) {
            int32_t sum = 0;
            for (int l = 0; l < CSIMD_KQUANT_SUM_SPAN; l++) sum += q[16 * s + l];
            sums[16 * b + s] = (int16_t)sum;
        }
        scales[b] = 1 / iscale;
    }
}

void csimd_multiply_kquant(const csimd_kquant_matrix *w, const csimd_q8k_activations *x, int64_t first_row,
                           int64_t end_row, float *y, int accumulate) {
    switch (csimd_active_tier()) {
#if defined(__x86_64__)
    case CSIMD_TIER_AVX512VNNI: csimd_multiply_kquant_avx512vnni(w, x, first_row, end_row, y, accumulate); return;
    case CSIMD_TIER_AVX2: csimd_multiply_kquant_avx2(w, x, first_row, end_row, y, accumulate); return;
#endif
    default: csimd_multiply_kquant_portable(w, x, first_row, end_row, y, accumulate); return;
    }
}

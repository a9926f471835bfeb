// The avx2 tier: 256-bit lanes, rows 0-7 and 8-15 of a group in two registers. Unsigned weights: `vpmaddubsw`
// on a row's four bytes per 32-bit lane against the activations' four bytes in every lane (pair sums
// ≤ 2·31·127, four quads still fit int16), widened with `vpmaddwd` by ones; signed weights (Q8_0): |w| times x
// with w's sign (`vpsignb`, pair sums ≤ 2·128·127), widened after every quad. No sum saturates: the integer
// sums are exact, the same as the other tiers'.
#if defined(__x86_64__)
#include "Prefetch.h"
#include "QuantizedProduct.h"

#include <immintrin.h>
#include <string.h>

#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#pragma clang fp contract(off)

static inline __attribute__((always_inline)) __m256i activation_quad(const int8_t *x) {
    int32_t bits;
    memcpy(&bits, x, 4);
    return _mm256_set1_epi32(bits);
}

/// Group g's 16 rows times activation rows t0 ..< t0 + n.
static inline __attribute__((always_inline)) void tile(const csimd_quantized_matrix *w,
                                                       const csimd_quantized_activations *x, int64_t g,
                                                       int64_t t0, float *y, int accumulate, const int n,
                                                       const int is_signed) {
    const int64_t nb = w->blocks, cols = nb * 32;
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 low[4], high[4];
    for (int i = 0; i < n; i++) low[i] = high[i] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *base = w->values + (g * nb + b) * CSIMD_GROUP_BLOCK_BYTES;
        if (n == 1) csimd_prefetch_ahead(base, CSIMD_GROUP_BLOCK_BYTES);
        const int8_t *xq = x->values + t0 * cols + b * 32;
        __m256i lo[4], hi[4];
        for (int i = 0; i < n; i++) lo[i] = hi[i] = _mm256_setzero_si256();
        if (is_signed) {
            for (int c = 0; c < 8; c++) {
                __m256i w0 = _mm256_loadu_si256((const __m256i *)(base + c * 64));
                __m256i w1 = _mm256_loadu_si256((const __m256i *)(base + c * 64 + 32));
                __m256i m0 = _mm256_abs_epi8(w0), m1 = _mm256_abs_epi8(w1);
                for (int i = 0; i < n; i++) {
                    __m256i a = activation_quad(xq + i * cols + 4 * c);
                    lo[i] = _mm256_add_epi32(lo[i], _mm256_madd_epi16(_mm256_maddubs_epi16(m0, _mm256_sign_epi8(a, w0)), ones));
                    hi[i] = _mm256_add_epi32(hi[i], _mm256_madd_epi16(_mm256_maddubs_epi16(m1, _mm256_sign_epi8(a, w1)), ones));
                }
            }
        } else {
            for (int half = 0; half < 2; half++) {
                __m256i acc0[4], acc1[4];
                for (int i = 0; i < n; i++) acc0[i] = acc1[i] = _mm256_setzero_si256();
                for (int k = 0; k < 4; k++) {
                    int c = half * 4 + k;
                    __m256i w0 = _mm256_loadu_si256((const __m256i *)(base + c * 64));
                    __m256i w1 = _mm256_loadu_si256((const __m256i *)(base + c * 64 + 32));
                    for (int i = 0; i < n; i++) {
                        __m256i a = activation_quad(xq + i * cols + 4 * c);
                        acc0[i] = _mm256_add_epi16(acc0[i], _mm256_maddubs_epi16(w0, a));
                        acc1[i] = _mm256_add_epi16(acc1[i], _mm256_maddubs_epi16(w1, a));
                    }
                }
                for (int i = 0; i < n; i++) {
                    lo[i] = _mm256_add_epi32(lo[i], _mm256_madd_epi16(acc0[i], ones));
                    hi[i] = _mm256_add_epi32(hi[i], _mm256_madd_epi16(acc1[i], ones));
                }
            }
        }
        const float *d = w->scales + (g * nb + b) * CSIMD_GROUP_ROWS;
        const __m256 d_low = _mm256_loadu_ps(d), d_high = _mm256_loadu_ps(d + 8);
        __m256 m_low = _mm256_setzero_ps(), m_high = _mm256_setzero_ps();
        if (w->mins) {
            m_low = _mm256_loadu_ps(w->mins + (g * nb + b) * CSIMD_GROUP_ROWS);
            m_high = _mm256_loadu_ps(w->mins + (g * nb + b) * CSIMD_GROUP_ROWS + 8);
        }
        for (int i = 0; i < n; i++) {
            const int64_t block = (t0 + i) * nb + b;
            if (w->offset) {
                __m256i correction = _mm256_set1_epi32(w->offset * x->sums[block]);
                lo[i] = _mm256_sub_epi32(lo[i], correction);
                hi[i] = _mm256_sub_epi32(hi[i], correction);
            }
            const __m256 dx = _mm256_set1_ps(x->scales[block]);
            low[i] = _mm256_add_ps(low[i], _mm256_mul_ps(_mm256_cvtepi32_ps(lo[i]), _mm256_mul_ps(d_low, dx)));
            high[i] = _mm256_add_ps(high[i], _mm256_mul_ps(_mm256_cvtepi32_ps(hi[i]), _mm256_mul_ps(d_high, dx)));
            if (w->mins) {
                const __m256 s = _mm256_set1_ps(x->scaled_sums[block]);
                low[i] = _mm256_add_ps(low[i], _mm256_mul_ps(m_low, s));
                high[i] = _mm256_add_ps(high[i], _mm256_mul_ps(m_high, s));
            }
        }
    }
    for (int i = 0; i < n; i++) {
        float sums[16];
        _mm256_storeu_ps(sums, low[i]);
        _mm256_storeu_ps(sums + 8, high[i]);
        csimd_store_group(sums, y + (t0 + i) * w->rows, g, w->rows, accumulate);
    }
}

CSIMD_TILE_VARIANTS(tile)

void csimd_multiply_avx2(const csimd_quantized_matrix *w, const csimd_quantized_activations *x,
                         int64_t first_group, int64_t end_group, float *y, int accumulate) {
    if (w->is_signed) {
        CSIMD_MULTIPLY_LOOP(tile4_signed, tile1_signed)
    } else {
        CSIMD_MULTIPLY_LOOP(tile4_unsigned, tile1_unsigned)
    }
}

#pragma clang attribute pop
#endif

// The avx512vnni tier: 512-bit lanes, all 16 rows of a group in one register (one 64-byte quad of columns per
// load). `vpdpbusd` adds, per 32-bit lane, the four products of a row's unsigned weight bytes with the
// activations' signed bytes to an int32 sum, without saturating. Signed weights (Q8_0) are made unsigned by
// flipping their top bit (w + 128) and the block's 128·Σx subtracted afterwards. The integer sums are exact,
// the same as the other tiers'.
#if defined(__x86_64__)
#include "Prefetch.h"
#include "QuantizedProduct.h"

#include <immintrin.h>
#include <string.h>

#pragma clang attribute push(__attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni"))), apply_to = function)
#pragma clang fp contract(off)

static inline __attribute__((always_inline)) __m512i activation_quad(const int8_t *x) {
    int32_t bits;
    memcpy(&bits, x, 4);
    return _mm512_set1_epi32(bits);
}

/// Group g's 16 rows times activation rows t0 ..< t0 + n.
static inline __attribute__((always_inline)) void tile(const csimd_quantized_matrix *w,
                                                       const csimd_quantized_activations *x, int64_t g,
                                                       int64_t t0, float *y, int accumulate, const int n,
                                                       const int is_signed) {
    const int64_t nb = w->blocks, cols = nb * 32;
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    // The integer subtracted per unit of Σx: 128 for flipped signed weights, else the type's offset.
    const int32_t shift = is_signed ? 128 : w->offset;
    __m512 sum[4];
    for (int i = 0; i < n; i++) sum[i] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *base = w->values + (g * nb + b) * CSIMD_GROUP_BLOCK_BYTES;
        if (n == 1) csimd_prefetch_ahead(base, CSIMD_GROUP_BLOCK_BYTES);
        const int8_t *xq = x->values + t0 * cols + b * 32;
        // Two sums per row (even and odd quads) so that consecutive vpdpbusd do not wait on each other.
        __m512i even[4], odd[4];
        for (int i = 0; i < n; i++) even[i] = odd[i] = _mm512_setzero_si512();
        for (int c = 0; c < 8; c += 2) {
            __m512i w0 = _mm512_loadu_si512((const void *)(base + c * 64));
            __m512i w1 = _mm512_loadu_si512((const void *)(base + c * 64 + 64));
            if (is_signed) {
                w0 = _mm512_xor_si512(w0, flip);
                w1 = _mm512_xor_si512(w1, flip);
            }
            for (int i = 0; i < n; i++) {
                even[i] = _mm512_dpbusd_epi32(even[i], w0, activation_quad(xq + i * cols + 4 * c));
                odd[i] = _mm512_dpbusd_epi32(odd[i], w1, activation_quad(xq + i * cols + 4 * c + 4));
            }
        }
        const int64_t slot = (g * nb + b) * CSIMD_GROUP_ROWS;
        const __m512 d = _mm512_loadu_ps(w->scales + slot);
        const __m512 m = w->mins ? _mm512_loadu_ps(w->mins + slot) : _mm512_setzero_ps();
        for (int i = 0; i < n; i++) {
            const int64_t block = (t0 + i) * nb + b;
            __m512i q = _mm512_add_epi32(even[i], odd[i]);
            if (shift) q = _mm512_sub_epi32(q, _mm512_set1_epi32(shift * x->sums[block]));
            const __m512 dx = _mm512_set1_ps(x->scales[block]);
            sum[i] = _mm512_add_ps(sum[i], _mm512_mul_ps(_mm512_cvtepi32_ps(q), _mm512_mul_ps(d, dx)));
            if (w->mins) sum[i] = _mm512_add_ps(sum[i], _mm512_mul_ps(m, _mm512_set1_ps(x->scaled_sums[block])));
        }
    }
    for (int i = 0; i < n; i++) {
        float sums[16];
        _mm512_storeu_ps(sums, sum[i]);
        csimd_store_group(sums, y + (t0 + i) * w->rows, g, w->rows, accumulate);
    }
}

CSIMD_TILE_VARIANTS(tile)

void csimd_multiply_avx512vnni(const csimd_quantized_matrix *w, const csimd_quantized_activations *x,
                               int64_t first_group, int64_t end_group, float *y, int accumulate) {
    if (w->is_signed) {
        CSIMD_MULTIPLY_LOOP(tile4_signed, tile1_signed)
    } else {
        CSIMD_MULTIPLY_LOOP(tile4_unsigned, tile1_unsigned)
    }
}

#pragma clang attribute pop
#endif

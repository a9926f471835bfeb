// The x86 tiers' K-quant tile (KQuantProduct.h's csimd_kquant_tile), one code for avx2 and avx512vnni: per
// chunk of the repacked layout one 256-bit vector holds a quad of values of each of the eight weight rows, and
// CSIMD_KQUANT_DOT (defined by the including file: VNNI's `vpdpbusd`, or `vpmaddubsw` + `vpmaddwd`) adds the
// quad's products with the activation row's quad, broadcast, into the rows' int32 lanes. Per sub-block the
// lanes are multiplied by the rows' scales (`vpmulld`), per super-block the float steps run on the eight rows
// at once. Included inside the tier's target attributes (at least avx2, fma, f16c), after KQuantProduct.h and
// <immintrin.h>. Every sum is exact: a pair of products is at most 2·63·127, a quad's 4·63·127.
#ifndef CSIMD_KQUANT_TILE_X86_H
#define CSIMD_KQUANT_TILE_X86_H

#include "Prefetch.h"

static inline __attribute__((always_inline)) __m256i csimd_load_chunk(const uint8_t *chunk) {
    return _mm256_loadu_si256((const __m256i *)chunk);
}

/// Quad `c` (values 4c … 4c + 3) of the eight rows, one byte a value: Q4_K's nibbles (chunk c mod 32, low for
/// c < 32), Q5_K's bytes, Q6_K's nibbles with their two high bits (chunk c mod 16 of the high plane, bits
/// 2·(c / 16) of each byte) above them.
static inline __attribute__((always_inline)) __m256i csimd_quad_values(csimd_kquant_type type, const uint8_t *q, int c) {
    if (type == CSIMD_Q5_K) return csimd_load_chunk(q + 32 * c);
    const __m256i m4 = _mm256_set1_epi8(0xF);
    const __m256i bits = csimd_load_chunk(q + 32 * (c % 32));
    const __m256i nibbles = c < 32 ? _mm256_and_si256(bits, m4) : _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
    if (type == CSIMD_Q4_K) return nibbles;
    const __m256i high = csimd_load_chunk(q + CSIMD_Q6K_HIGH_BITS + 32 * (c % 16));
    const __m256i two = _mm256_and_si256(_mm256_srli_epi16(high, 2 * (c / 16)), _mm256_set1_epi8(3));
    return _mm256_or_si256(nibbles, _mm256_slli_epi16(two, 4));
}

static inline __attribute__((always_inline)) __m256i csimd_broadcast_quad(const int8_t *a) {
    int32_t quad;
    memcpy(&quad, a, 4);
    return _mm256_set1_epi32(quad);
}

/// One sub-block, quads first … first + quads − 1: acc[i] = Σ of the eight rows' quads times activation row i's.
static inline __attribute__((always_inline)) void csimd_subblock_x86(const int n, csimd_kquant_type type,
                                                                     const uint8_t *q, int first, int quads,
                                                                     const int8_t *x, int64_t cols, __m256i acc[4]) {
    if (n == 1) {
        // Two chains of products, so that a decoding step's single row does not wait on each one's latency.
        __m256i even = _mm256_setzero_si256(), odd = _mm256_setzero_si256();
        for (int c = first; c < first + quads; c += 2) {
            even = CSIMD_KQUANT_DOT(even, csimd_quad_values(type, q, c), csimd_broadcast_quad(x + 4 * c));
            odd = CSIMD_KQUANT_DOT(odd, csimd_quad_values(type, q, c + 1), csimd_broadcast_quad(x + 4 * c + 4));
        }
        acc[0] = _mm256_add_epi32(even, odd);
        return;
    }
    for (int i = 0; i < n; i++) acc[i] = _mm256_setzero_si256();
    for (int c = first; c < first + quads; c++) {
        const __m256i w = csimd_quad_values(type, q, c);
        for (int i = 0; i < n; i++) acc[i] = CSIMD_KQUANT_DOT(acc[i], w, csimd_broadcast_quad(x + i * cols + 4 * c));
    }
}

static inline __attribute__((always_inline)) void csimd_tile_x86(const int n, const csimd_kquant_type type,
                                                                 const uint8_t *group, int64_t nb, const int8_t *x,
                                                                 int64_t cols, const int16_t *x_sums, const float *dx,
                                                                 float out[4][8]) {
    const csimd_kquant_layout layout = csimd_kquant_layout_of(type);
    const int is_q6 = type == CSIMD_Q6_K;
    __m256 sum[4], minima[4];
    for (int i = 0; i < n; i++) sum[i] = minima[i] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *q = group + b * layout.bytes;
        const int8_t *a = x + b * CSIMD_KQUANT_BLOCK;
        if (n == 1) csimd_prefetch_ahead(q, layout.bytes);
        __m256i main[4], minimum[4], acc[4];
        for (int i = 0; i < n; i++) main[i] = minimum[i] = _mm256_setzero_si256();
        if (is_q6) {
            for (int s = 0; s < 16; s++) {
                csimd_subblock_x86(n, type, q, 4 * s, 4, a, cols, acc);
                const __m256i scale = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(q + layout.scales + 8 * s)));
                for (int i = 0; i < n; i++) {
                    const __m256i offset = _mm256_set1_epi32(32 * x_sums[(i * nb + b) * 16 + s]);
                    main[i] = _mm256_add_epi32(main[i], _mm256_mullo_epi32(scale, _mm256_sub_epi32(acc[i], offset)));
                }
            }
        } else {
            for (int s = 0; s < 8; s++) {
                csimd_subblock_x86(n, type, q, 8 * s, 8, a, cols, acc);
                const __m256i scale = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(q + layout.scales + 8 * s)));
                const __m256i min = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(q + layout.minima + 8 * s)));
                for (int i = 0; i < n; i++) {
                    const int16_t *s16 = x_sums + (i * nb + b) * 16;
                    main[i] = _mm256_add_epi32(main[i], _mm256_mullo_epi32(scale, acc[i]));
                    minimum[i] = _mm256_add_epi32(minimum[i], _mm256_mullo_epi32(min, _mm256_set1_epi32(s16[2 * s] + s16[2 * s + 1])));
                }
            }
        }
        // The float steps (csimd_kquant_accumulate), a lane per weight row.
        const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(q + layout.d)));
        const __m256 dmin = is_q6 ? d : _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(q + layout.dmin)));
        for (int i = 0; i < n; i++) {
            const __m256 scale_x = _mm256_set1_ps(dx[i * nb + b]);
            sum[i] = _mm256_add_ps(sum[i], _mm256_mul_ps(_mm256_mul_ps(scale_x, d), _mm256_cvtepi32_ps(main[i])));
            if (!is_q6) {
                minima[i] = _mm256_add_ps(minima[i], _mm256_mul_ps(_mm256_mul_ps(scale_x, dmin), _mm256_cvtepi32_ps(minimum[i])));
            }
        }
    }
    for (int i = 0; i < n; i++) _mm256_storeu_ps(out[i], _mm256_sub_ps(sum[i], minima[i]));
}

#endif

// The x86 tiers' K-quant tile (KQuantProduct.h's csimd_kquant_tile), one code for avx2 and avx512vnni: per
// chunk of the repacked layout one 256-bit vector holds a quad of values of each of the eight weight rows, and
// CSIMD_KQUANT_DOT (defined by the including file: VNNI's `vpdpbusd`, or `vpmaddubsw` + `vpmaddwd`) adds the
// quad's products with the activation row's quad, broadcast, into the rows' int32 lanes. Per sub-block the
// lanes are multiplied by the rows' scales (`vpmulld`), per super-block the float steps run on the eight rows
// at once. Included inside the tier's target attributes (at least avx2, fma, f16c), after KQuantProduct.h and
// <immintrin.h>. Every sum is exact: a pair of products is at most 2·63·127, a quad's 4·63·127.
#ifndef CSIMD_KQUANT_TILE_X86_H
#define CSIMD_KQUANT_TILE_X86_H

/// Which part of a chunk's bytes holds the values: the whole byte, the low or the high nibble.
enum { CSIMD_WHOLE = 0, CSIMD_LOW = 1, CSIMD_HIGH = 2 };

static inline __attribute__((always_inline)) __m256i csimd_chunk_values(const uint8_t *chunk, int part) {
    const __m256i v = _mm256_loadu_si256((const __m256i *)chunk);
    if (part == CSIMD_WHOLE) return v;
    const __m256i m4 = _mm256_set1_epi8(0xF);
    return part == CSIMD_LOW ? _mm256_and_si256(v, m4) : _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
}

static inline __attribute__((always_inline)) __m256i csimd_broadcast_quad(const int8_t *a) {
    int32_t quad;
    memcpy(&quad, a, 4);
    return _mm256_set1_epi32(quad);
}

/// One sub-block: acc[i] = Σ over its chunks of the eight rows' quads times activation row i's.
static inline __attribute__((always_inline)) void csimd_subblock_x86(const int n, const uint8_t *q, int first_chunk,
                                                                     int chunks, int part, const int8_t *x,
                                                                     int64_t cols, int first_value, __m256i acc[4]) {
    for (int i = 0; i < n; i++) acc[i] = _mm256_setzero_si256();
    for (int c = 0; c < chunks; c++) {
        const __m256i w = csimd_chunk_values(q + 32 * (first_chunk + c), part);
        for (int i = 0; i < n; i++) acc[i] = CSIMD_KQUANT_DOT(acc[i], w, csimd_broadcast_quad(x + i * cols + first_value + 4 * c));
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
        __m256i main[4], minimum[4], acc[4];
        for (int i = 0; i < n; i++) main[i] = minimum[i] = _mm256_setzero_si256();
        if (is_q6) {
            for (int s = 0; s < 16; s++) {
                csimd_subblock_x86(n, q, 4 * s, 4, CSIMD_WHOLE, a, cols, 16 * s, acc);
                const __m256i scale = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(q + layout.scales + 8 * s)));
                for (int i = 0; i < n; i++) {
                    const __m256i offset = _mm256_set1_epi32(32 * x_sums[(i * nb + b) * 16 + s]);
                    main[i] = _mm256_add_epi32(main[i], _mm256_mullo_epi32(scale, _mm256_sub_epi32(acc[i], offset)));
                }
            }
        } else {
            for (int s = 0; s < 8; s++) {
                if (type == CSIMD_Q4_K) {
                    csimd_subblock_x86(n, q, 8 * (s % 4), 8, s < 4 ? CSIMD_LOW : CSIMD_HIGH, a, cols, 32 * s, acc);
                } else {
                    csimd_subblock_x86(n, q, 8 * s, 8, CSIMD_WHOLE, a, cols, 32 * s, acc);
                }
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

/// The tile with the batch size and type resolved outside the hot loops.
static inline __attribute__((always_inline)) void csimd_tile_x86_dispatch(const uint8_t *group, csimd_kquant_type type,
                                                                          int64_t nb, int n, const int8_t *x,
                                                                          int64_t cols, const int16_t *x_sums,
                                                                          const float *dx, float out[4][8]) {
#define CSIMD_TILE_CASE(N, T) csimd_tile_x86(N, T, group, nb, x, cols, x_sums, dx, out)
    if (n == 4) {
        switch (type) {
        case CSIMD_Q4_K: CSIMD_TILE_CASE(4, CSIMD_Q4_K); return;
        case CSIMD_Q5_K: CSIMD_TILE_CASE(4, CSIMD_Q5_K); return;
        default: CSIMD_TILE_CASE(4, CSIMD_Q6_K); return;
        }
    }
    switch (type) {
    case CSIMD_Q4_K: CSIMD_TILE_CASE(1, CSIMD_Q4_K); return;
    case CSIMD_Q5_K: CSIMD_TILE_CASE(1, CSIMD_Q5_K); return;
    default: CSIMD_TILE_CASE(1, CSIMD_Q6_K); return;
    }
#undef CSIMD_TILE_CASE
}

#endif

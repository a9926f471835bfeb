// One weight row times one activation row straight from the GGUF super-blocks with AVX2 (llama.cpp's
// ggml_vec_dot_q4_K/q5_K/q6_K_q8_K arithmetic for x86, its integer part): the decoding path of the avx2 and
// avx512vnni tiers. Included by those tiers' files inside their target attributes. Every sum is exact:
// `vpmaddubsw` pairs ≤ 2·63·127 do not saturate.
#ifndef CSIMD_KQUANT_ROW_AVX2_H
#define CSIMD_KQUANT_ROW_AVX2_H

// Needs KQuantProduct.h and <immintrin.h> first, and a target of at least avx2.

/// The integer parts of one super-block times one activation row.
typedef struct {
    int32_t main, minimum;
} csimd_kquant_pair;

static inline __attribute__((always_inline)) int32_t csimd_hsum256(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(s);
}

/// Q4_K (five = 0) or Q5_K (five = 1): the 6-bit scales and minima unpacked as ggml does (kmask1…3), the minima
/// times the activations' sums per 32, and per 64 values the low and high nibbles (plus Q5_K's fifth bits)
/// times the activations, times their sub-block's scale.
static inline __attribute__((always_inline)) csimd_kquant_pair csimd_row_block_k4(const uint8_t *p, const int five,
                                                                                const int8_t *a,
                                                                                const int16_t *x_sums) {
    uint32_t u[4];
    memcpy(u, p + 4, 12);
    const uint32_t kmask1 = 0x3f3f3f3f, kmask2 = 0x0f0f0f0f, kmask3 = 0x03030303;
    u[3] = ((u[2] >> 4) & kmask2) | (((u[1] >> 6) & kmask3) << 4);
    const uint32_t minima_low = u[1] & kmask1;
    u[1] = (u[2] & kmask2) | (((u[0] >> 6) & kmask3) << 4);
    u[2] = minima_low;
    u[0] &= kmask1;
    // int16 lanes 0…7: the scales, 8…15: the minima.
    const __m256i scales_and_minima = _mm256_cvtepu8_epi16(_mm_set_epi32((int)u[3], (int)u[2], (int)u[1], (int)u[0]));
    const __m256i sums16 = _mm256_loadu_si256((const __m256i *)x_sums);
    const __m128i sums32 = _mm_hadd_epi16(_mm256_castsi256_si128(sums16), _mm256_extracti128_si256(sums16, 1));
    __m128i m = _mm_madd_epi16(_mm256_extracti128_si256(scales_and_minima, 1), sums32);
    m = _mm_add_epi32(m, _mm_shuffle_epi32(m, _MM_SHUFFLE(1, 0, 3, 2)));
    m = _mm_add_epi32(m, _mm_shuffle_epi32(m, _MM_SHUFFLE(2, 3, 0, 1)));
    const __m256i scales = _mm256_broadcastsi128_si256(_mm256_castsi256_si128(scales_and_minima));
    const __m256i m4 = _mm256_set1_epi8(0xF), one = _mm256_set1_epi8(1);
    const uint8_t *qs = p + (five ? 48 : 16);
    __m256i high = five ? _mm256_loadu_si256((const __m256i *)(p + 16)) : _mm256_setzero_si256();
    __m256i sum = _mm256_setzero_si256();
    for (int j = 0; j < 4; j++) {
        const __m256i scale_low = _mm256_shuffle_epi8(scales, _mm256_set1_epi16((short)((4 * j + 1) << 8 | (4 * j))));
        const __m256i scale_high = _mm256_shuffle_epi8(scales, _mm256_set1_epi16((short)((4 * j + 3) << 8 | (4 * j + 2))));
        const __m256i bits = _mm256_loadu_si256((const __m256i *)(qs + 32 * j));
        __m256i low = _mm256_and_si256(bits, m4), upper = _mm256_and_si256(_mm256_srli_epi16(bits, 4), m4);
        if (five) {
            low = _mm256_or_si256(low, _mm256_slli_epi16(_mm256_and_si256(high, one), 4));
            high = _mm256_srli_epi16(high, 1);
            upper = _mm256_or_si256(upper, _mm256_slli_epi16(_mm256_and_si256(high, one), 4));
            high = _mm256_srli_epi16(high, 1);
        }
        const __m256i x_low = _mm256_loadu_si256((const __m256i *)(a + 64 * j));
        const __m256i x_high = _mm256_loadu_si256((const __m256i *)(a + 64 * j + 32));
        sum = _mm256_add_epi32(sum, _mm256_madd_epi16(scale_low, _mm256_maddubs_epi16(low, x_low)));
        sum = _mm256_add_epi32(sum, _mm256_madd_epi16(scale_high, _mm256_maddubs_epi16(upper, x_high)));
    }
    return (csimd_kquant_pair){csimd_hsum256(sum), _mm_cvtsi128_si32(m)};
}

/// Q6_K: per 128 values the four 32-value parts rebuilt from the low nibbles and 2-bit high parts,
/// Σ (q − 32)·x per pair as vpmaddubsw(q, x) − vpmaddubsw(32, x), times the 16-value sub-blocks' int8 scales.
static inline __attribute__((always_inline)) csimd_kquant_pair csimd_row_block_q6(const uint8_t *p, const int8_t *a) {
    const int8_t *scales = (const int8_t *)(p + 192);
    const __m256i m4 = _mm256_set1_epi8(0xF), m2 = _mm256_set1_epi8(3), m32 = _mm256_set1_epi8(32);
    __m256i sum = _mm256_setzero_si256();
    for (int h = 0; h < 2; h++) {
        const __m256i low0 = _mm256_loadu_si256((const __m256i *)(p + 64 * h));
        const __m256i low1 = _mm256_loadu_si256((const __m256i *)(p + 64 * h + 32));
        const __m256i high = _mm256_loadu_si256((const __m256i *)(p + 128 + 32 * h));
        const __m256i q[4] = {
            _mm256_or_si256(_mm256_and_si256(low0, m4), _mm256_slli_epi16(_mm256_and_si256(high, m2), 4)),
            _mm256_or_si256(_mm256_and_si256(low1, m4), _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(high, 2), m2), 4)),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(low0, 4), m4),
                            _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(high, 4), m2), 4)),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(low1, 4), m4),
                            _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(high, 6), m2), 4)),
        };
        for (int k = 0; k < 4; k++) {
            const __m256i x = _mm256_loadu_si256((const __m256i *)(a + 128 * h + 32 * k));
            const __m256i pairs = _mm256_sub_epi16(_mm256_maddubs_epi16(q[k], x), _mm256_maddubs_epi16(m32, x));
            const __m256i scale = _mm256_set_m128i(_mm_set1_epi16(scales[8 * h + 2 * k + 1]), _mm_set1_epi16(scales[8 * h + 2 * k]));
            sum = _mm256_add_epi32(sum, _mm256_madd_epi16(pairs, scale));
        }
    }
    return (csimd_kquant_pair){csimd_hsum256(sum), 0};
}

static inline __attribute__((always_inline)) void csimd_row1_avx2(const uint8_t *row, csimd_kquant_type type, int64_t nb,
                                                                  const int8_t *x, const int16_t *x_sums,
                                                                  int32_t *main, int32_t *minimum) {
    const int64_t bytes = csimd_kquant_block_bytes(type);
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *p = row + b * bytes;
        const int8_t *a = x + b * CSIMD_KQUANT_BLOCK;
        csimd_kquant_pair sums;
        switch (type) {
        case CSIMD_Q4_K: sums = csimd_row_block_k4(p, 0, a, x_sums + 16 * b); break;
        case CSIMD_Q5_K: sums = csimd_row_block_k4(p, 1, a, x_sums + 16 * b); break;
        default: sums = csimd_row_block_q6(p, a); break;
        }
        main[b] = sums.main;
        minimum[b] = sums.minimum;
    }
}

/// The four sums of eight int32 lanes each: [Σa, Σb, Σc, Σd].
static inline __attribute__((always_inline)) __m128i csimd_hsum4(__m256i a, __m256i b, __m256i c, __m256i d) {
    // Interleaves instead of vphaddd (three micro-ops each): lanes of a and b, then of c and d, in pairs.
    const __m256i ab = _mm256_add_epi32(_mm256_unpacklo_epi32(a, b), _mm256_unpackhi_epi32(a, b));
    const __m256i cd = _mm256_add_epi32(_mm256_unpacklo_epi32(c, d), _mm256_unpackhi_epi32(c, d));
    const __m256i s = _mm256_add_epi32(_mm256_unpacklo_epi64(ab, cd), _mm256_unpackhi_epi64(ab, cd));
    return _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
}

/// The end of a dot4 on super-block b: the four activation rows' dot products (eight int32 lanes each) and
/// the corrections (the rows' Q8_K sums times the block's, `vpmaddwd`) reduced to main and minimum.
static inline __attribute__((always_inline)) void csimd_finish4_avx2(const __m256i dot[4], const csimd_kblock *k,
                                                                     int64_t nb, int64_t b, int is_q6,
                                                                     const int16_t *x_sums, int32_t *main,
                                                                     int32_t *minimum) {
    const __m256i corrections = _mm256_load_si256((const __m256i *)k->corrections);
    __m256i c[4];
    for (int i = 0; i < 4; i++) {
        c[i] = _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(x_sums + (i * nb + b) * 16)), corrections);
    }
    int32_t m[4], n[4];
    if (is_q6) {
        _mm_storeu_si128((__m128i *)m, csimd_hsum4(_mm256_sub_epi32(dot[0], c[0]), _mm256_sub_epi32(dot[1], c[1]),
                                                   _mm256_sub_epi32(dot[2], c[2]), _mm256_sub_epi32(dot[3], c[3])));
        for (int i = 0; i < 4; i++) n[i] = 0;
    } else {
        _mm_storeu_si128((__m128i *)m, csimd_hsum4(dot[0], dot[1], dot[2], dot[3]));
        _mm_storeu_si128((__m128i *)n, csimd_hsum4(c[0], c[1], c[2], c[3]));
    }
    for (int i = 0; i < 4; i++) {
        main[i * nb + b] = m[i];
        minimum[i * nb + b] = n[i];
    }
}

#endif

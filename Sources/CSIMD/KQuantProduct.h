// Shared by the tiers' K-quant kernels (not part of the public header): the per-tier entry points, a
// super-block unpacked into a form every tier multiplies the same way, the float steps, and the loop over
// weight rows and activation rows, parameterized by a tier's dot-product functions.
//
// A super-block is unpacked (once per weight row and run of activation rows) into 256 unsigned values ≤ 63,
// one int16 scale per pair of values, and per 16 values an int16 `correction` applied with the activations'
// Q8_K sums: for Q6_K the value offset (q − 32 = stored q, minus 32·scale·Σq_x), for Q4_K and Q5_K the minimum.
// A tier's dot product is then Σ_pairs scale · (w₀x₀ + w₁x₁), exact in int32 (|pair| ≤ 2·63·127 fits int16).
#ifndef CSIMD_KQUANT_PRODUCT_H
#define CSIMD_KQUANT_PRODUCT_H

#include "CSIMDKQuant.h"

#include <stdlib.h>
#include <string.h>

#pragma clang fp contract(off)
// The helpers below pass wide vectors between always-inlined functions; no call crosses an ABI boundary.
#pragma clang diagnostic ignored "-Wpsabi"

void csimd_multiply_kquant_portable(const csimd_kquant_matrix *w, const csimd_q8k_activations *x,
                                    int64_t first_row, int64_t end_row, float *y, int accumulate);
#if defined(__x86_64__)
void csimd_multiply_kquant_avx2(const csimd_kquant_matrix *w, const csimd_q8k_activations *x,
                                int64_t first_row, int64_t end_row, float *y, int accumulate);
void csimd_multiply_kquant_avx512vnni(const csimd_kquant_matrix *w, const csimd_q8k_activations *x,
                                      int64_t first_row, int64_t end_row, float *y, int accumulate);
#endif

/// One super-block unpacked (64-byte aligned for the tiers' loads).
typedef struct __attribute__((aligned(64))) {
    /// The 256 quantized values, unsigned (Q4_K ≤ 15, Q5_K ≤ 31, Q6_K ≤ 63, its offset 32 not subtracted).
    uint8_t values[256];
    /// Per pair of values (2p, 2p + 1): the scale of their 16-value sub-block.
    int16_t pair_scales[128];
    /// Per 16 values: 32 · scale (Q6_K) or the sub-block's minimum (Q4_K, Q5_K).
    int16_t corrections[16];
} csimd_kblock;

/// A tier's integer parts of one weight row's unpacked super-blocks times four activation rows (x, x + cols, …;
/// their Q8_K sums at x_sums + i · nb · 16), exact, at [i · nb + b]: main = Σ over sub-blocks of
/// scale · Σ q_w q_x (for Q6_K with q_w − 32), minimum = Σ over sub-blocks of min · Σ q_x (Q4_K, Q5_K).
typedef void (*csimd_kquant_dot4)(const csimd_kblock *blocks, int64_t nb, int is_q6, const int8_t *x, int64_t cols,
                                  const int16_t *x_sums, int32_t *main, int32_t *minimum);

/// A tier's integer parts of one weight row (GGUF super-blocks of `type`) times one activation row, at [b].
typedef void (*csimd_kquant_row1)(const uint8_t *row, csimd_kquant_type type, int64_t nb, const int8_t *x,
                                  const int16_t *x_sums, int32_t *main, int32_t *minimum);

/// IEEE half-precision bits to float32 (exact).
static inline float csimd_half_to_float(const uint8_t *p) {
    const uint32_t h = (uint32_t)p[0] | ((uint32_t)p[1] << 8);
    const uint32_t sign = (h & 0x8000u) << 16, exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF;
    uint32_t bits;
    if (exponent == 0) {
        const float magnitude = (float)mantissa * 0x1p-24f; // zero or subnormal: exact
        memcpy(&bits, &magnitude, 4);
        bits |= sign;
    } else if (exponent == 31) {
        bits = sign | 0x7F800000u | (mantissa << 13);
    } else {
        bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

typedef uint8_t csimd_u8x32 __attribute__((vector_size(32)));

static inline __attribute__((always_inline)) csimd_u8x32 csimd_load32(const uint8_t *p) {
    csimd_u8x32 v;
    memcpy(&v, p, 32);
    return v;
}

/// Unpacks one GGUF super-block of `type` (ggml's block_q4_K, block_q5_K, block_q6_K).
static inline __attribute__((always_inline)) void csimd_kquant_unpack(csimd_kquant_type type, const uint8_t *p,
                                                                      csimd_kblock *k) {
    int16_t scales[16];
    if (type == CSIMD_Q6_K) {
        // ql[128] (low nibbles), qh[64] (2-bit high parts), int8 scales[16], d.
        for (int h = 0; h < 2; h++) {
            const csimd_u8x32 low0 = csimd_load32(p + 64 * h), low1 = csimd_load32(p + 64 * h + 32);
            const csimd_u8x32 high = csimd_load32(p + 128 + 32 * h);
            const csimd_u8x32 parts[4] = {
                (low0 & 0xF) | ((high & 3) << 4),
                (low1 & 0xF) | (((high >> 2) & 3) << 4),
                (low0 >> 4) | (((high >> 4) & 3) << 4),
                (low1 >> 4) | (((high >> 6) & 3) << 4),
            };
            memcpy(k->values + 128 * h, parts, sizeof parts);
        }
        for (int s = 0; s < 16; s++) {
            scales[s] = (int8_t)p[192 + s];
            k->corrections[s] = (int16_t)(32 * scales[s]);
        }
    } else {
        // d, dmin, 12 bytes of 6-bit scales and minima (ggml's get_scale_min_k4), [qh[32] for Q5_K], qs[128].
        const uint8_t *packed = p + 4;
        for (int j = 0; j < 8; j++) {
            uint8_t scale, minimum;
            if (j < 4) {
                scale = packed[j] & 63;
                minimum = packed[j + 4] & 63;
            } else {
                scale = (packed[j + 4] & 0xF) | ((packed[j - 4] >> 6) << 4);
                minimum = (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4);
            }
            scales[2 * j] = scales[2 * j + 1] = scale;
            k->corrections[2 * j] = k->corrections[2 * j + 1] = minimum;
        }
        const int five = type == CSIMD_Q5_K;
        const uint8_t *qs = p + (five ? 48 : 16);
        const csimd_u8x32 high = five ? csimd_load32(p + 16) : (csimd_u8x32){0};
        for (int j = 0; j < 4; j++) {
            const csimd_u8x32 v = csimd_load32(qs + 32 * j);
            csimd_u8x32 parts[2] = {v & 0xF, v >> 4};
            if (five) {
                parts[0] |= ((high >> (2 * j)) & 1) << 4;
                parts[1] |= ((high >> (2 * j + 1)) & 1) << 4;
            }
            memcpy(k->values + 64 * j, parts, sizeof parts);
        }
    }
    for (int q = 0; q < 128; q++) k->pair_scales[q] = scales[q / 8];
}

/// The correction of an unpacked super-block for one activation row: Σ over 16-value parts of the row's Q8_K
/// sum times the block's correction (exact).
static inline __attribute__((always_inline)) int32_t csimd_kquant_correction(const csimd_kblock *k, const int16_t *x_sums) {
    int32_t correction = 0;
    for (int s = 0; s < 16; s++) correction += (int32_t)x_sums[s] * k->corrections[s];
    return correction;
}

/// A weight row's super-block scales d and (Q4_K, Q5_K) dmin as float32.
static inline __attribute__((always_inline)) void csimd_kquant_row_scales(const uint8_t *row, csimd_kquant_type type,
                                                                          int64_t nb, float *d, float *dmin) {
    const int64_t bytes = csimd_kquant_block_bytes(type);
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *p = row + b * bytes;
        d[b] = csimd_half_to_float(type == CSIMD_Q6_K ? p + 208 : p);
        dmin[b] = type == CSIMD_Q6_K ? 0 : csimd_half_to_float(p + 2);
    }
}

/// The products of a weight row with `n` activation rows (1 or 4) from the integer parts at [i · nb + b] and
/// the rows' Q8_K scales dx at [i · nb + b] (the float steps every tier shares, each rounded on its own): per
/// super-block the terms (d_x·d) · main and (d_x·dmin) · minimum, each loop of them one the compiler may
/// vectorize without changing a bit; then, as llama.cpp keeps the minima in an accumulator of their own, the
/// sum of the first terms minus the sum of the second, each in super-block order. `scratch` holds 8 · nb floats.
static inline __attribute__((always_inline)) void csimd_kquant_row_sums(const int n, int64_t nb, int is_q6,
                                                                        const int32_t *main, const int32_t *minimum,
                                                                        const float *d, const float *dmin,
                                                                        const float *dx, float *scratch, float *out) {
    float *scaled = scratch, *scaled_minimum = scratch + n * nb;
    for (int i = 0; i < n; i++) {
        for (int64_t b = 0; b < nb; b++) scaled[i * nb + b] = (dx[i * nb + b] * d[b]) * (float)main[i * nb + b];
    }
    float sum[4] = {0, 0, 0, 0}, minima[4] = {0, 0, 0, 0};
    for (int64_t b = 0; b < nb; b++) {
        for (int i = 0; i < n; i++) sum[i] += scaled[i * nb + b];
    }
    if (!is_q6) {
        for (int i = 0; i < n; i++) {
            for (int64_t b = 0; b < nb; b++) {
                scaled_minimum[i * nb + b] = (dx[i * nb + b] * dmin[b]) * (float)minimum[i * nb + b];
            }
        }
        for (int64_t b = 0; b < nb; b++) {
            for (int i = 0; i < n; i++) minima[i] += scaled_minimum[i * nb + b];
        }
    }
    for (int i = 0; i < n; i++) out[i] = sum[i] - minima[i];
}

/// A dot4 for tiers without their own: the tier's one-block dot product, then the corrections.
static inline __attribute__((always_inline)) void csimd_kquant_dot4_by_blocks(
    const csimd_kblock *blocks, int64_t nb, int is_q6, const int8_t *x, int64_t cols, const int16_t *x_sums,
    int32_t *main, int32_t *minimum, int32_t (*dot1)(const csimd_kblock *k, const int8_t *x)) {
    for (int i = 0; i < 4; i++) {
        for (int64_t b = 0; b < nb; b++) {
            const int32_t dot = dot1(blocks + b, x + i * cols + b * CSIMD_KQUANT_BLOCK);
            const int32_t correction = csimd_kquant_correction(blocks + b, x_sums + (i * nb + b) * 16);
            main[i * nb + b] = is_q6 ? dot - correction : dot;
            minimum[i * nb + b] = is_q6 ? 0 : correction;
        }
    }
}

/// A row1 for tiers without a fused kernel: each super-block unpacked, then the tier's one-block dot product.
static inline __attribute__((always_inline)) void csimd_kquant_row1_by_blocks(
    const uint8_t *row, csimd_kquant_type type, int64_t nb, const int8_t *x, const int16_t *x_sums, int32_t *main,
    int32_t *minimum, int32_t (*dot1)(const csimd_kblock *k, const int8_t *x)) {
    const int64_t bytes = csimd_kquant_block_bytes(type);
    const int is_q6 = type == CSIMD_Q6_K;
    csimd_kblock k;
    for (int64_t b = 0; b < nb; b++) {
        csimd_kquant_unpack(type, row + b * bytes, &k);
        const int32_t dot = dot1(&k, x + b * CSIMD_KQUANT_BLOCK);
        const int32_t correction = csimd_kquant_correction(&k, x_sums + 16 * b);
        main[b] = is_q6 ? dot - correction : dot;
        minimum[b] = is_q6 ? 0 : correction;
    }
}

/// Activation rows per run: a run's rows (run · cols bytes, about 512 KiB) stay in L2 while every weight row
/// of the range passes over them, four at a time.
static inline int64_t csimd_kquant_run(int64_t cols) {
    const int64_t run = (512 * 1024 / cols) & ~(int64_t)3;
    return run < 4 ? 4 : run;
}

/// The loop every tier shares: runs of activation rows; per weight row, tiles of four activation rows on its
/// super-blocks unpacked once (DOT4), then the single rows left (ROW1, on the GGUF bytes).
static inline __attribute__((always_inline)) void csimd_kquant_loop(const csimd_kquant_matrix *w,
                                                                    const csimd_q8k_activations *x,
                                                                    int64_t first_row, int64_t end_row, float *y,
                                                                    int accumulate, csimd_kquant_dot4 dot4,
                                                                    csimd_kquant_row1 row1) {
    const int64_t nb = w->blocks, cols = nb * CSIMD_KQUANT_BLOCK, bytes = csimd_kquant_block_bytes(w->type);
    const int is_q6 = w->type == CSIMD_Q6_K;
    csimd_kblock *blocks = x->rows >= 4 ? aligned_alloc(64, (size_t)nb * sizeof *blocks) : NULL;
    // main, minimum (4 · nb int32 each), d, dmin (nb floats each), the row sums' scratch (8 · nb floats).
    int32_t *main = malloc((size_t)(18 * nb) * sizeof(int32_t));
    int32_t *minimum = main + 4 * nb;
    float *d = (float *)(minimum + 4 * nb), *dmin = d + nb, *scratch = dmin + nb;
    const int64_t run = csimd_kquant_run(cols);
    for (int64_t t0 = 0; t0 < x->rows; t0 += run) {
        const int64_t t1 = t0 + run < x->rows ? t0 + run : x->rows;
        for (int64_t r = first_row; r < end_row; r++) {
            const uint8_t *row = w->data + r * nb * bytes;
            csimd_kquant_row_scales(row, w->type, nb, d, dmin);
            int64_t t = t0;
            if (t1 - t0 >= 4) {
                for (int64_t b = 0; b < nb; b++) csimd_kquant_unpack(w->type, row + b * bytes, blocks + b);
                for (; t + 4 <= t1; t += 4) {
                    dot4(blocks, nb, is_q6, x->values + t * cols, cols, x->sums + t * nb * 16, main, minimum);
                    float sums[4];
                    csimd_kquant_row_sums(4, nb, is_q6, main, minimum, d, dmin, x->scales + t * nb, scratch, sums);
                    for (int i = 0; i < 4; i++) {
                        float *out = y + (t + i) * w->rows + r;
                        *out = accumulate ? *out + sums[i] : sums[i];
                    }
                }
            }
            for (; t < t1; t++) {
                row1(row, w->type, nb, x->values + t * cols, x->sums + t * nb * 16, main, minimum);
                float sum;
                csimd_kquant_row_sums(1, nb, is_q6, main, minimum, d, dmin, x->scales + t * nb, scratch, &sum);
                float *out = y + t * w->rows + r;
                *out = accumulate ? *out + sum : sum;
            }
        }
    }
    free(main);
    free(blocks);
}

#endif

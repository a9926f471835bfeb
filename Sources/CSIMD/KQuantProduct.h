// Shared by the tiers' K-quant kernels (not part of the public header): the per-tier entry points, the repacked
// layout's offsets, the float steps, and the loop over weight-row groups and activation rows, parameterized by
// a tier's tile function.
//
// A tile is one group of eight weight rows times one or four activation rows. Per super-block and row it forms
// the exact int32 parts llama.cpp forms: main = Σ over sub-blocks of scale · Σ q_w q_x (Q6_K: of
// scale · (Σ q_w q_x − 32 Σ q_x), its offset applied through the activations' Q8_K sums) and, for Q4_K and
// Q5_K, minimum = Σ over sub-blocks of min · Σ q_x; then the float steps of csimd_kquant_accumulate. Every tier
// forms the same integers and the same float operations in the same order, so their products are bit-identical.
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

/// Where Q6_K's plane of high bits starts in its group-block: 16 chunks, byte 4r + j of chunk h holding in bits
/// 2k, 2k + 1 the high bits of value 64k + 4h + j of row r.
enum { CSIMD_Q6K_HIGH_BITS = 1024 };

/// Where the parts of a repacked group-block lie (csimd_kquant_matrix's layout), in bytes from its start. The
/// values come first: Q4_K and Q6_K 32 chunks of nibbles (byte 4r + j of chunk c: value 4c + j of row r in the
/// low nibble, value 128 + 4c + j in the high one; Q6_K's high bits follow them), Q5_K 64 chunks of bytes.
typedef struct {
    /// Sub-block scales, [sub-block][row]: unsigned 6-bit (Q4_K, Q5_K; 8 sub-blocks of 32) or int8 (Q6_K; 16 of 16).
    int scales;
    /// Sub-block minima, [sub-block][row] (Q4_K, Q5_K), unsigned 6-bit.
    int minima;
    /// d and dmin per row, float16.
    int d, dmin;
    /// The group-block's size.
    int bytes;
} csimd_kquant_layout;

static inline __attribute__((always_inline)) csimd_kquant_layout csimd_kquant_layout_of(csimd_kquant_type type) {
    switch (type) {
    case CSIMD_Q4_K: return (csimd_kquant_layout){1024, 1088, 1152, 1168, 1184};
    case CSIMD_Q5_K: return (csimd_kquant_layout){2048, 2112, 2176, 2192, 2208};
    default: return (csimd_kquant_layout){1536, 0, 1664, 0, 1680};
    }
}

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

/// The float steps every tier shares, one super-block at a time: with the block's exact integer parts `main`
/// and `minimum`, sum += (d_x·d) · main and minima += (d_x·dmin) · minimum, each product and sum rounded on
/// its own (no fused multiply-add); the product is sum − minima once every super-block is in, as llama.cpp keeps
/// the minima in an accumulator of their own. The vector tiers do the same per lane, one lane per weight row.
static inline __attribute__((always_inline)) void csimd_kquant_accumulate(float *sum, float *minima, float dx, float d,
                                                                          float dmin, int32_t main, int32_t minimum,
                                                                          int is_q6) {
    *sum += (dx * d) * (float)main;
    if (!is_q6) *minima += (dx * dmin) * (float)minimum;
}

/// A tier's tile: the eight weight rows of the group-blocks at `group` (`nb` super-blocks) times `n` (1 or 4)
/// activation rows (values at x + i · cols, Q8_K sums at x_sums + i · nb · 16, scales at dx + i · nb):
/// out[i][r] as csimd_kquant_accumulate defines it. A tier that reads widened quads (the portable one) gets
/// them in `x` instead of the values, 4 bytes a value: row i at x + 4 · i · cols.
typedef void (*csimd_kquant_tile)(const uint8_t *group, csimd_kquant_type type, int64_t nb, int n, const int8_t *x,
                                  int64_t cols, const int16_t *x_sums, const float *dx, float out[4][8]);

/// Calls TILE(n, type, …) with the batch size n (1 or 4) and the type as constants, so that each case's hot
/// loops are specialized (the tiers' always-inlined tile functions take them first).
#define CSIMD_KQUANT_SPECIALIZE(TILE, n, type, ...)                                                             \
    do {                                                                                                         \
        if ((n) == 4) {                                                                                          \
            if ((type) == CSIMD_Q4_K) TILE(4, CSIMD_Q4_K, __VA_ARGS__);                                          \
            else if ((type) == CSIMD_Q5_K) TILE(4, CSIMD_Q5_K, __VA_ARGS__);                                     \
            else TILE(4, CSIMD_Q6_K, __VA_ARGS__);                                                               \
        } else {                                                                                                 \
            if ((type) == CSIMD_Q4_K) TILE(1, CSIMD_Q4_K, __VA_ARGS__);                                          \
            else if ((type) == CSIMD_Q5_K) TILE(1, CSIMD_Q5_K, __VA_ARGS__);                                     \
            else TILE(1, CSIMD_Q6_K, __VA_ARGS__);                                                               \
        }                                                                                                        \
    } while (0)

/// Activation rows per run: a run's rows (run · row_bytes, about 512 KiB) stay in L2 while every weight group
/// of the range passes over them.
static inline int64_t csimd_kquant_run(int64_t row_bytes) {
    const int64_t run = (512 * 1024 / row_bytes) & ~(int64_t)3;
    return run < 4 ? 4 : run;
}

/// The loop every tier shares: runs of activation rows; per group of eight weight rows, tiles of four
/// activation rows, then the single rows left; each tile's rows inside first_row ..< end_row written. The
/// tiles read the activations' values, or with `widened` their quads (x->quads, 4 bytes a value).
static inline __attribute__((always_inline)) void csimd_kquant_loop(const csimd_kquant_matrix *w,
                                                                    const csimd_q8k_activations *x, int widened,
                                                                    int64_t first_row, int64_t end_row, float *y,
                                                                    int accumulate, csimd_kquant_tile tile) {
    const int64_t nb = w->blocks, cols = nb * CSIMD_KQUANT_BLOCK;
    const int64_t group_stride = nb * csimd_kquant_layout_of(w->type).bytes;
    const int wide = widened ? 4 : 1;
    const int8_t *values = widened ? (const int8_t *)(const void *)x->quads : x->values;
    const int64_t run = csimd_kquant_run(cols * wide);
    for (int64_t t0 = 0; t0 < x->rows; t0 += run) {
        const int64_t t1 = t0 + run < x->rows ? t0 + run : x->rows;
        for (int64_t g = first_row / CSIMD_KQUANT_GROUP; g * CSIMD_KQUANT_GROUP < end_row; g++) {
            const int64_t r0 = g * CSIMD_KQUANT_GROUP;
            const int64_t lo = first_row > r0 ? first_row - r0 : 0;
            const int64_t hi = end_row < r0 + CSIMD_KQUANT_GROUP ? end_row - r0 : CSIMD_KQUANT_GROUP;
            for (int64_t t = t0; t < t1;) {
                const int n = t1 - t >= 4 ? 4 : 1;
                float sums[4][8];
                tile(w->data + g * group_stride, w->type, nb, n, values + t * cols * wide, cols, x->sums + t * nb * 16,
                     x->scales + t * nb, sums);
                for (int i = 0; i < n; i++) {
                    float *out = y + (t + i) * w->rows + r0;
                    for (int64_t r = lo; r < hi; r++) out[r] = accumulate ? out[r] + sums[i][r] : sums[i][r];
                }
                t += n;
            }
        }
    }
}

#endif

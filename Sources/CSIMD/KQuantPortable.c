// The portable tier of the K-quant kernels in the compiler's generic 128-bit vectors (SSE2 on any x86-64, NEON
// on aarch64). Per sub-block of a tile, each quad of the eight rows' values is widened to int16 and multiplied
// by the activation rows' quads, widened once per product (csimd_widen_q8k_quads), into int16 lanes (exact: at
// most 8 · 31 · 127 or 4 · 63 · 127); one pair product (SSE2's `pmaddwd`) with the rows' scales then adds the
// sub-block into int32 lanes, so that a super-block's lanes hold Σ_s scale_s · Σ q_w q_x, the x86 tiers' `main`.
// Q6_K's offset, 32 · Σ_s scale_s · Σ q_x, and Q4_K's and Q5_K's minima are pair products too, of two
// sub-blocks' scales or minima with their activation sums. The same exact integers as the x86 tiers', the same
// float steps, so the same products bit for bit.
#include "CSIMD.h"
#include "KQuantProduct.h"
#include "PortableVectors.h"
#include "Prefetch.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

static inline __attribute__((always_inline)) u8x16 load16(const uint8_t *p) {
    u8x16 v;
    memcpy(&v, p, 16);
    return v;
}

/// (a₀b₀ + a₁b₁, a₂b₂ + a₃b₃, …) in int32: SSE2's `pmaddwd` (part of every x86-64, which the compiler does not
/// always find in the generic form), elsewhere the generic form (NEON's widening multiply-adds).
static inline __attribute__((always_inline)) i32x4 pair_products(i16x8 a, i16x8 b) {
#if defined(__SSE2__)
    return (i32x4)_mm_madd_epi16((__m128i)a, (__m128i)b);
#else
    const i32x4 a_even = __builtin_convertvector(__builtin_shufflevector(a, a, 0, 2, 4, 6), i32x4);
    const i32x4 a_odd = __builtin_convertvector(__builtin_shufflevector(a, a, 1, 3, 5, 7), i32x4);
    const i32x4 b_even = __builtin_convertvector(__builtin_shufflevector(b, b, 0, 2, 4, 6), i32x4);
    const i32x4 b_odd = __builtin_convertvector(__builtin_shufflevector(b, b, 1, 3, 5, 7), i32x4);
    return a_even * b_even + a_odd * b_odd;
#endif
}

static inline __attribute__((always_inline)) i16x8 low_bytes(u8x16 v) {
    return __builtin_convertvector(__builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7), i16x8);
}

static inline __attribute__((always_inline)) i16x8 high_bytes(u8x16 v) {
    return __builtin_convertvector(__builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15), i16x8);
}

/// Bytes 0–7 and 8–15 of v interleaved: (v₀, v₈, v₁, v₉, …), two sub-blocks' bytes of each row side by side.
static inline __attribute__((always_inline)) u8x16 interleave_halves(u8x16 v) {
    return __builtin_shufflevector(v, v, 0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
}

/// Rows 4h … 4h + 3 of quad c (values 4c … 4c + 3), one byte a value: half h of the 32-byte chunk that
/// KQuantProduct.h's layout describes (as the x86 tiers' csimd_quad_values).
static inline __attribute__((always_inline)) u8x16 quad_values(csimd_kquant_type type, const uint8_t *q, int c, int h) {
    // Shifts in 16-bit lanes, masked per byte: SSE2 has no byte shifts.
    if (type == CSIMD_Q5_K) return load16(q + 32 * c + 16 * h);
    const u16x8 bits = (u16x8)load16(q + 32 * (c % 32) + 16 * h);
    const u8x16 nibbles = (u8x16)((c < 32 ? bits : bits >> 4) & 0x0F0F);
    if (type == CSIMD_Q4_K) return nibbles;
    const u16x8 high = (u16x8)load16(q + CSIMD_Q6K_HIGH_BITS + 32 * (c % 16) + 16 * h);
    return nibbles | (u8x16)(((high >> (2 * (c / 16))) & 0x0303) << 4);
}

/// Rows 4h … 4h + 3 of quad c times each activation row's quad, added to products[i][2h] (rows 4h, 4h + 1)
/// and products[i][2h + 1] (rows 4h + 2, 4h + 3) in int16 lanes.
static inline __attribute__((always_inline)) void half_products(const int n, csimd_kquant_type type, const uint8_t *q,
                                                                int c, int h, const i16x8 *const a[4],
                                                                i16x8 products[4][4]) {
    const u8x16 values = quad_values(type, q, c, h);
    const i16x8 w0 = low_bytes(values), w1 = high_bytes(values);
    for (int i = 0; i < n; i++) {
        const i16x8 quad = a[i][c];
        products[i][2 * h] += w0 * quad;
        products[i][2 * h + 1] += w1 * quad;
    }
}

/// Four float16 values to float32, exactly (zero, subnormal, infinity and NaN included).
static inline __attribute__((always_inline)) f32x4 halves_to_floats(const uint8_t *p) {
    u16x4 h;
    memcpy(&h, p, 8);
    const u32x4 x = __builtin_convertvector(h, u32x4);
    const u32x4 magnitude = (x & 0x7FFF) << 13;
    // Exponent and mantissa in place; a float16 exponent e reads as float32 exponent e, so scaling by 2¹¹²
    // rebiases it (a subnormal float16 reads as a float32 subnormal and comes out normal, exactly).
    f32x4 scaled;
    memcpy(&scaled, &magnitude, 16);
    scaled *= 0x1p112f;
    u32x4 bits;
    memcpy(&bits, &scaled, 16);
    const u32x4 special = (u32x4)((x & 0x7C00) == 0x7C00);
    bits = (bits & ~special) | ((magnitude | 0x7F800000) & special);
    bits |= (x & 0x8000) << 16;
    f32x4 out;
    memcpy(&out, &bits, 16);
    return out;
}

/// Two sub-blocks' bytes of the eight rows (16 bytes at p: sub-block u's rows, then u + 1's), interleaved and
/// widened: out[0] rows 0–3, out[1] rows 4–7, each row's two bytes side by side.
static inline __attribute__((always_inline)) void row_byte_pairs(const uint8_t *p, int is_signed, i16x8 out[2]) {
    const u8x16 v = interleave_halves(load16(p));
    if (is_signed) {
        const i8x16 s = (i8x16)v;
        out[0] = __builtin_convertvector(__builtin_shufflevector(s, s, 0, 1, 2, 3, 4, 5, 6, 7), i16x8);
        out[1] = __builtin_convertvector(__builtin_shufflevector(s, s, 8, 9, 10, 11, 12, 13, 14, 15), i16x8);
    } else {
        out[0] = low_bytes(v);
        out[1] = high_bytes(v);
    }
}

/// (a, b, a, b, …) as int16.
static inline __attribute__((always_inline)) i16x8 pair_splat(int16_t a, int16_t b) {
    return (i16x8){a, b, a, b, a, b, a, b};
}

static inline __attribute__((always_inline)) void tile_of(const int n, const csimd_kquant_type type,
                                                          const uint8_t *group, int64_t nb, const int8_t *x,
                                                          int64_t cols, const int16_t *x_sums, const float *dx,
                                                          float out[4][8]) {
    const csimd_kquant_layout layout = csimd_kquant_layout_of(type);
    const int is_q6 = type == CSIMD_Q6_K;
    const int subblocks = is_q6 ? 16 : 8, quads = 64 / subblocks;
    f32x4 sum[4][2], minima[4][2];
    for (int i = 0; i < n; i++) sum[i][0] = sum[i][1] = minima[i][0] = minima[i][1] = (f32x4){0};
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *q = group + b * layout.bytes;
        if (n == 1) csimd_prefetch_ahead(q, layout.bytes);
        const i16x8 *a[4];
        for (int i = 0; i < n; i++) a[i] = (const i16x8 *)(const void *)(x + 4 * (i * cols + b * CSIMD_KQUANT_BLOCK));
        // acc[i][k]: rows 2k and 2k + 1 of activation row i, two lanes each (values 4c, 4c + 1 and 4c + 2, 4c + 3).
        i32x4 acc[4][4];
        for (int i = 0; i < n; i++) acc[i][0] = acc[i][1] = acc[i][2] = acc[i][3] = (i32x4){0};
        for (int s = 0; s < subblocks; s++) {
            const i16x8 scale = csimd_widen_bytes(q + layout.scales + 8 * s, is_q6);  // the rows' scales
            const i16x8 row_scale[4] = {__builtin_shufflevector(scale, scale, 0, 0, 0, 0, 1, 1, 1, 1),
                                        __builtin_shufflevector(scale, scale, 2, 2, 2, 2, 3, 3, 3, 3),
                                        __builtin_shufflevector(scale, scale, 4, 4, 4, 4, 5, 5, 5, 5),
                                        __builtin_shufflevector(scale, scale, 6, 6, 6, 6, 7, 7, 7, 7)};
            // Per activation row, the sub-block's products of each row's values in int16 lanes (exact: at most
            // 8 · 15 · 127, 8 · 31 · 127 or 4 · 63 · 127), then times the rows' scales into the int32 lanes.
            i16x8 products[4][4];
            for (int i = 0; i < n; i++) products[i][0] = products[i][1] = products[i][2] = products[i][3] = (i16x8){0};
            if (n == 1) {
                for (int c = 0; c < quads; c++) {
                    half_products(1, type, q, s * quads + c, 0, a, products);
                    half_products(1, type, q, s * quads + c, 1, a, products);
                }
            } else {
                // Half a chunk (four rows) at a time: its two weight vectors, widened once, and the activation
                // rows' two int16 accumulators each fit in SSE2's 16 registers.
                for (int h = 0; h < 2; h++) {
                    for (int c = 0; c < quads; c++) half_products(n, type, q, s * quads + c, h, a, products);
                }
            }
            for (int i = 0; i < n; i++) {
                for (int k = 0; k < 4; k++) acc[i][k] += pair_products(products[i][k], row_scale[k]);
            }
        }
        // Per activation row: the lanes folded to one a row (a lane per weight row), the offset or minima, the
        // float steps.
        i16x8 pairs[8][2];
        const int pair_count = is_q6 ? 8 : 4;
        for (int u = 0; u < pair_count; u++) {
            row_byte_pairs(q + (is_q6 ? layout.scales : layout.minima) + 16 * u, is_q6, pairs[u]);
        }
        const f32x4 d[2] = {halves_to_floats(q + layout.d), halves_to_floats(q + layout.d + 8)};
        f32x4 dmin[2] = {d[0], d[1]};
        if (!is_q6) {
            dmin[0] = halves_to_floats(q + layout.dmin);
            dmin[1] = halves_to_floats(q + layout.dmin + 8);
        }
        for (int i = 0; i < n; i++) {
            i32x4 main[2], other[2] = {{0}, {0}};
            for (int h = 0; h < 2; h++) {
                const i32x4 lo = acc[i][2 * h], hi = acc[i][2 * h + 1];
                main[h] = __builtin_shufflevector(lo, hi, 0, 2, 4, 6) + __builtin_shufflevector(lo, hi, 1, 3, 5, 7);
            }
            const int16_t *s16 = x_sums + (i * nb + b) * 16;
            for (int u = 0; u < pair_count; u++) {
                // Q6_K: sub-blocks 2u, 2u + 1 of 16 values; the others: of 32, two Q8_K sums each.
                const i16x8 sums = is_q6 ? pair_splat(s16[2 * u], s16[2 * u + 1])
                                         : pair_splat(s16[4 * u] + s16[4 * u + 1], s16[4 * u + 2] + s16[4 * u + 3]);
                other[0] += pair_products(pairs[u][0], sums);
                other[1] += pair_products(pairs[u][1], sums);
            }
            const f32x4 scale_x = {dx[i * nb + b], dx[i * nb + b], dx[i * nb + b], dx[i * nb + b]};
            for (int h = 0; h < 2; h++) {
                if (is_q6) {
                    sum[i][h] += (scale_x * d[h]) * __builtin_convertvector(main[h] - 32 * other[h], f32x4);
                } else {
                    sum[i][h] += (scale_x * d[h]) * __builtin_convertvector(main[h], f32x4);
                    minima[i][h] += (scale_x * dmin[h]) * __builtin_convertvector(other[h], f32x4);
                }
            }
        }
    }
    for (int i = 0; i < n; i++) {
        for (int h = 0; h < 2; h++) {
            const f32x4 result = sum[i][h] - minima[i][h];
            memcpy(out[i] + 4 * h, &result, 16);
        }
    }
}

static void tile(const uint8_t *group, csimd_kquant_type type, int64_t nb, int n, const int8_t *x, int64_t cols,
                 const int16_t *x_sums, const float *dx, float out[4][8]) {
    CSIMD_KQUANT_SPECIALIZE(tile_of, n, type, group, nb, x, cols, x_sums, dx, out);
}

int csimd_kquant_wants_quads(void) { return csimd_active_tier() == CSIMD_TIER_PORTABLE; }

void csimd_widen_q8k_quads(const int8_t *values, int64_t count, int16_t *quads) {
    for (int64_t k = 0; k < count; k += 4) {
        for (int j = 0; j < 4; j++) quads[2 * k + j] = quads[2 * k + 4 + j] = values[k + j];
    }
}

void csimd_multiply_kquant_portable(const csimd_kquant_matrix *w, const csimd_q8k_activations *x,
                                    int64_t first_row, int64_t end_row, float *y, int accumulate) {
    csimd_q8k_activations widened = *x;
    int16_t *own = NULL;
    if (widened.quads == NULL) {
        const int64_t count = x->rows * w->blocks * CSIMD_KQUANT_BLOCK;
        own = malloc((size_t)count * 2 * sizeof *own);
        if (own == NULL) abort();
        csimd_widen_q8k_quads(x->values, count, own);
        widened.quads = own;
    }
    csimd_kquant_loop(w, &widened, 1, first_row, end_row, y, accumulate, tile);
    free(own);
}

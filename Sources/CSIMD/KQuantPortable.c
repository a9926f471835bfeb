// The portable tier of the K-quant kernels in the compiler's generic vectors (SSE2 on any x86-64, NEON on
// aarch64): the x86 tiers' tile (KQuantTileX86.h) with each quad's products formed as int16 and their pairs
// widened and added; the same exact sums as the other tiers'.
#include "KQuantProduct.h"

typedef uint8_t u8x32 __attribute__((vector_size(32)));
typedef int8_t i8x4 __attribute__((vector_size(4)));
typedef int16_t i16x4 __attribute__((vector_size(8)));
typedef int64_t i64x8 __attribute__((vector_size(64)));
typedef int16_t i16x32 __attribute__((vector_size(64)));
typedef int16_t i16x16 __attribute__((vector_size(32)));
typedef int32_t i32x16 __attribute__((vector_size(64)));
typedef int32_t i32x8 __attribute__((vector_size(32)));

static inline __attribute__((always_inline)) u8x32 load_chunk(const uint8_t *p) {
    u8x32 v;
    memcpy(&v, p, 32);
    return v;
}

/// Quad c of the eight rows, one byte a value (KQuantProduct.h's layout; as the x86 tiers' csimd_quad_values).
static inline __attribute__((always_inline)) u8x32 quad_values(csimd_kquant_type type, const uint8_t *q, int c) {
    if (type == CSIMD_Q5_K) return load_chunk(q + 32 * c);
    const u8x32 bits = load_chunk(q + 32 * (c % 32));
    const u8x32 nibbles = c < 32 ? bits & 0xF : bits >> 4;
    if (type == CSIMD_Q4_K) return nibbles;
    const u8x32 high = load_chunk(q + CSIMD_Q6K_HIGH_BITS + 32 * (c % 16));
    return nibbles | (((high >> (2 * (c / 16))) & 3) << 4);
}

/// The activation quad a[0…3] widened to int16 and repeated for the eight rows (one 64-bit splat).
static inline __attribute__((always_inline)) i16x32 broadcast_quad(const int8_t *a) {
    i8x4 quad;
    memcpy(&quad, a, 4);
    const i16x4 wide = __builtin_convertvector(quad, i16x4);
    int64_t bits;
    memcpy(&bits, &wide, 8);
    const i64x8 repeated = {bits, bits, bits, bits, bits, bits, bits, bits};
    i16x32 out;
    memcpy(&out, &repeated, 64);
    return out;
}

/// Per pair of bytes of the chunk, w₀a₀ + w₁a₁ in int32: the even and odd values widened and multiplied, then
/// added (the shape of SSE2's `pmaddwd` and of NEON's widening multiply-adds).
static inline __attribute__((always_inline)) i32x16 pair_products(u8x32 w, i16x32 a) {
    const i16x32 w16 = __builtin_convertvector(w, i16x32);
    const i32x16 w_even = __builtin_convertvector(__builtin_shufflevector(w16, w16, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30), i32x16);
    const i32x16 w_odd = __builtin_convertvector(__builtin_shufflevector(w16, w16, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31), i32x16);
    const i32x16 a_even = __builtin_convertvector(__builtin_shufflevector(a, a, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30), i32x16);
    const i32x16 a_odd = __builtin_convertvector(__builtin_shufflevector(a, a, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31), i32x16);
    return w_even * a_even + w_odd * a_odd;
}

/// One sub-block, quads first … first + quads − 1: acc[i][r] = Σ of row r's quads times activation row i's.
static inline __attribute__((always_inline)) void subblock(const int n, csimd_kquant_type type, const uint8_t *q,
                                                           int first, int quads, const int8_t *x, int64_t cols,
                                                           i32x8 acc[4]) {
    i32x16 pairs[4];
    for (int i = 0; i < n; i++) pairs[i] = (i32x16){0};
    for (int c = first; c < first + quads; c++) {
        const u8x32 w = quad_values(type, q, c);
        for (int i = 0; i < n; i++) pairs[i] += pair_products(w, broadcast_quad(x + i * cols + 4 * c));
    }
    for (int i = 0; i < n; i++) {
        acc[i] = __builtin_shufflevector(pairs[i], pairs[i], 0, 2, 4, 6, 8, 10, 12, 14) +
                 __builtin_shufflevector(pairs[i], pairs[i], 1, 3, 5, 7, 9, 11, 13, 15);
    }
}

static inline __attribute__((always_inline)) void tile_of(const int n, const csimd_kquant_type type,
                                                          const uint8_t *group, int64_t nb, const int8_t *x,
                                                          int64_t cols, const int16_t *x_sums, const float *dx,
                                                          float out[4][8]) {
    const csimd_kquant_layout layout = csimd_kquant_layout_of(type);
    const int is_q6 = type == CSIMD_Q6_K;
    float sum[4][8] = {{0}}, minima[4][8] = {{0}};
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *q = group + b * layout.bytes;
        const int8_t *a = x + b * CSIMD_KQUANT_BLOCK;
        i32x8 main[4], minimum[4], acc[4];
        for (int i = 0; i < n; i++) main[i] = minimum[i] = (i32x8){0};
        if (is_q6) {
            for (int s = 0; s < 16; s++) {
                subblock(n, type, q, 4 * s, 4, a, cols, acc);
                i32x8 scale;
                for (int r = 0; r < 8; r++) scale[r] = ((const int8_t *)(q + layout.scales))[8 * s + r];
                for (int i = 0; i < n; i++) main[i] += scale * (acc[i] - 32 * x_sums[(i * nb + b) * 16 + s]);
            }
        } else {
            for (int s = 0; s < 8; s++) {
                subblock(n, type, q, 8 * s, 8, a, cols, acc);
                i32x8 scale, min;
                for (int r = 0; r < 8; r++) {
                    scale[r] = q[layout.scales + 8 * s + r];
                    min[r] = q[layout.minima + 8 * s + r];
                }
                for (int i = 0; i < n; i++) {
                    const int16_t *s16 = x_sums + (i * nb + b) * 16;
                    main[i] += scale * acc[i];
                    minimum[i] += min * (s16[2 * s] + s16[2 * s + 1]);
                }
            }
        }
        for (int r = 0; r < 8; r++) {
            const float d = csimd_half_to_float(q + layout.d + 2 * r);
            const float dmin = is_q6 ? 0 : csimd_half_to_float(q + layout.dmin + 2 * r);
            for (int i = 0; i < n; i++) {
                csimd_kquant_accumulate(&sum[i][r], &minima[i][r], dx[i * nb + b], d, dmin, main[i][r], minimum[i][r], is_q6);
            }
        }
    }
    for (int i = 0; i < n; i++) {
        for (int r = 0; r < 8; r++) out[i][r] = sum[i][r] - minima[i][r];
    }
}

static void tile(const uint8_t *group, csimd_kquant_type type, int64_t nb, int n, const int8_t *x, int64_t cols,
                 const int16_t *x_sums, const float *dx, float out[4][8]) {
    CSIMD_KQUANT_SPECIALIZE(tile_of, n, type, group, nb, x, cols, x_sums, dx, out);
}

void csimd_multiply_kquant_portable(const csimd_kquant_matrix *w, const csimd_q8k_activations *x,
                                    int64_t first_row, int64_t end_row, float *y, int accumulate) {
    csimd_kquant_loop(w, x, first_row, end_row, y, accumulate, tile);
}

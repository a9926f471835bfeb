// The portable tier: clang vector extensions only, so that any target compiles it (SSE2 at the x86-64
// baseline, NEON on aarch64). Per quad of columns, a row's four weight bytes are widened to int16 and
// multiplied lane by lane with the activations' four values; the products are summed in int16 (unsigned weights
// ≤ 31: |w·x| ≤ 31·127, all eight quads fit; signed Q8_0 weights: |w·x| ≤ 128·127, two quads fit) and then in
// int32; a row's four lanes are added at the end of the block. The integer sums are exact, the same as the
// other tiers'.
#include "PortableVectors.h"
#include "Prefetch.h"
#include "QuantizedProduct.h"

#include <string.h>

#pragma clang fp contract(off)
// The helpers below pass wide vectors between always-inlined functions; no call crosses an ABI boundary.
#pragma clang diagnostic ignored "-Wpsabi"

typedef int32_t i32x16 __attribute__((vector_size(64)));
typedef float f32x16 __attribute__((vector_size(64)));

/// Lane i: v[2i] + v[2i+1] in int32 (either byte order: both halves of each 32-bit lane are added).
static inline __attribute__((always_inline)) i32x4 add_pairs(i16x8 v) {
    const i32x4 words = (i32x4)v;
    return ((words << 16) >> 16) + (words >> 16);
}

/// Group g's 16 rows times activation rows t0 ..< t0 + n. Per block, rows are taken four at a time (16 bytes
/// of each quad) so that the sums of n activation rows stay in registers; each activation row's four values
/// of a quad, twice over eight int16 lanes, are prepared once per block.
static inline __attribute__((always_inline)) void tile(const csimd_quantized_matrix *w,
                                                       const csimd_quantized_activations *x, int64_t g,
                                                       int64_t t0, float *y, int accumulate, const int n,
                                                       const int is_signed) {
    const int64_t nb = w->blocks, cols = nb * 32;
    f32x16 sum[4];
    for (int i = 0; i < n; i++) sum[i] = (f32x16){0};
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *base = w->values + (g * nb + b) * CSIMD_GROUP_BLOCK_BYTES;
        if (n == 1) csimd_prefetch_ahead(base, CSIMD_GROUP_BLOCK_BYTES);
        const int8_t *xq = x->values + t0 * cols + b * 32;
        i16x8 pattern[4][8];
        for (int i = 0; i < n; i++) {
            for (int c = 0; c < 8; c++) {
                const int8_t *a = xq + i * cols + 4 * c;
                const int16_t a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
                pattern[i][c] = (i16x8){a0, a1, a2, a3, a0, a1, a2, a3};
            }
        }
        i32x4 q[4][4];
        for (int k = 0; k < 4; k++) {
            // Lanes 4j … 4j+3 of `low` (`high`): row 4k + j (4k + 2 + j), the products with columns 0 … 3 of
            // each quad, summed over quads in int16 (unsigned weights: all eight; signed: two at a time).
            i16x8 low[4], high[4];
            i32x4 low_pairs[4], high_pairs[4];
            for (int i = 0; i < n; i++) {
                low[i] = high[i] = (i16x8){0};
                low_pairs[i] = high_pairs[i] = (i32x4){0};
            }
            for (int c = 0; c < 8; c++) {
                const i16x8 w0 = csimd_widen_bytes(base + c * 64 + 16 * k, is_signed);
                const i16x8 w1 = csimd_widen_bytes(base + c * 64 + 16 * k + 8, is_signed);
                for (int i = 0; i < n; i++) {
                    low[i] += w0 * pattern[i][c];
                    high[i] += w1 * pattern[i][c];
                }
                if (is_signed ? (c & 1) : c == 7) {
                    for (int i = 0; i < n; i++) {
                        low_pairs[i] += add_pairs(low[i]);
                        high_pairs[i] += add_pairs(high[i]);
                        low[i] = high[i] = (i16x8){0};
                    }
                }
            }
            for (int i = 0; i < n; i++) {
                q[i][k] = __builtin_shufflevector(low_pairs[i], high_pairs[i], 0, 2, 4, 6) +
                          __builtin_shufflevector(low_pairs[i], high_pairs[i], 1, 3, 5, 7);
            }
        }
        const int64_t slot = (g * nb + b) * CSIMD_GROUP_ROWS;
        f32x16 d, m = (f32x16){0};
        memcpy(&d, w->scales + slot, sizeof d);
        if (w->mins) memcpy(&m, w->mins + slot, sizeof m);
        for (int i = 0; i < n; i++) {
            const int64_t block = (t0 + i) * nb + b;
            i32x16 rows;
            memcpy(&rows, q[i], sizeof rows);
            rows -= w->offset * x->sums[block];
            sum[i] += __builtin_convertvector(rows, f32x16) * (d * x->scales[block]);
            if (w->mins) sum[i] += m * x->scaled_sums[block];
        }
    }
    for (int i = 0; i < n; i++) {
        float sums[16];
        memcpy(sums, &sum[i], sizeof sums);
        csimd_store_group(sums, y + (t0 + i) * w->rows, g, w->rows, accumulate);
    }
}

CSIMD_TILE_VARIANTS(tile)

void csimd_multiply_portable(const csimd_quantized_matrix *w, const csimd_quantized_activations *x,
                             int64_t first_group, int64_t end_group, float *y, int accumulate) {
    if (w->is_signed) {
        CSIMD_MULTIPLY_LOOP(tile4_signed, tile1_signed)
    } else {
        CSIMD_MULTIPLY_LOOP(tile4_unsigned, tile1_unsigned)
    }
}

// Shared by the tiers' kernels (not part of the public header): the per-tier entry points and the loop that
// walks activation rows and row groups, parameterized by a tier's tile function.
#ifndef CSIMD_QUANTIZED_PRODUCT_H
#define CSIMD_QUANTIZED_PRODUCT_H

#include "CSIMD.h"

void csimd_multiply_portable(const csimd_quantized_matrix *w, const csimd_quantized_activations *x,
                             int64_t first_group, int64_t end_group, float *y, int accumulate);
#if defined(__x86_64__)
void csimd_multiply_avx2(const csimd_quantized_matrix *w, const csimd_quantized_activations *x,
                         int64_t first_group, int64_t end_group, float *y, int accumulate);
void csimd_multiply_avx512vnni(const csimd_quantized_matrix *w, const csimd_quantized_activations *x,
                               int64_t first_group, int64_t end_group, float *y, int accumulate);
#endif

/// Rows of a group and bytes of a group's block.
enum { CSIMD_GROUP_ROWS = 16, CSIMD_GROUP_BLOCK_BYTES = 512 };

/// Activation rows per run: a run's rows stay in L2 while its groups pass over them; within a run each group's
/// weights (16 × cols bytes) stay in L1 while tiles of four rows pass over them.
enum { CSIMD_ROW_RUN = 256 };

/// Stores one activation row's 16 sums of group g into y (rows past the matrix's end are dropped).
static inline void csimd_store_group(const float sums[16], float *y_row, int64_t g, int64_t rows, int accumulate) {
    float *out = y_row + g * CSIMD_GROUP_ROWS;
    int64_t n = rows - g * CSIMD_GROUP_ROWS;
    if (n > CSIMD_GROUP_ROWS) n = CSIMD_GROUP_ROWS;
    for (int64_t l = 0; l < n; l++) out[l] = accumulate ? out[l] + sums[l] : sums[l];
}

/// The loop every tier shares: runs of activation rows, groups, tiles of 4 rows then single rows.
/// TILE4 and TILE1 are the tier's tile functions `(w, x, g, t, y, accumulate)`.
#define CSIMD_MULTIPLY_LOOP(TILE4, TILE1)                                                    \
    for (int64_t t0 = 0; t0 < x->rows; t0 += CSIMD_ROW_RUN) {                                \
        int64_t t1 = t0 + CSIMD_ROW_RUN < x->rows ? t0 + CSIMD_ROW_RUN : x->rows;            \
        for (int64_t g = first_group; g < end_group; g++) {                                  \
            int64_t t = t0;                                                                  \
            for (; t + 4 <= t1; t += 4) TILE4(w, x, g, t, y, accumulate);                    \
            for (; t < t1; t++) TILE1(w, x, g, t, y, accumulate);                            \
        }                                                                                    \
    }

/// Four tile functions (tile4_signed, tile1_signed, tile4_unsigned, tile1_unsigned) from a tier's inline
/// `TILE(w, x, g, t0, y, accumulate, rows, is_signed)`, each with its constants folded in.
#define CSIMD_TILE_VARIANTS(TILE)                                                                          \
    static void tile4_signed(const csimd_quantized_matrix *w, const csimd_quantized_activations *x,       \
                             int64_t g, int64_t t0, float *y, int accumulate) {                           \
        TILE(w, x, g, t0, y, accumulate, 4, 1);                                                           \
    }                                                                                                     \
    static void tile1_signed(const csimd_quantized_matrix *w, const csimd_quantized_activations *x,       \
                             int64_t g, int64_t t0, float *y, int accumulate) {                           \
        TILE(w, x, g, t0, y, accumulate, 1, 1);                                                           \
    }                                                                                                     \
    static void tile4_unsigned(const csimd_quantized_matrix *w, const csimd_quantized_activations *x,     \
                               int64_t g, int64_t t0, float *y, int accumulate) {                         \
        TILE(w, x, g, t0, y, accumulate, 4, 0);                                                           \
    }                                                                                                     \
    static void tile1_unsigned(const csimd_quantized_matrix *w, const csimd_quantized_activations *x,     \
                               int64_t g, int64_t t0, float *y, int accumulate) {                         \
        TILE(w, x, g, t0, y, accumulate, 1, 0);                                                           \
    }

#endif

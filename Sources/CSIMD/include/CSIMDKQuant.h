// The K-quant kernels (KQuantMatrix's products): weights of ggml's 256-value super-block types Q4_K, Q5_K and
// Q6_K, repacked at load into groups of eight interleaved rows, times activations quantized as ggml's Q8_K, in llama.cpp's integer
// arithmetic. The same tiers as CSIMD.h's kernels (csimd_active_tier picks one); every tier gives
// bit-identical products: the integer sums are exact and the float steps are one shared piece of code.
#ifndef CSIMD_KQUANT_H
#define CSIMD_KQUANT_H

#include <stdint.h>

/// The K-quant weight types.
typedef enum {
    CSIMD_Q4_K = 0,
    CSIMD_Q5_K = 1,
    CSIMD_Q6_K = 2,
} csimd_kquant_type;

/// Values per super-block (ggml's QK_K) and per Q8_K partial sum.
enum { CSIMD_KQUANT_BLOCK = 256, CSIMD_KQUANT_SUM_SPAN = 16 };

/// Bytes of one GGUF super-block of `type` (144, 176, 210).
int64_t csimd_kquant_block_bytes(csimd_kquant_type type);

/// Weight rows per group of the repacked layout.
enum { CSIMD_KQUANT_GROUP = 8 };

/// Bytes of one repacked group-block (CSIMD_KQUANT_GROUP rows × one super-block) of `type`: 1184 (Q4_K),
/// 2208 (Q5_K), 1680 (Q6_K).
int64_t csimd_kquant_group_bytes(csimd_kquant_type type);

/// A K-quant weight repacked by csimd_kquant_repack: groups of eight rows, each group's super-blocks in order;
/// per group-block the rows' quantized values interleaved by quads (byte 4r + j of each 32-byte chunk is value
/// j of the chunk's quad in row r, so that one vector holds a quad of every row), then the sub-block scales
/// (and minima) as bytes, [sub-block][row], then d (and dmin) as float16, [row]. Q4_K and Q6_K keep their
/// nibbles (low: the first 128 values, high: the last 128), Q6_K its two high bits in a plane of their own
/// (unsigned, offset 32 not subtracted), Q5_K one byte a value. GGUF's bytes for Q6_K, 32 more per 1152 for
/// Q4_K (its 6-bit scales and minima as bytes), about half as much again for Q5_K.
typedef struct {
    const uint8_t *data;
    csimd_kquant_type type;
    /// Rows of the matrix (the output's row stride); the last group is padded with zero rows.
    int64_t rows;
    /// Super-blocks per row.
    int64_t blocks;
} csimd_kquant_matrix;

/// Repacks `rows` rows of `blocks` GGUF super-blocks of `type` (row after row) into `out`, which holds
/// ceil(rows / 8) · blocks · csimd_kquant_group_bytes(type) bytes.
void csimd_kquant_repack(csimd_kquant_type type, const uint8_t *gguf, int64_t rows, int64_t blocks, uint8_t *out);

/// Row `row` of a repacked weight as float32, with ggml's dequantization formulas: (d·sc)·q − (dmin·m) for
/// Q4_K and Q5_K, (d·sc)·(q − 32) for Q6_K.
void csimd_kquant_dequantize_row(const csimd_kquant_matrix *w, int64_t row, float *out);

/// Activations quantized as ggml's Q8_K: `rows` rows of `blocks · 256` int8 values; per super-block the
/// float32 scale d and 16 sums of 16 consecutive values.
typedef struct {
    const int8_t *values;
    const float *scales;
    const int16_t *sums;
    int64_t rows;
    /// The values widened for the portable tier (csimd_widen_q8k_quads), or NULL: the portable product then
    /// widens them itself, once per call.
    const int16_t *quads;
} csimd_q8k_activations;

/// Whether the active tier reads csimd_q8k_activations' `quads` (the portable tier): the caller that quantizes
/// once for many products widens once too.
int csimd_kquant_wants_quads(void);

/// The portable tier's form of `count` Q8_K values (a multiple of 4): each quad of int8 values as eight int16,
/// the quad twice (`count · 4` int16 in `quads`), the operand of its pair products.
void csimd_widen_q8k_quads(const int8_t *values, int64_t count, int16_t *quads);

/// Quantizes `blocks` super-blocks of `x` as ggml's `quantize_row_q8_K_ref`: the value of largest magnitude
/// `m` (the first one, sign kept) sets iscale = −127 / m, q = min(127, nearest(iscale · x)), d = 1 / iscale;
/// an all-zero block has d = 0 and q = 0. One code for every tier.
void csimd_quantize_q8k(const float *x, int64_t blocks, int8_t *values, float *scales, int16_t *sums);

/// y[t, r] = W[r, :] · x[t, :] for the weight rows first_row ..< end_row and every activation row (`y` has
/// row stride w->rows; a range that starts or ends inside a group computes the whole group, writes its rows). Per super-block, as llama.cpp: the exact int32 sum of scale · Σ q_w q_x over the
/// sub-blocks times d_x · d_w and (Q4_K, Q5_K) the exact Σ min · Σ q_x times d_x · dmin_w; the first terms
/// summed over super-blocks in order, minus the second ones' sum. With `accumulate`, the sum is computed
/// first and then added to y.
void csimd_multiply_kquant(const csimd_kquant_matrix *w, const csimd_q8k_activations *x, int64_t first_row,
                           int64_t end_row, float *y, int accumulate);

#endif

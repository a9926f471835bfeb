// The numeric kernels of Sources/Probe in C, so that one binary carries a version per instruction-set tier and
// picks one at run time: the integer products of QuantizedMatrix and the float kernels of the forward pass
// (softmax, SwiGLU, float16 rounding, attention's dot products). Tiers: `portable` (plain C vector code, any
// CPU), `avx2` (x86 AVX2 + FMA + F16C) and `avx512vnni` (x86 AVX-512 with VNNI's `vpdpbusd`). The x86 tiers are
// compiled with per-function target attributes, so the default build (no -march/-target-cpu) carries them all;
// the best tier the CPU and OS support is chosen when first needed. Every tier computes the same integer sums and
// the same float operations in the same order: their results are bit-identical.
#ifndef CSIMD_H
#define CSIMD_H

#include <stdint.h>

/// Instruction-set tiers of the kernels, slowest first.
typedef enum {
    CSIMD_TIER_PORTABLE = 0,
    CSIMD_TIER_AVX2 = 1,
    CSIMD_TIER_AVX512VNNI = 2,
} csimd_tier;

/// Number of tiers (the enumeration's values are 0 ..< CSIMD_TIER_COUNT).
#define CSIMD_TIER_COUNT 3

/// Whether this CPU (and its operating system, for the vector registers' state) can run `tier`.
int csimd_tier_supported(csimd_tier tier);

/// The fastest tier this CPU supports.
csimd_tier csimd_best_tier(void);

/// Where OpenBLAS fell back to its generic "Prescott" kernels on a CPU with AVX2 or AVX-512, has it choose again
/// with the kernels that fit ("Haswell", "SkylakeX"; BLASCore.c) and returns that name; else NULL, leaving
/// OpenBLAS as it is (also when OPENBLAS_CORETYPE or DAPQ_PROBE_BLAS_CORE=openblas is set). It runs once by itself
/// before main (a constructor); a later call finds nothing to change and returns NULL.
const char *csimd_fit_blas_core(void);

/// The tier the kernels run on: the fastest supported one unless csimd_select_tier chose another.
csimd_tier csimd_active_tier(void);

/// Makes the kernels run on `tier`; returns 0, or -1 (and changes nothing) when the CPU lacks it.
int csimd_select_tier(csimd_tier tier);

/// A weight matrix of a 32-block type in QuantizedMatrix's layout: rows in groups of 16; per group and block
/// 512 bytes, 8 quads of columns, each 64 bytes holding row r's four bytes of the quad at bytes 4r … 4r+3;
/// per group and block 16 scales (and minima), rows in order.
typedef struct {
    const uint8_t *values;
    const float *scales;
    /// Block minima (Q4_1, Q5_1) or NULL.
    const float *mins;
    /// Rows of the matrix (the output's row stride); the last group may be cut short.
    int64_t rows;
    /// Blocks of 32 per row.
    int64_t blocks;
    /// Weights are two's-complement bytes (Q8_0); otherwise unsigned (≤ 31).
    int is_signed;
    /// Subtracted from unsigned weights (8 for Q4_0, 16 for Q5_0, 0 otherwise).
    int32_t offset;
} csimd_quantized_matrix;

/// Activations quantized per block of 32 (QuantizedActivations): `rows` rows of `blocks · 32` bytes.
typedef struct {
    const int8_t *values;
    /// Per block: the scale d.
    const float *scales;
    /// Per block: float16(d · Σq), widened.
    const float *scaled_sums;
    /// Per block: Σq.
    const int32_t *sums;
    int64_t rows;
} csimd_quantized_activations;

/// y[t, r] = W[r, :] · x[t, :] for the row groups first_group ..< end_group of `w` and every activation row
/// (`y` has row stride w->rows), per block `(d_w · d_x) · Σ q_w q_x (+ m_w · s_x)` summed in block order (each
/// product rounded, then the sum). With `accumulate`, the sum is computed first and then added to y.
void csimd_multiply_quantized(const csimd_quantized_matrix *w, const csimd_quantized_activations *x,
                              int64_t first_group, int64_t end_group, float *y, int accumulate);

/// The float kernels of the forward pass, on the active tier. No multiply-add is fused (each product rounded, then
/// each sum), so every tier, and the portable code on any architecture, gives the same values.

/// In-place softmax over row[0 ..< valid] (the maximum subtracted, e^x as csimd_exp, the sum in double from
/// float partial sums of runs of 256), row[valid ..< n] set to zero; with `rounded_to_half` each probability
/// is rounded to float16 (and widened back).
void csimd_softmax_prefix(float *row, int64_t valid, int64_t n, int rounded_to_half);

/// out[i] = silu(gate[i]) · up[i].
void csimd_swiglu(const float *gate, const float *up, int64_t count, float *out);

/// y[i] = e^x[i], the softmax's and SwiGLU's exponential, computed in double: correctly rounded but within 3·10⁻¹⁰
/// of a tie, for x in [-87, 88]; smaller x underflow to e^-87.
void csimd_exp(const float *x, float *y, int64_t count);

/// Each value rounded to the nearest float16 (ties to even) and widened back, exactly as IEEE conversion.
void csimd_round_to_half(float *x, int64_t count);

/// Σ a[i]·b[i] (eight partial sums, each acc + a·b rounded twice, added in lane order, then the tail).
float csimd_dot(const float *a, const float *b, int64_t count);

/// out[0 ..< width] = Σ_j weights[j] · rows[j, :] over `count` rows of `width` values.
void csimd_weighted_sum(const float *weights, const float *rows, int64_t count, int64_t width, float *out);

/// Half-precision rows (IEEE binary16 bit patterns, a float16 KV cache's storage; F16C on the x86 tiers, integer
/// arithmetic on the portable one, every tier bit-identical).

/// x[i] = h[i] widened to float, exactly.
void csimd_widen_half(const uint16_t *h, float *x, int64_t count);

/// h[i] = x[i] rounded to the nearest binary16 (ties to even), as IEEE conversion.
void csimd_narrow_to_half(const float *x, uint16_t *h, int64_t count);

/// csimd_dot with b in half precision: the same value as csimd_dot on b widened.
float csimd_dot_half(const float *a, const uint16_t *b, int64_t count);

/// csimd_weighted_sum with the rows in half precision: the same values as csimd_weighted_sum on the rows widened.
void csimd_weighted_sum_half(const float *weights, const uint16_t *rows, int64_t count, int64_t width, float *out);

#include "CSIMDKQuant.h"

#endif

// The float kernels' per-tier entry points (FloatKernels.h compiled by FloatKernelsPortable.c, FloatKernelsFMA.c and
// FloatKernelsAVX512.c).
#ifndef CSIMD_FLOAT_KERNELS_TIERS_H
#define CSIMD_FLOAT_KERNELS_TIERS_H

#include "CSIMD.h"

#define CSIMD_DECLARE_FLOAT_KERNELS(prefix)                                                                  \
    void prefix##softmax_prefix(float *row, int64_t valid, int64_t n, int rounded_to_half);                \
    void prefix##swiglu(const float *gate, const float *up, int64_t count, float *out);                    \
    void prefix##exp(const float *x, float *y, int64_t count);                                             \
    void prefix##round_to_half(float *x, int64_t count);                                                   \
    float prefix##dot(const float *a, const float *b, int64_t count);                                      \
    void prefix##weighted_sum(const float *weights, const float *rows, int64_t count, int64_t width, float *out); \
    void prefix##widen_half(const uint16_t *h, float *x, int64_t count);                                 \
    void prefix##narrow_to_half(const float *x, uint16_t *h, int64_t count);                                 \
    float prefix##dot_half(const float *a, const uint16_t *b, int64_t count);                               \
    void prefix##weighted_sum_half(const float *weights, const uint16_t *rows, int64_t count, int64_t width, float *out);

CSIMD_DECLARE_FLOAT_KERNELS(csimd_portable_)
#if defined(__x86_64__)
CSIMD_DECLARE_FLOAT_KERNELS(csimd_fma_)
CSIMD_DECLARE_FLOAT_KERNELS(csimd_avx512_)
#endif

#endif

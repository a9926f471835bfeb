// The float kernels (FloatKernels.h) for x86 CPUs with AVX2, FMA and F16C (the avx2 and avx512vnni tiers).
#if defined(__x86_64__)
#include "FloatKernelsTiers.h"

#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#pragma clang fp contract(off)
#pragma clang diagnostic ignored "-Wpsabi"
#define FLOAT_KERNELS_F16C
#define FLOAT_KERNEL(name) csimd_fma_##name
#include "FloatKernels.h"
#pragma clang attribute pop
#endif

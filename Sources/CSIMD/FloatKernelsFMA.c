// The float kernels (FloatKernels.h) for x86 CPUs with AVX2 and FMA (the avx2 and avx512vnni tiers).
#if defined(__x86_64__)
#include "FloatKernelsTiers.h"

#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#pragma clang fp contract(off)
#define FLOAT_KERNEL(name) csimd_fma_##name
#include "FloatKernels.h"
#pragma clang attribute pop
#endif

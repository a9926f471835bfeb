// The float kernels (FloatKernels.h) for the avx512vnni tier: the same source as FloatKernelsFMA.c, compiled with
// AVX-512 so that the exponential's eight doubles fill one register (the same operations, the same values).
#if defined(__x86_64__)
#include "FloatKernelsTiers.h"

#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl"))), apply_to = function)
#pragma clang fp contract(off)
#pragma clang diagnostic ignored "-Wpsabi"
#define FLOAT_KERNELS_F16C
#define FLOAT_KERNEL(name) csimd_avx512_##name
#include "FloatKernels.h"
#pragma clang attribute pop
#endif

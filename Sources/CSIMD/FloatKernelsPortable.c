// The float kernels (FloatKernels.h) for any CPU: the compiler's generic vectors (SSE2 on x86-64, NEON on aarch64),
// float16 widened and narrowed with integer arithmetic.
#include "FloatKernelsTiers.h"

#pragma clang fp contract(off)
#pragma clang diagnostic ignored "-Wpsabi"
#define FLOAT_KERNEL(name) csimd_portable_##name
#include "FloatKernels.h"

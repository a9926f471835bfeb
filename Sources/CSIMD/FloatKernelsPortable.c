// The float kernels (FloatKernels.h) for any CPU: fused multiply-adds are library calls where the target has no FMA.
#include "FloatKernelsTiers.h"

#pragma clang fp contract(off)
#pragma clang diagnostic ignored "-Wpsabi"
#define FLOAT_KERNEL(name) csimd_portable_##name
#include "FloatKernels.h"

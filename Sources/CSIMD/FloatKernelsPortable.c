// The float kernels (FloatKernels.h) for any CPU: on x86, whose baseline has no FMA, fused multiply-adds are
// emulated exactly in double precision (fma4_by_doubles); elsewhere (aarch64) they are the FMA instruction.
#include "FloatKernelsTiers.h"

#pragma clang fp contract(off)
#pragma clang diagnostic ignored "-Wpsabi"
#define FLOAT_KERNEL(name) csimd_portable_##name
#include "FloatKernels.h"

// The generic 128-bit and 64-bit vectors (clang's vector extensions) the portable tier's kernels share, and the
// widening of eight bytes to int16, signed or unsigned.
#ifndef CSIMD_PORTABLE_VECTORS_H
#define CSIMD_PORTABLE_VECTORS_H

#include <stdint.h>
#include <string.h>

typedef uint8_t u8x8 __attribute__((vector_size(8)));
typedef int8_t i8x8 __attribute__((vector_size(8)));
typedef uint8_t u8x16 __attribute__((vector_size(16)));
typedef int8_t i8x16 __attribute__((vector_size(16)));
typedef uint16_t u16x4 __attribute__((vector_size(8)));
typedef uint16_t u16x8 __attribute__((vector_size(16)));
typedef int16_t i16x8 __attribute__((vector_size(16)));
typedef int32_t i32x4 __attribute__((vector_size(16)));
typedef uint32_t u32x4 __attribute__((vector_size(16)));
typedef float f32x4 __attribute__((vector_size(16)));

/// The eight bytes at p as int16: sign-extended (`is_signed`) or zero-extended.
static inline __attribute__((always_inline)) i16x8 csimd_widen_bytes(const uint8_t *p, const int is_signed) {
    if (is_signed) {
        i8x8 v;
        memcpy(&v, p, 8);
        return __builtin_convertvector(v, i16x8);
    }
    u8x8 v;
    memcpy(&v, p, 8);
    return __builtin_convertvector(v, i16x8);
}

#endif

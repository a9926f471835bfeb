// The x86 vector instructions that Swift's SIMD types cannot express, for the integer kernels of
// Sources/Probe (QuantizedMatrix). Swift imports the vector types below as SIMD32<UInt8>, SIMD32<Int8>,
// SIMD16<Int16> and SIMD8<Int32> and inlines the functions. Compiled for the target Swift builds for: with
// AVX2 (the Makefile's CPU_FLAGS) each is the instruction itself, otherwise the same arithmetic lane by lane.
#ifndef CSIMD_H
#define CSIMD_H

#include <stdint.h>

typedef uint8_t csimd_u8x32 __attribute__((vector_size(32)));
typedef int8_t csimd_i8x32 __attribute__((vector_size(32)));
typedef int16_t csimd_i16x16 __attribute__((vector_size(32)));
typedef int32_t csimd_i32x8 __attribute__((vector_size(32)));

#if defined(__AVX2__)
#include <immintrin.h>
#endif

/// Lane i of the result: a[2i]·b[2i] + a[2i+1]·b[2i+1] (a unsigned, b signed bytes), saturated to int16
/// (x86's `vpmaddubsw`).
static inline csimd_i16x16 csimd_multiply_add_pairs(csimd_u8x32 a, csimd_i8x32 b) {
#if defined(__AVX2__)
    return (csimd_i16x16)_mm256_maddubs_epi16((__m256i)a, (__m256i)b);
#else
    csimd_i16x16 r;
    for (int i = 0; i < 16; i++) {
        int s = (int)a[2 * i] * (int)b[2 * i] + (int)a[2 * i + 1] * (int)b[2 * i + 1];
        r[i] = (int16_t)(s > 32767 ? 32767 : (s < -32768 ? -32768 : s));
    }
    return r;
#endif
}

/// Lane i of the result: a[2i]·b[2i] + a[2i+1]·b[2i+1] in int32 (x86's `vpmaddwd`).
static inline csimd_i32x8 csimd_multiply_add_words(csimd_i16x16 a, csimd_i16x16 b) {
#if defined(__AVX2__)
    return (csimd_i32x8)_mm256_madd_epi16((__m256i)a, (__m256i)b);
#else
    csimd_i32x8 r;
    for (int i = 0; i < 8; i++) r[i] = (int32_t)a[2 * i] * b[2 * i] + (int32_t)a[2 * i + 1] * b[2 * i + 1];
    return r;
#endif
}

/// |a| lane by lane, as unsigned bytes (|−128| = 128) (x86's `vpabsb`).
static inline csimd_u8x32 csimd_magnitude(csimd_i8x32 a) {
#if defined(__AVX2__)
    return (csimd_u8x32)_mm256_abs_epi8((__m256i)a);
#else
    csimd_u8x32 r;
    for (int i = 0; i < 32; i++) r[i] = (uint8_t)(a[i] < 0 ? -(int)a[i] : a[i]);
    return r;
#endif
}

/// a with the sign of b lane by lane: a where b > 0, −a where b < 0, 0 where b = 0 (x86's `vpsignb`).
static inline csimd_i8x32 csimd_with_sign_of(csimd_i8x32 a, csimd_i8x32 b) {
#if defined(__AVX2__)
    return (csimd_i8x32)_mm256_sign_epi8((__m256i)a, (__m256i)b);
#else
    csimd_i8x32 r;
    for (int i = 0; i < 32; i++) r[i] = (int8_t)(b[i] > 0 ? a[i] : (b[i] < 0 ? -a[i] : 0));
    return r;
#endif
}

#endif

// The float kernels of the forward pass (softmax, SwiGLU, float16 rounding, attention's dot products and weighted
// sums), written once with vector extensions and compiled per tier by FloatKernelsPortable.c, FloatKernelsFMA.c
// and FloatKernelsAVX512.c, which define FLOAT_KERNEL(name) to prefix the function names. No multiply-add is fused
// (`fp contract(off)` in the including files): a product is rounded, then the sum, on every tier and every
// architecture, so every tier computes the same values, and the portable tier, whose x86 baseline has no FMA
// instruction, needs no emulation of one.
#include "CSIMD.h"

#include <math.h>
#include <string.h>

typedef float f32x8 __attribute__((vector_size(32)));
typedef double f64x4 __attribute__((vector_size(32)));
typedef int32_t i32x8 __attribute__((vector_size(32)));
typedef uint32_t u32x8 __attribute__((vector_size(32)));
typedef uint16_t u16x8 __attribute__((vector_size(16)));

static inline __attribute__((always_inline)) f32x8 load8(const float *p) {
    f32x8 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline __attribute__((always_inline)) void store8(float *p, f32x8 v) { memcpy(p, &v, sizeof v); }

static inline __attribute__((always_inline)) f32x8 splat8(float x) { return (f32x8){x, x, x, x, x, x, x, x}; }

/// Lane by lane: a where mask is all ones, else b (masks as vector comparisons give them).
static inline __attribute__((always_inline)) f32x8 select8(i32x8 mask, f32x8 a, f32x8 b) {
    u32x8 ua, ub;
    memcpy(&ua, &a, sizeof ua);
    memcpy(&ub, &b, sizeof ub);
    const u32x8 m = (u32x8)mask, r = (ua & m) | (ub & ~m);
    f32x8 out;
    memcpy(&out, &r, sizeof out);
    return out;
}

typedef double f64x8 __attribute__((vector_size(64)));
typedef int64_t i64x8 __attribute__((vector_size(64)));

/// e^x for x in [-87, 88] (smaller x underflow towards e^-87, as the softmax needs), computed in double
/// precision: x = n·ln2 + r with |r| ≤ ln2/2 (ln2 in two parts, the first with 32 significant bits, so that n
/// times it is exact), a degree-8 Taylor polynomial for e^r (relative error under 3·10⁻¹⁰) and 2^n from bits.
/// Rounded to float it is the correctly rounded e^x but for inputs within that error of a rounding tie (about
/// 1 in 4000). No operation is fused, so every tier computes the same values and the portable tier, whose x86
/// baseline has no FMA, needs no emulation of one; the avx512vnni tier's copy computes the eight doubles in one
/// register.
static inline __attribute__((always_inline)) f32x8 exp8(f32x8 x) {
    f32x8 clamped = select8(x < -87, splat8(-87), x);
    clamped = select8(clamped > 88, splat8(88), clamped);
    const f64x8 xd = __builtin_convertvector(clamped, f64x8);
    // Round x·log2(e) to the nearest integer by adding 1.5·2⁵²: the sum's low bits hold n.
    const f64x8 shifted = xd * 1.4426950408889634 + 6755399441055744.0;
    const f64x8 n = shifted - 6755399441055744.0;
    const f64x8 r = (xd - n * 0.6931471803691238) - n * 1.9082149292705877e-10;
    f64x8 p = r * (1.0 / 40320) + (1.0 / 5040);
    p = p * r + (1.0 / 720);
    p = p * r + (1.0 / 120);
    p = p * r + (1.0 / 24);
    p = p * r + (1.0 / 6);
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    i64x8 exponent;
    memcpy(&exponent, &shifted, sizeof exponent);
    exponent = (exponent - 0x4338000000000000LL + 1023) << 52;
    f64x8 scale;
    memcpy(&scale, &exponent, sizeof scale);
    return __builtin_convertvector(p * scale, f32x8);
}

/// Each lane rounded to the nearest float16 (ties to even) and widened back, as IEEE conversion does, with float
/// adds and integer masks only (no F16C needed): |x| is rounded to 11 significant bits by adding and subtracting a
/// power of two 13 binades above it (at least 2⁻¹, for the quantum 2⁻²⁴ of float16's subnormals); at or beyond
/// 65520 it becomes infinity; NaN stays NaN.
static inline __attribute__((always_inline)) f32x8 round_to_half8(f32x8 x) {
    u32x8 bits;
    memcpy(&bits, &x, sizeof bits);
    const u32x8 sign = bits & 0x80000000u, magnitude_bits = bits & 0x7FFFFFFFu;
    u32x8 magic_bits = (magnitude_bits & 0x7F800000u) + (13u << 23);
    const u32x8 below = (u32x8)(magic_bits < 0x3F000000u);
    magic_bits = (below & 0x3F000000u) | (~below & magic_bits);
    f32x8 magnitude, magic;
    memcpy(&magnitude, &magnitude_bits, sizeof magnitude);
    memcpy(&magic, &magic_bits, sizeof magic);
    f32x8 rounded = (magnitude + magic) - magic;
    rounded = select8(magnitude >= 65520.0f, splat8(INFINITY), rounded);
    rounded = select8(magnitude != magnitude, magnitude, rounded);
    u32x8 out;
    memcpy(&out, &rounded, sizeof out);
    out |= sign;
    f32x8 result;
    memcpy(&result, &out, sizeof result);
    return result;
}

/// One value rounded to float16 and back (the same arithmetic on one lane).
static inline __attribute__((always_inline)) float round_to_half1(float x) { return round_to_half8(splat8(x))[0]; }

/// Eight IEEE binary16 values (bit patterns) widened to float, exactly: F16C's `vcvtph2ps` where the including file
/// defines FLOAT_KERNELS_F16C, else integer arithmetic (exponent rebiased, subnormals scaled by one exact float
/// subtraction, infinities and NaN kept, payload included).
static inline __attribute__((always_inline)) f32x8 widen8(const uint16_t *p) {
#if defined(FLOAT_KERNELS_F16C)
    __m128i h;
    memcpy(&h, p, sizeof h);
    const __m256 f = _mm256_cvtph_ps(h);
    f32x8 v;
    memcpy(&v, &f, sizeof v);
    return v;
#else
    u16x8 h16;
    memcpy(&h16, p, sizeof h16);
    const u32x8 h = __builtin_convertvector(h16, u32x8);
    const u32x8 shifted = (h & 0x7FFFu) << 13;
    const u32x8 exponent = shifted & 0x0F800000u;
    u32x8 bits = shifted + (112u << 23);
    const u32x8 special = (u32x8)(exponent == 0x0F800000u), tiny = (u32x8)(exponent == 0);
    bits += special & (112u << 23);
    bits += tiny & (1u << 23);
    f32x8 magnitude, offset;
    memcpy(&magnitude, &bits, sizeof magnitude);
    const u32x8 offset_bits = tiny & (113u << 23);
    memcpy(&offset, &offset_bits, sizeof offset);
    magnitude -= offset;
    u32x8 out;
    memcpy(&out, &magnitude, sizeof out);
    out |= (h & 0x8000u) << 16;
    f32x8 v;
    memcpy(&v, &out, sizeof v);
    return v;
#endif
}

/// One binary16 value widened to float (the same arithmetic on one lane).
static inline __attribute__((always_inline)) float widen1(uint16_t h) {
    const uint16_t lanes[8] = {h};
    return widen8(lanes)[0];
}

/// Eight floats rounded to the nearest binary16 (ties to even, IEEE conversion) and stored as bit patterns: F16C's
/// `vcvtps2ph` or, portably, round_to_half8 and the rounded value's bits rebiased (subnormals as exact integer
/// multiples of 2⁻²⁴; beyond the largest half, infinity; NaN quiet with its payload's top bits, as F16C).
static inline __attribute__((always_inline)) void narrow8(f32x8 x, uint16_t *p) {
#if defined(FLOAT_KERNELS_F16C)
    __m256 f;
    memcpy(&f, &x, sizeof f);
    const __m128i h = _mm256_cvtps_ph(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    memcpy(p, &h, sizeof h);
#else
    const f32x8 rounded = round_to_half8(x);
    u32x8 bits;
    memcpy(&bits, &rounded, sizeof bits);
    const u32x8 magnitude_bits = bits & 0x7FFFFFFFu;
    f32x8 magnitude;
    memcpy(&magnitude, &magnitude_bits, sizeof magnitude);
    const u32x8 normal = (magnitude_bits - 0x38000000u) >> 13;
    const u32x8 is_normal = (u32x8)(magnitude_bits >= 0x38800000u), is_special = (u32x8)(magnitude_bits >= 0x7F800000u);
    // Below 2⁻¹⁴ the value is a whole number of 2⁻²⁴ (lanes at or above it are zeroed first: no conversion overflows).
    const f32x8 small = select8((i32x8)~is_normal, magnitude, splat8(0));
    const u32x8 subnormal = (u32x8)__builtin_convertvector(small * 16777216.0f, i32x8);
    const u32x8 special = 0x7C00u | ((u32x8)(magnitude_bits > 0x7F800000u) & (0x200u | ((magnitude_bits >> 13) & 0x3FFu)));
    u32x8 h = (is_normal & normal) | (~is_normal & subnormal);
    h = (is_special & special) | (~is_special & h);
    h |= (bits >> 16) & 0x8000u;
    const u16x8 h16 = __builtin_convertvector(h, u16x8);
    memcpy(p, &h16, sizeof h16);
#endif
}

/// The largest of the eight lanes: halves compared, then quarters, then the last two.
static inline __attribute__((always_inline)) float largest8(f32x8 v) {
    float m4[4];
    for (int l = 0; l < 4; l++) m4[l] = v[l + 4] > v[l] ? v[l + 4] : v[l];
    const float m0 = m4[2] > m4[0] ? m4[2] : m4[0], m1 = m4[3] > m4[1] ? m4[3] : m4[1];
    return m1 >= m0 ? m1 : m0;
}

void FLOAT_KERNEL(softmax_prefix)(float *row, int64_t valid, int64_t n, int rounded_to_half) {
    const int64_t whole = valid & ~(int64_t)7;
    f32x8 mv = splat8(-INFINITY);
    for (int64_t i = 0; i < whole; i += 8) {
        const f32x8 v = load8(row + i);
        mv = select8(v > mv, v, mv);
    }
    float m = largest8(mv);
    for (int64_t j = whole; j < valid; j++) {
        if (row[j] > m) m = row[j];
    }
    mv = splat8(m);
    // Float sums over runs of at most 256 values (two accumulators, so that the additions' latency does not bound
    // the loop), each run's sums then added in double precision.
    f64x4 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    int64_t i = 0;
    while (i < whole) {
        const int64_t run_end = whole < i + 256 ? whole : i + 256;
        f32x8 f0 = {0}, f1 = {0};
        for (; i + 16 <= run_end; i += 16) {
            const f32x8 e0 = exp8(load8(row + i) - mv), e1 = exp8(load8(row + i + 8) - mv);
            store8(row + i, e0);
            store8(row + i + 8, e1);
            f0 += e0;
            f1 += e1;
        }
        if (i < run_end) {
            const f32x8 e = exp8(load8(row + i) - mv);
            store8(row + i, e);
            f0 += e;
            i += 8;
        }
        a0 += __builtin_convertvector(__builtin_shufflevector(f0, f0, 0, 1, 2, 3), f64x4);
        a1 += __builtin_convertvector(__builtin_shufflevector(f0, f0, 4, 5, 6, 7), f64x4);
        a2 += __builtin_convertvector(__builtin_shufflevector(f1, f1, 0, 1, 2, 3), f64x4);
        a3 += __builtin_convertvector(__builtin_shufflevector(f1, f1, 4, 5, 6, 7), f64x4);
    }
    const f64x4 total = (a0 + a1) + (a2 + a3);
    double sum = ((total[0] + total[1]) + total[2]) + total[3];
    for (int64_t j = whole; j < valid; j++) {
        const float e = expf(row[j] - m);
        row[j] = e;
        sum += (double)e;
    }
    const float inv = (float)(1 / sum);
    for (i = 0; i < whole; i += 8) {
        f32x8 v = load8(row + i) * inv;
        if (rounded_to_half) v = round_to_half8(v);
        store8(row + i, v);
    }
    for (int64_t j = whole; j < valid; j++) row[j] = rounded_to_half ? round_to_half1(row[j] * inv) : row[j] * inv;
    for (int64_t j = valid; j < n; j++) row[j] = 0;
}

void FLOAT_KERNEL(swiglu)(const float *gate, const float *up, int64_t count, float *out) {
    int64_t i = 0;
    for (; i + 8 <= count; i += 8) {
        const f32x8 g = load8(gate + i);
        store8(out + i, g / (1.0f + exp8(-g)) * load8(up + i));
    }
    for (; i < count; i++) out[i] = gate[i] / (1 + expf(-gate[i])) * up[i];
}

void FLOAT_KERNEL(exp)(const float *x, float *y, int64_t count) {
    int64_t i = 0;
    for (; i + 8 <= count; i += 8) store8(y + i, exp8(load8(x + i)));
    for (; i < count; i++) {
        f32x8 v = splat8(x[i]);
        y[i] = exp8(v)[0];
    }
}

void FLOAT_KERNEL(round_to_half)(float *x, int64_t count) {
    int64_t i = 0;
    for (; i + 8 <= count; i += 8) store8(x + i, round_to_half8(load8(x + i)));
    for (; i < count; i++) x[i] = round_to_half1(x[i]);
}

/// Eight values at row[i …] of a row of floats (`half` 0) or of binary16 bits (`half` 1), as floats. The kernels
/// below are written once over it: called with a constant `half`, each inlines to a float or a half version that do
/// the same operations in the same order, so half rows give the float rows' results bit for bit.
static inline __attribute__((always_inline)) f32x8 row8(const void *row, int64_t i, int half) {
    return half ? widen8((const uint16_t *)row + i) : load8((const float *)row + i);
}

/// The value at row[i], as row8.
static inline __attribute__((always_inline)) float row1(const void *row, int64_t i, int half) {
    return half ? widen1(((const uint16_t *)row)[i]) : ((const float *)row)[i];
}

static inline __attribute__((always_inline)) float dot_rows(const float *a, const void *b, int64_t count, int half) {
    f32x8 acc = {0};
    int64_t i = 0;
    for (; i + 8 <= count; i += 8) acc = acc + load8(a + i) * row8(b, i, half);
    float s = acc[0];
    for (int l = 1; l < 8; l++) s += acc[l];
    for (; i < count; i++) s += a[i] * row1(b, i, half);
    return s;
}

static inline __attribute__((always_inline)) void weighted_sum_rows(const float *weights, const void *rows, int64_t count,
                                                                    int64_t width, float *out, int half) {
    if (width == 64) {
        // Decoding's common case (d_head 64): the whole output row stays in eight vector registers.
        f32x8 acc[8] = {{0}};
        for (int64_t j = 0; j < count; j++) {
            const f32x8 w = splat8(weights[j]);
            for (int k = 0; k < 8; k++) acc[k] = acc[k] + w * row8(rows, j * 64 + 8 * k, half);
        }
        for (int k = 0; k < 8; k++) store8(out + 8 * k, acc[k]);
        return;
    }
    // Other widths: element-wise out[k] += w · row[k], eight at a time.
    for (int64_t k = 0; k < width; k++) out[k] = 0;
    for (int64_t j = 0; j < count; j++) {
        const float w = weights[j];
        int64_t k = 0;
        for (; k + 8 <= width; k += 8) store8(out + k, load8(out + k) + splat8(w) * row8(rows, j * width + k, half));
        for (; k < width; k++) out[k] += w * row1(rows, j * width + k, half);
    }
}

float FLOAT_KERNEL(dot)(const float *a, const float *b, int64_t count) { return dot_rows(a, b, count, 0); }

void FLOAT_KERNEL(weighted_sum)(const float *weights, const float *rows, int64_t count, int64_t width, float *out) {
    weighted_sum_rows(weights, rows, count, width, out, 0);
}

float FLOAT_KERNEL(dot_half)(const float *a, const uint16_t *b, int64_t count) { return dot_rows(a, b, count, 1); }

void FLOAT_KERNEL(weighted_sum_half)(const float *weights, const uint16_t *rows, int64_t count, int64_t width, float *out) {
    weighted_sum_rows(weights, rows, count, width, out, 1);
}

void FLOAT_KERNEL(widen_half)(const uint16_t *h, float *x, int64_t count) {
    int64_t i = 0;
    for (; i + 8 <= count; i += 8) store8(x + i, widen8(h + i));
    for (; i < count; i++) x[i] = widen1(h[i]);
}

void FLOAT_KERNEL(narrow_to_half)(const float *x, uint16_t *h, int64_t count) {
    int64_t i = 0;
    for (; i + 8 <= count; i += 8) narrow8(load8(x + i), h + i);
    for (; i < count; i++) {
        uint16_t lanes[8];
        narrow8(splat8(x[i]), lanes);
        h[i] = lanes[0];
    }
}

// Which tier runs: the CPU's features (cpuid, and xgetbv for the OS's support of the ymm/zmm state), the
// active tier (an atomic, set once from the best supported tier or by csimd_select_tier), and the entry point.
#include "CSIMD.h"
#include "FloatKernelsTiers.h"
#include "QuantizedProduct.h"

#include <stdatomic.h>

#if defined(__x86_64__)
#include <cpuid.h>

/// The operating system's enabled register state (XCR0).
static uint64_t enabled_state(void) {
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}

static int x86_supports(csimd_tier tier) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, f16c = (c >> 29) & 1;
    if (!osxsave || !avx || !f16c) return 0; // F16C: the float kernels' half conversions
    uint64_t xcr0 = enabled_state();
    if ((xcr0 & 0x6) != 0x6) return 0; // xmm and ymm state
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    int avx2 = (b >> 5) & 1;
    if (tier == CSIMD_TIER_AVX2) return avx2 && fma;
    int avx512f = (b >> 16) & 1, avx512bw = (b >> 30) & 1, avx512vl = (b >> 31) & 1, vnni = (c >> 11) & 1;
    int zmm_state = (xcr0 & 0xE6) == 0xE6; // opmask, upper halves of zmm0-15, zmm16-31
    return avx2 && fma && avx512f && avx512bw && avx512vl && vnni && zmm_state;
}
#endif

int csimd_tier_supported(csimd_tier tier) {
    switch (tier) {
    case CSIMD_TIER_PORTABLE: return 1;
#if defined(__x86_64__)
    case CSIMD_TIER_AVX2:
    case CSIMD_TIER_AVX512VNNI: return x86_supports(tier);
#endif
    default: return 0;
    }
}

csimd_tier csimd_best_tier(void) {
    for (int tier = CSIMD_TIER_COUNT - 1; tier > 0; tier--) {
        if (csimd_tier_supported((csimd_tier)tier)) return (csimd_tier)tier;
    }
    return CSIMD_TIER_PORTABLE;
}

/// The active tier, or -1 before the first use.
static _Atomic int active = -1;

csimd_tier csimd_active_tier(void) {
    int tier = atomic_load_explicit(&active, memory_order_relaxed);
    if (tier < 0) {
        tier = (int)csimd_best_tier();
        atomic_store_explicit(&active, tier, memory_order_relaxed);
    }
    return (csimd_tier)tier;
}

int csimd_select_tier(csimd_tier tier) {
    if ((int)tier < 0 || (int)tier >= CSIMD_TIER_COUNT || !csimd_tier_supported(tier)) return -1;
    atomic_store_explicit(&active, (int)tier, memory_order_relaxed);
    return 0;
}

void csimd_multiply_quantized(const csimd_quantized_matrix *w, const csimd_quantized_activations *x,
                              int64_t first_group, int64_t end_group, float *y, int accumulate) {
    switch (csimd_active_tier()) {
#if defined(__x86_64__)
    case CSIMD_TIER_AVX512VNNI: csimd_multiply_avx512vnni(w, x, first_group, end_group, y, accumulate); return;
    case CSIMD_TIER_AVX2: csimd_multiply_avx2(w, x, first_group, end_group, y, accumulate); return;
#endif
    default: csimd_multiply_portable(w, x, first_group, end_group, y, accumulate); return;
    }
}

/// The float kernels' implementation for the active tier: compiled for AVX-512, for AVX2 (with FMA and F16C), or
/// portable; all compute the same values.
#if defined(__x86_64__)
#define CSIMD_FLOAT_DISPATCH(name, ...)                                                                     \
    ({                                                                                                      \
        const csimd_tier tier = csimd_active_tier();                                                        \
        tier == CSIMD_TIER_AVX512VNNI ? csimd_avx512_##name(__VA_ARGS__)                                    \
        : tier == CSIMD_TIER_AVX2     ? csimd_fma_##name(__VA_ARGS__)                                       \
                                      : csimd_portable_##name(__VA_ARGS__);                                 \
    })
#else
#define CSIMD_FLOAT_DISPATCH(name, ...) csimd_portable_##name(__VA_ARGS__)
#endif

void csimd_softmax_prefix(float *row, int64_t valid, int64_t n, int rounded_to_half) {
    CSIMD_FLOAT_DISPATCH(softmax_prefix, row, valid, n, rounded_to_half);
}

void csimd_swiglu(const float *gate, const float *up, int64_t count, float *out) {
    CSIMD_FLOAT_DISPATCH(swiglu, gate, up, count, out);
}

void csimd_exp(const float *x, float *y, int64_t count) { CSIMD_FLOAT_DISPATCH(exp, x, y, count); }

void csimd_round_to_half(float *x, int64_t count) { CSIMD_FLOAT_DISPATCH(round_to_half, x, count); }

float csimd_dot(const float *a, const float *b, int64_t count) { return CSIMD_FLOAT_DISPATCH(dot, a, b, count); }

void csimd_weighted_sum(const float *weights, const float *rows, int64_t count, int64_t width, float *out) {
    CSIMD_FLOAT_DISPATCH(weighted_sum, weights, rows, count, width, out);
}

void csimd_widen_half(const uint16_t *h, float *x, int64_t count) { CSIMD_FLOAT_DISPATCH(widen_half, h, x, count); }

void csimd_narrow_to_half(const float *x, uint16_t *h, int64_t count) { CSIMD_FLOAT_DISPATCH(narrow_to_half, x, h, count); }

float csimd_dot_half(const float *a, const uint16_t *b, int64_t count) { return CSIMD_FLOAT_DISPATCH(dot_half, a, b, count); }

void csimd_weighted_sum_half(const float *weights, const uint16_t *rows, int64_t count, int64_t width, float *out) {
    CSIMD_FLOAT_DISPATCH(weighted_sum_half, weights, rows, count, width, out);
}

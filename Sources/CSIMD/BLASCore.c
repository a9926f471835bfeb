// OpenBLAS's kernels, re-chosen for this CPU where OpenBLAS fell back to its generic ones.
//
// OpenBLAS (a DYNAMIC_ARCH build, as Debian's) chooses its kernels once, when it loads, from the CPUs it knows.
// Debian 12's OpenBLAS 0.3.21 does not know newer Intel Xeons (seen: family 6, model 207, with AVX-512 and
// VNNI) and falls back to its SSE3 "Prescott" kernels: the float32 products of prefill attention ran at
// 31 GFLOP/s there against 94 with its SkylakeX kernels. Its variable OPENBLAS_CORETYPE overrides the choice
// but is read while the library loads, before main. csimd_fit_blas_core therefore asks OpenBLAS to choose again
// (its exported gotoblas_dynamic_quit and gotoblas_dynamic_init, found at run time, so that another BLAS or a
// build without them is left alone) with the core that fits the CPU's features — SkylakeX with AVX-512
// F/CD/BW/DQ/VL, Haswell with AVX2 and FMA — and only when OpenBLAS chose Prescott and the user set neither
// OPENBLAS_CORETYPE nor DAPQ_PROBE_BLAS_CORE=openblas. It runs as a constructor of the program that links this file,
// after OpenBLAS has initialised (a library initialises before the programs that use it) and before main, so that
// every computation of the process, and of every process on the same machine, uses the same kernels: a capture and
// its recomputation in another process must agree bit for bit.
#include "CSIMD.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#if defined(__x86_64__)
#include <cpuid.h>

/// The OpenBLAS core that fits this CPU, or NULL.
static const char *fitting_core(void) {
    if (!csimd_tier_supported(CSIMD_TIER_AVX2)) return NULL;
    unsigned a, b, c, d;
    if (csimd_tier_supported(CSIMD_TIER_AVX512VNNI) && __get_cpuid_count(7, 0, &a, &b, &c, &d) &&
        ((b >> 17) & 1) && ((b >> 28) & 1)) {
        return "SkylakeX"; // AVX512DQ and AVX512CD beside the tier's F, BW and VL
    }
    return "Haswell";
}
#else
static const char *fitting_core(void) { return NULL; }
#endif

const char *csimd_fit_blas_core(void) {
    if (getenv("OPENBLAS_CORETYPE") != NULL) return NULL;
    const char *choice = getenv("DAPQ_PROBE_BLAS_CORE");
    if (choice != NULL && strcmp(choice, "openblas") == 0) return NULL;
    char *(*corename)(void) = (char *(*)(void))dlsym(RTLD_DEFAULT, "openblas_get_corename");
    void (*quit)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "gotoblas_dynamic_quit");
    void (*init)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "gotoblas_dynamic_init");
    if (corename == NULL || quit == NULL || init == NULL) return NULL;
    const char *chosen = corename();
    const char *core = fitting_core();
    if (chosen == NULL || strcasecmp(chosen, "Prescott") != 0 || core == NULL) return NULL;
    setenv("OPENBLAS_CORETYPE", core, 1);
    quit();
    init();
    unsetenv("OPENBLAS_CORETYPE");
    return core;
}

__attribute__((constructor)) static void fit_blas_core_at_load(void) { (void)csimd_fit_blas_core(); }

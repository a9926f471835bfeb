// Software prefetch for the single-row (decoding) products, shared by every tier's kernels.
//
// A decoding step multiplies each weight matrix by one activation row: every weight byte is read once, from
// memory, in one sequential stream per thread, and the arithmetic per byte is small. The hardware prefetchers
// alone left a core waiting on memory (a 151936 × 1536 Q6_K matrix-vector product read 6 GB/s on one core of
// a 2-core Xeon, 11 GB/s with this prefetch; Qwen2.5-Coder-1.5B decoded 12 tokens/s, 18–19 with it). Each block
// of weights asks for the block CSIMD_PREFETCH_AHEAD bytes further on (2048–8192 measured alike; past a
// group's end that is the next group's data, which the same thread reads next). Prefetches never fault.
#ifndef CSIMD_PREFETCH_H
#define CSIMD_PREFETCH_H

#include <stdint.h>

enum { CSIMD_PREFETCH_AHEAD = 4096, CSIMD_CACHE_LINE = 64 };

/// Asks for the `bytes` bytes that start CSIMD_PREFETCH_AHEAD bytes after `block` (into all cache levels).
static inline __attribute__((always_inline)) void csimd_prefetch_ahead(const uint8_t *block, int bytes) {
    for (int line = 0; line < bytes; line += CSIMD_CACHE_LINE) __builtin_prefetch(block + CSIMD_PREFETCH_AHEAD + line, 0, 3);
}

#endif

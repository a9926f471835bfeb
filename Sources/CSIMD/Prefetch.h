// Software prefetch for the single-row (decoding) products, shared by every tier's kernels.
//
// A decoding step multiplies each weight matrix by one activation row: every weight byte is read once, from
// memory, in one sequential stream per thread, and the arithmetic per byte is small. The hardware prefetchers
// alone left a core waiting on memory (a 151936 × 1536 Q6_K matrix-vector product read 6 GB/s on one core of
// a 2-core Xeon, 11 GB/s with a prefetch into L1 4 KiB ahead). Each block of weights asks for the block
// CSIMD_PREFETCH_AHEAD bytes further on into the level-2 cache (`prefetcht2`), not level 1: on a 2-core AMD EPYC
// the L1 prefetch 4 KiB ahead decoded Qwen2.5-Coder-1.5B at 22–26 tokens/s, this one 8 KiB ahead at 27–31
// (16 KiB alike, 32 KiB no better; an L1 prefetch 16 KiB ahead was slower than 4 KiB, the lines pushing the
// activations out of L1). Past a group's end that is the next group's data, which the same thread reads next.
// Prefetches never fault.
#ifndef CSIMD_PREFETCH_H
#define CSIMD_PREFETCH_H

#include <stdint.h>

enum { CSIMD_PREFETCH_AHEAD = 8192, CSIMD_CACHE_LINE = 64 };

/// Asks for the `bytes` bytes that start CSIMD_PREFETCH_AHEAD bytes after `block`, into the level-2 cache
/// (locality 1: `prefetcht2` on x86; on other targets whatever the compiler maps it to).
static inline __attribute__((always_inline)) void csimd_prefetch_ahead(const uint8_t *block, int bytes) {
    for (int line = 0; line < bytes; line += CSIMD_CACHE_LINE) __builtin_prefetch(block + CSIMD_PREFETCH_AHEAD + line, 0, 1);
}

#endif

// The repacked K-quant layout (csimd_kquant_matrix): GGUF super-blocks decoded to their values, sub-block scales
// and minima, then laid out by groups of eight rows, quad-interleaved; and a row read back as float32. Plain C,
// run once at load (and for an embedding look-up), the same on every tier.
#include "KQuantProduct.h"

int64_t csimd_kquant_group_bytes(csimd_kquant_type type) { return csimd_kquant_layout_of(type).bytes; }

/// One GGUF super-block decoded: the 256 unsigned values, the sub-block scales (8 or 16) and minima (8), and
/// the float16 bits of d and dmin.
typedef struct {
    uint8_t values[256];
    uint8_t scales[16];
    uint8_t minima[8];
    uint8_t d[2], dmin[2];
} decoded_block;

/// ggml's get_scale_min_k4: the 6-bit scale and minimum of sub-block j (0…7) from 12 packed bytes.
static void scale_min_k4(int j, const uint8_t *packed, uint8_t *scale, uint8_t *minimum) {
    if (j < 4) {
        *scale = packed[j] & 63;
        *minimum = packed[j + 4] & 63;
    } else {
        *scale = (packed[j + 4] & 0xF) | ((packed[j - 4] >> 6) << 4);
        *minimum = (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4);
    }
}

/// Decodes one GGUF super-block of `type` (ggml's block_q4_K, block_q5_K, block_q6_K).
static void decode(csimd_kquant_type type, const uint8_t *p, decoded_block *k) {
    memset(k, 0, sizeof *k);
    if (type == CSIMD_Q6_K) {
        // ql[128] (low nibbles), qh[64] (2-bit high parts), int8 scales[16], d.
        for (int h = 0; h < 2; h++) {
            const uint8_t *low = p + 64 * h, *high = p + 128 + 32 * h;
            for (int l = 0; l < 32; l++) {
                k->values[128 * h + l] = (low[l] & 0xF) | ((high[l] & 3) << 4);
                k->values[128 * h + 32 + l] = (low[32 + l] & 0xF) | (((high[l] >> 2) & 3) << 4);
                k->values[128 * h + 64 + l] = (low[l] >> 4) | (((high[l] >> 4) & 3) << 4);
                k->values[128 * h + 96 + l] = (low[32 + l] >> 4) | (((high[l] >> 6) & 3) << 4);
            }
        }
        memcpy(k->scales, p + 192, 16);
        memcpy(k->d, p + 208, 2);
        return;
    }
    // d, dmin, 12 bytes of 6-bit scales and minima, [qh[32] for Q5_K], qs[128].
    memcpy(k->d, p, 2);
    memcpy(k->dmin, p + 2, 2);
    for (int j = 0; j < 8; j++) scale_min_k4(j, p + 4, &k->scales[j], &k->minima[j]);
    const int five = type == CSIMD_Q5_K;
    const uint8_t *qs = p + (five ? 48 : 16), *qh = p + 16;
    for (int j = 0; j < 4; j++) {
        for (int l = 0; l < 32; l++) {
            k->values[64 * j + l] = qs[32 * j + l] & 0xF;
            k->values[64 * j + 32 + l] = qs[32 * j + l] >> 4;
            if (five) {
                k->values[64 * j + l] |= ((qh[l] >> (2 * j)) & 1) << 4;
                k->values[64 * j + 32 + l] |= ((qh[l] >> (2 * j + 1)) & 1) << 4;
            }
        }
    }
}

void csimd_kquant_repack(csimd_kquant_type type, const uint8_t *gguf, int64_t rows, int64_t blocks, uint8_t *out) {
    const csimd_kquant_layout layout = csimd_kquant_layout_of(type);
    const int64_t block_bytes = csimd_kquant_block_bytes(type), groups = (rows + CSIMD_KQUANT_GROUP - 1) / CSIMD_KQUANT_GROUP;
    const int subblocks = type == CSIMD_Q6_K ? 16 : 8;
    memset(out, 0, (size_t)(groups * blocks * layout.bytes));
    decoded_block k;
    for (int64_t row = 0; row < rows; row++) {
        const int64_t g = row / CSIMD_KQUANT_GROUP;
        const int r = (int)(row % CSIMD_KQUANT_GROUP);
        for (int64_t b = 0; b < blocks; b++) {
            decode(type, gguf + (row * blocks + b) * block_bytes, &k);
            uint8_t *q = out + (g * blocks + b) * layout.bytes;
            if (type != CSIMD_Q5_K) {
                // Chunk c: the nibbles of quad c (low) and quad c + 32 (high).
                for (int c = 0; c < 32; c++) {
                    for (int j = 0; j < 4; j++) {
                        q[32 * c + 4 * r + j] = (uint8_t)((k.values[4 * c + j] & 0xF) | ((k.values[128 + 4 * c + j] & 0xF) << 4));
                    }
                }
                if (type == CSIMD_Q6_K) {
                    // Chunk h of the high plane: the two high bits of values 64k + 4h + j at bits 2k.
                    for (int h = 0; h < 16; h++) {
                        for (int j = 0; j < 4; j++) {
                            uint8_t byte = 0;
                            for (int part = 0; part < 4; part++) byte |= (uint8_t)((k.values[64 * part + 4 * h + j] >> 4) << (2 * part));
                            q[CSIMD_Q6K_HIGH_BITS + 32 * h + 4 * r + j] = byte;
                        }
                    }
                }
            } else {
                for (int c = 0; c < 64; c++) {
                    for (int j = 0; j < 4; j++) q[32 * c + 4 * r + j] = k.values[4 * c + j];
                }
            }
            for (int s = 0; s < subblocks; s++) q[layout.scales + 8 * s + r] = k.scales[s];
            memcpy(q + layout.d + 2 * r, k.d, 2);
            if (type != CSIMD_Q6_K) {
                for (int s = 0; s < 8; s++) q[layout.minima + 8 * s + r] = k.minima[s];
                memcpy(q + layout.dmin + 2 * r, k.dmin, 2);
            }
        }
    }
}

void csimd_kquant_dequantize_row(const csimd_kquant_matrix *w, int64_t row, float *out) {
    const csimd_kquant_layout layout = csimd_kquant_layout_of(w->type);
    const int64_t g = row / CSIMD_KQUANT_GROUP;
    const int r = (int)(row % CSIMD_KQUANT_GROUP);
    for (int64_t b = 0; b < w->blocks; b++) {
        const uint8_t *q = w->data + (g * w->blocks + b) * layout.bytes;
        float *y = out + b * CSIMD_KQUANT_BLOCK;
        const float d = csimd_half_to_float(q + layout.d + 2 * r);
        for (int v = 0; v < CSIMD_KQUANT_BLOCK; v++) {
            const uint8_t nibbles = q[32 * ((v % 128) / 4) + 4 * r + v % 4];
            const int nibble = v < 128 ? nibbles & 0xF : nibbles >> 4;
            if (w->type == CSIMD_Q6_K) {
                const int high = (q[CSIMD_Q6K_HIGH_BITS + 32 * ((v % 64) / 4) + 4 * r + v % 4] >> (2 * (v / 64))) & 3;
                const int value = nibble | high << 4;
                const float scale = (float)(int8_t)q[layout.scales + 8 * (v / 16) + r];
                y[v] = (d * scale) * (float)(value - 32);
                continue;
            }
            const int value = w->type == CSIMD_Q4_K ? nibble : q[32 * (v / 4) + 4 * r + v % 4];
            const float dmin = csimd_half_to_float(q + layout.dmin + 2 * r);
            const float scale = (float)q[layout.scales + 8 * (v / 32) + r];
            const float minimum = (float)q[layout.minima + 8 * (v / 32) + r];
            y[v] = (d * scale) * (float)value - dmin * minimum;
        }
    }
}

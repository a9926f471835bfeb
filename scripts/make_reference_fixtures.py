#!/usr/bin/env python3
"""An exact reference for the forward pass: SmolLM2 (llama architecture) in float64 NumPy.

Weights come from the GGUF through the `gguf` package's own `dequantize` (not our code, not llama.cpp's);
the math is written from the architecture's definition: RMSNorm, RoPE on adjacent pairs (llama.cpp's NORMAL
mode, the GGUF converter having permuted Q/K rows for it), grouped-query causal attention, SwiGLU, output
tied to the token embedding. Our runtime with `Numerics.float32` must reproduce these logits to float32
rounding; that pins down the forward pass independently of llama.cpp's 8-bit/float16 rounding.

Writes Tests/Fixtures/<name>/reference.json and reference/<i>.f32 (final-position logits, little-endian
float32) for the first prompts of logits.json.

Usage: python scripts/make_reference_fixtures.py --model M.gguf --name smollm2-135m --out Tests/Fixtures
"""
import argparse, json, os
import numpy as np
import gguf


def load(model):
    r = gguf.GGUFReader(model)
    tensors = {t.name: t for t in r.tensors}
    f = {k: v.contents() for k, v in r.fields.items() if not k.startswith("tokenizer.")}
    arch = f["general.architecture"]
    hp = dict(
        d=f[f"{arch}.embedding_length"], layers=f[f"{arch}.block_count"], heads=f[f"{arch}.attention.head_count"],
        kv=f[f"{arch}.attention.head_count_kv"], base=float(f[f"{arch}.rope.freq_base"]),
        eps=float(f[f"{arch}.attention.layer_norm_rms_epsilon"]))

    def weight(name):
        t = tensors[name]
        return np.asarray(gguf.quants.dequantize(t.data, t.tensor_type), dtype=np.float64)

    return hp, weight


def forward(hp, weight, ids):
    d, nh, nkv, n = hp["d"], hp["heads"], hp["kv"], len(ids)
    dh = d // nh
    emb = weight("token_embd.weight")
    x = emb[ids].copy()
    inv = hp["base"] ** (-np.arange(0, dh, 2) / dh)
    ang = np.arange(n)[:, None] * inv[None, :]
    cos, sin = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]

    def rope(v):
        a, b = v[..., 0::2], v[..., 1::2]
        out = np.empty_like(v)
        out[..., 0::2] = a * cos - b * sin
        out[..., 1::2] = a * sin + b * cos
        return out

    def rms(v, w):
        return v / np.sqrt((v * v).mean(-1, keepdims=True) + hp["eps"]) * w

    mask = np.triu(np.full((n, n), -np.inf), 1)
    for l in range(hp["layers"]):
        p = f"blk.{l}."
        h = rms(x, weight(p + "attn_norm.weight"))
        q = rope((h @ weight(p + "attn_q.weight").T).reshape(n, nh, dh))
        k = rope((h @ weight(p + "attn_k.weight").T).reshape(n, nkv, dh))
        v = (h @ weight(p + "attn_v.weight").T).reshape(n, nkv, dh)
        out = np.zeros((n, nh, dh))
        for head in range(nh):
            g = head // (nh // nkv)
            s = q[:, head] @ k[:, g].T / np.sqrt(dh) + mask
            s = np.exp(s - s.max(-1, keepdims=True))
            out[:, head] = (s / s.sum(-1, keepdims=True)) @ v[:, g]
        x = x + out.reshape(n, d) @ weight(p + "attn_output.weight").T
        h = rms(x, weight(p + "ffn_norm.weight"))
        gate, up = h @ weight(p + "ffn_gate.weight").T, h @ weight(p + "ffn_up.weight").T
        x = x + (gate / (1 + np.exp(-gate)) * up) @ weight(p + "ffn_down.weight").T
    return emb @ rms(x[-1], weight("output_norm.weight"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--name", default="smollm2-135m")
    ap.add_argument("--out", default="Tests/Fixtures")
    ap.add_argument("--count", type=int, default=2)
    a = ap.parse_args()
    out = os.path.join(a.out, a.name)
    os.makedirs(os.path.join(out, "reference"), exist_ok=True)
    prompts = json.load(open(os.path.join(out, "logits.json")))["prompts"][: a.count]
    hp, weight = load(a.model)
    entries = []
    for i, p in enumerate(prompts):
        logits = forward(hp, weight, p["token_ids"])
        path = f"reference/{i}.f32"
        logits.astype("<f4").tofile(os.path.join(out, path))
        entries.append({"token_ids": p["token_ids"], "file": path, "top1": int(logits.argmax())})
        print(f"{len(p['token_ids'])} tokens: top-1 {int(logits.argmax())}")
    with open(os.path.join(out, "reference.json"), "w") as fh:
        json.dump({"generator": "scripts/make_reference_fixtures.py", "arithmetic": "float64 NumPy, weights from gguf.quants.dequantize",
                   "gguf_py_version": getattr(gguf, "__version__", "?"), "prompts": entries}, fh, indent=1)


if __name__ == "__main__":
    main()

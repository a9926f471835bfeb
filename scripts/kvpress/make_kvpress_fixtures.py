#!/usr/bin/env python3
"""kvpress side of the eviction-policy cross-check (issue 10).

Runs NVIDIA's kvpress presses SnapKVPress, StreamingLLMPress, TOVAPress and ExpectedAttentionPress, each with
its default settings, on SmolLM2-135M-Instruct (the project's GGUF, loaded by `transformers` and dequantized to
float32), for two prompts whose token ids come from OUR tokenizer (`dapq-probe tokenize --json`, fed to the
model as input_ids, never re-tokenized by HF), at two budgets (64 and 128 kept entries per layer and KV head).
It records which prompt positions every (layer, KV head) keeps after each press, read from the compressed cache
itself (each kept key vector is matched to the position it came from), and the raw scores the press computed.

It then re-derives every selection with an independent float64 NumPy implementation of the four scorings (from
the layer inputs captured by a hook, the projection weights and a RoPE written here) and prints the per-press
mean Jaccard between the NumPy and the kvpress selections. The math is written out in scripts/kvpress/README.md.

Writes Tests/Fixtures/kvpress/: prompts/<p>.txt, prompts/<p>.ids.i32, kept/<p>_<press>_b<B>.i16, scores/...,
meta.json. Run from the repository root in .cache/venv-kvpress (scripts/kvpress/venv.sh builds it), or
`make kvpress-fixtures`.
"""
import argparse
import dataclasses
import hashlib
import json
import math
import os
import subprocess
import sys
import time

os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import AutoModelForCausalLM, DynamicCache  # noqa: E402

import kvpress  # noqa: E402
from kvpress import ExpectedAttentionPress, SnapKVPress, StreamingLLMPress, TOVAPress  # noqa: E402
from kvpress.utils import compute_n_kept  # noqa: E402

BUDGETS = (64, 128)
PRESSES = {  # our policy name -> kvpress class (default settings; only compression_ratio is set)
    "snapkv": SnapKVPress,
    "streaming": StreamingLLMPress,
    "tova": TOVAPress,
    "expected": ExpectedAttentionPress,
}
SCORE_PROMPTS = ("essay",)  # raw scores are committed for these prompts only (size)
SCORE_PRESSES = ("snapkv", "tova", "expected")  # streaming's scores are 0/1 by construction

ESSAY_FILE = "addiction.txt"
ESSAY_CHARS = 2576  # the essay's first 2,576 characters, ending at "... what works best."
ESSAY_QUESTION = ("\n\nQuestion: According to the essay, what process both cures diseases and makes things more "
                  "addictive?\nAnswer:")
CHAT_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
CHAT_USER = (
    "I keep a small vegetable garden behind my house. This year I planted tomatoes, peppers, zucchini, two rows "
    "of carrots, some lettuce and a few sunflowers along the fence. In June the tomatoes grew very fast, but in "
    "July many of the lower leaves turned yellow with brown spots, and the spots slowly moved up the plants. The "
    "peppers look healthy, although they have produced only a handful of fruits. The zucchini plants are huge and "
    "give more than we can eat; their leaves have a white powder on them since the weather became humid. The "
    "carrots were sown in April and May, and the first row is ready, but many roots are forked or split. I water "
    "everything in the evening with a sprinkler, about twenty minutes every second day, and I added compost in "
    "spring. The soil is heavy and holds water after rain. My neighbour grows the same vegetables in raised beds "
    "filled with sandy soil and a drip line, and her tomatoes and zucchini have none of these problems, although "
    "her garden gets less sun than mine in the afternoon. Last year I grew potatoes where the tomatoes are now.\n\n"
    "Could you tell me what is probably wrong with the tomatoes and the zucchini, why the carrots are forked, "
    "and what I should change next year? Please answer in a short list.")


def chat_text():
    # SmolLM2-Instruct's ChatML layout with the generation prompt, written out (no template engine needed)
    return (f"<|im_start|>system\n{CHAT_SYSTEM}<|im_end|>\n"
            f"<|im_start|>user\n{CHAT_USER}<|im_end|>\n<|im_start|>assistant\n")


def tokenize(cli, model, text):
    out = subprocess.run([cli, "tokenize", "--model", model, "--json", "--text", text],
                         check=True, capture_output=True, text=True).stdout
    return [int(t["id"]) for t in json.loads(out)]


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def ratio_for_budget(n, budget):
    """A compression_ratio whose n_kept = int(n * (1 - ratio)) is exactly `budget` (no float truncation)."""
    r = 1.0 - (budget + 0.5) / n
    assert compute_n_kept(n, r) == budget, (n, budget, r)
    return r


# ---------------------------------------------------------------------------------------------------------------
# kvpress runs, with the selection read back from the compressed cache
# ---------------------------------------------------------------------------------------------------------------

class Recorder:
    """Wraps a press instance's `score` and `compress` to record per layer the raw scores, the full layer inputs
    and K/V, and the kept positions (matched exactly from the compressed keys)."""

    def __init__(self, press, capture_inputs=False):
        self.press, self.capture_inputs = press, capture_inputs
        self.scores, self.kept, self.inputs = {}, {}, {}
        self._orig_score, self._orig_compress = press.score, press.compress
        press.score = self.score
        press.compress = self.compress

    def score(self, module, hidden_states, keys, values, attentions, kwargs):
        s = self._orig_score(module, hidden_states, keys, values, attentions, kwargs)
        self.scores[module.layer_idx] = s[0].detach().float().clone()
        return s

    def compress(self, module, hidden_states, keys, values, attentions, kwargs):
        full_k = keys[0].detach().clone()
        if self.capture_inputs:
            self.inputs[module.layer_idx] = dict(
                h=hidden_states[0].detach().double().numpy().copy(),
                k=keys[0].detach().double().numpy().copy(),
                v=values[0].detach().double().numpy().copy(),
                attn_given=attentions is not None)
        ck, cv = self._orig_compress(module, hidden_states, keys, values, attentions, kwargs)
        kept = []
        for g in range(full_k.shape[0]):
            eq = (ck[0, g][:, None, :] == full_k[g][None, :, :]).all(-1)  # [kept, n]
            assert bool((eq.sum(-1) == 1).all()), "a kept key matches no (or several) prompt positions"
            kept.append(sorted(int(i) for i in eq.float().argmax(-1)))
        self.kept[module.layer_idx] = kept
        return ck, cv


def run_press(model, ids, press, capture_inputs=False):
    rec = Recorder(press, capture_inputs)
    with torch.inference_mode(), press(model):
        model(input_ids=torch.tensor([ids]), past_key_values=DynamicCache(config=model.config), use_cache=True)
    return rec


# ---------------------------------------------------------------------------------------------------------------
# Independent NumPy (float64) re-implementation of the four scorings
# ---------------------------------------------------------------------------------------------------------------

class NumpyLayer:
    def __init__(self, attn, h, theta):
        self.H = attn.config.num_attention_heads
        self.G = attn.config.num_key_value_heads
        self.d = attn.head_dim
        self.rep = self.H // self.G
        self.n = h.shape[0]
        self.theta = theta

        def proj(lin, heads):
            w = lin.weight.detach().double().numpy()
            y = h @ w.T
            if lin.bias is not None:
                y = y + lin.bias.detach().double().numpy()
            return y.reshape(self.n, heads, self.d).transpose(1, 0, 2)  # [heads, n, d]

        self.q = proj(attn.q_proj, self.H)  # pre-RoPE
        self.k_pre = proj(attn.k_proj, self.G)
        self.v = proj(attn.v_proj, self.G)
        self.k = self.rope(self.k_pre, np.arange(self.n))

    def angles(self, positions):
        inv = self.theta ** (-np.arange(0, self.d, 2, dtype=np.float64) / self.d)  # [d/2]
        return np.asarray(positions, dtype=np.float64)[:, None] * inv[None, :]  # [P, d/2]

    def rope(self, x, positions):
        """NEOX layout (the one transformers' GGUF loader produces): dimension i pairs with i + d/2."""
        a = self.angles(positions)
        c, s = np.cos(a), np.sin(a)
        x1, x2 = x[..., : self.d // 2], x[..., self.d // 2:]
        return np.concatenate([x1 * c - x2 * s, x1 * s + x2 * c], axis=-1)

    def probs(self, q_rot, q_pos):
        """softmax over keys 0..n-1 (causal: key j <= query position) of q.k/sqrt(d); [H, P, n]."""
        kk = np.repeat(self.k, self.rep, axis=0)  # head h reads KV head h // rep
        z = np.einsum("hpd,hjd->hpj", q_rot, kk) / math.sqrt(self.d)
        z = np.where(np.arange(self.n)[None, None, :] <= np.asarray(q_pos)[None, :, None], z, -np.inf)
        z = z - z.max(-1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(-1, keepdims=True)

    def snapkv(self, window=64, kernel=5):
        n, w = self.n, window
        pos = np.arange(n - w, n)
        p = self.probs(self.rope(self.q[:, n - w:], pos), pos)[:, :, : n - w]  # [H, w, n-w]
        s = p.mean(1)  # mean over the window's queries, [H, n-w]
        pad = kernel // 2
        sp = np.pad(s, ((0, 0), (pad, pad)))
        pooled = sum(sp[:, t: t + n - w] for t in range(kernel)) / kernel  # zero padding counted in the mean
        g = pooled.reshape(self.G, self.rep, n - w).mean(1)
        return np.concatenate([g, np.full((self.G, w), g.max() + 1)], axis=1)

    def streaming(self, budget, n_sink=4):
        s = np.ones((self.G, self.n))
        s[:, n_sink: n_sink + (self.n - budget)] = 0
        return s

    def tova(self):
        n = self.n
        p = self.probs(self.rope(self.q[:, n - 1:], [n - 1]), [n - 1])[:, 0, : n - 1]  # [H, n-1]
        s = np.tile(p.mean(0), (self.G, 1))  # mean over ALL query heads, same for every KV head
        return np.concatenate([s, np.full((self.G, 1), s.max() + 1)], axis=1)

    def expected(self, n_future=512, n_sink=4):
        n, d = self.n, self.d
        q = self.q[:, n_sink:]  # pre-RoPE queries of positions n_sink..n-1, [H, N, d]
        mu = q.mean(1)
        qc = q - mu[:, None]
        cov = np.einsum("hni,hnj->hij", qc, qc) / q.shape[1]
        # mean rotation over positions n .. n+n_future-1, built as explicit 2x2 rotations of pairs (i, i+d/2)
        a = self.angles(np.arange(n, n + n_future))
        c, s = np.cos(a).mean(0), np.sin(a).mean(0)
        R = np.zeros((d, d))
        i = np.arange(d // 2)
        R[i, i], R[i, i + d // 2], R[i + d // 2, i], R[i + d // 2, i + d // 2] = c, -s, s, c
        mu_r = mu @ R.T
        cov_r = np.einsum("ij,hjk,lk->hil", R, cov, R)
        k = np.repeat(self.k[:, n_sink:], self.rep, axis=0)  # [H, N, d]
        z = np.einsum("hd,hjd->hj", mu_r, k) / math.sqrt(d) + np.einsum("hjd,hde,hje->hj", k, cov_r, k) / d / 2
        z = z - z.max(-1, keepdims=True)
        p = np.exp(z)
        p = p / p.sum(-1, keepdims=True)
        g = p.reshape(self.G, self.rep, -1).mean(1) * np.linalg.norm(self.v[:, n_sink:], axis=-1)
        return np.concatenate([np.full((self.G, n_sink), g.max() + 1), g], axis=1)


def top_b(scores, budget):
    """Highest `budget` scores per row; ties to the lower position (stable sort)."""
    return [sorted(np.argsort(-row, kind="stable")[:budget].tolist()) for row in scores]


def jaccard(a, b):
    a, b = set(a), set(b)
    return len(a & b) / len(a | b)


# ---------------------------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=".cache/models/SmolLM2-135M-Instruct.Q4_1.gguf")
    ap.add_argument("--corpus", default=".cache/corpus/PaulGrahamEssays")
    ap.add_argument("--cli", default=".build/release/dapq-probe",
                    help="our CLI, for the token ids (`make build`, or any release build of dapq-probe)")
    ap.add_argument("--out", default="Tests/Fixtures/kvpress")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    transformers.utils.logging.disable_progress_bar()
    t0 = time.time()

    with open(os.path.join(args.corpus, ESSAY_FILE), encoding="utf-8") as f:
        essay = f.read()[:ESSAY_CHARS] + ESSAY_QUESTION
    prompts = {"essay": essay, "chat": chat_text()}
    ids = {name: tokenize(args.cli, args.model, text) for name, text in prompts.items()}
    for name in prompts:
        print(f"prompt {name}: {len(ids[name])} tokens")

    model_dir, model_file = os.path.split(os.path.abspath(args.model))
    model = AutoModelForCausalLM.from_pretrained(model_dir, gguf_file=model_file, dtype=torch.float32)
    model.eval()
    cfg = model.config
    L, G = cfg.num_hidden_layers, cfg.num_key_value_heads
    theta = float(cfg.rope_parameters["rope_theta"]) if getattr(cfg, "rope_parameters", None) else float(cfg.rope_theta)
    assert (getattr(cfg, "rope_parameters", None) or {}).get("rope_type", "default") == "default"
    assert float(model.model.rotary_emb.attention_scaling) == 1.0

    os.makedirs(os.path.join(args.out, "prompts"), exist_ok=True)
    os.makedirs(os.path.join(args.out, "kept"), exist_ok=True)
    os.makedirs(os.path.join(args.out, "scores"), exist_ok=True)

    meta = dict(
        description=("kvpress selections on SmolLM2-135M-Instruct Q4_1 (transformers GGUF loader, float32). "
                     "kept/*.i16: int16 little-endian [layer, kv_head, budget], each row the sorted prompt "
                     "positions a press keeps; scores/*.f16: float16 little-endian [layer, kv_head, n_prompt], "
                     "the raw scores the press computed (its top-k by score is the selection). "
                     "See scripts/kvpress/README.md for the formulas."),
        generator="scripts/kvpress/make_kvpress_fixtures.py",
        versions=dict(kvpress=kvpress.__version__ if hasattr(kvpress, "__version__") else "0.5.5",
                      transformers=transformers.__version__, torch=torch.__version__, numpy=np.__version__,
                      python=sys.version.split()[0]),
        model=dict(file=os.path.basename(args.model), sha256=sha256(args.model), dtype="float32",
                   attn_implementation=cfg._attn_implementation, n_layers=L, n_heads=cfg.num_attention_heads,
                   n_kv_heads=G, d_head=model.model.layers[0].self_attn.head_dim, rope_theta=theta,
                   rope_layout_in_transformers="neox (GGUF loader un-permutes Q/K); positions are unaffected"),
        layout=dict(kept="int16 LE [n_layers, n_kv_heads, budget], sorted ascending",
                    scores="float16 LE [n_layers, n_kv_heads, n_prompt]", ids="int32 LE [n_prompt]"),
        prompts={}, cases=[], numpy_check={})

    for name, text in prompts.items():
        with open(os.path.join(args.out, "prompts", f"{name}.txt"), "w", encoding="utf-8") as f:
            f.write(text)
        np.asarray(ids[name], dtype="<i4").tofile(os.path.join(args.out, "prompts", f"{name}.ids.i32"))
        src = (f"{ESSAY_FILE}[:{ESSAY_CHARS}] (characters) + question" if name == "essay"
               else "ChatML system + user message with the assistant generation prompt")
        meta["prompts"][name] = dict(text=f"prompts/{name}.txt", ids=f"prompts/{name}.ids.i32",
                                     n=len(ids[name]), source=src,
                                     tokenizer="dapq-probe tokenize --json (no BOS added)")

    jac = {p: [] for p in PRESSES}
    for name in prompts:
        n = len(ids[name])
        numpy_layers = None
        for pname, cls in PRESSES.items():
            np_scores_cache = None
            for budget in BUDGETS:
                ratio = ratio_for_budget(n, budget)
                press = cls(compression_ratio=ratio)
                settings = dataclasses.asdict(press)
                rec = run_press(model, ids[name], press, capture_inputs=numpy_layers is None)
                if numpy_layers is None:
                    assert not any(v["attn_given"] for v in rec.inputs.values())
                    numpy_layers = []
                    for l in range(L):
                        attn = model.model.layers[l].self_attn
                        nl = NumpyLayer(attn, rec.inputs[l]["h"], theta)
                        kd = np.abs(nl.k - rec.inputs[l]["k"]).max()
                        vd = np.abs(nl.v - rec.inputs[l]["v"]).max()
                        assert kd < 1e-3 and vd < 1e-3, (l, kd, vd)
                        numpy_layers.append(nl)
                kept = np.asarray([rec.kept[l] for l in range(L)], dtype="<i2")  # [L, G, B]
                assert kept.shape == (L, G, budget), kept.shape
                fname = f"kept/{name}_{pname}_b{budget}.i16"
                kept.tofile(os.path.join(args.out, fname))
                sc = torch.stack([rec.scores[l] for l in range(L)]).numpy()  # [L, G, n]
                score_file = None
                if name in SCORE_PROMPTS and pname in SCORE_PRESSES and budget == BUDGETS[0]:
                    score_file = f"scores/{name}_{pname}.f16"
                    sc.astype("<f2").tofile(os.path.join(args.out, score_file))

                # NumPy re-derivation
                if pname == "streaming":
                    np_scores = [numpy_layers[l].streaming(budget, press.n_sink) for l in range(L)]
                elif np_scores_cache is None:
                    if pname == "snapkv":
                        fn = lambda nl: nl.snapkv(press.window_size, press.kernel_size)  # noqa: E731
                    elif pname == "tova":
                        fn = lambda nl: nl.tova()  # noqa: E731
                    else:
                        fn = lambda nl: nl.expected(press.n_future_positions, press.n_sink)  # noqa: E731
                    np_scores = np_scores_cache = [fn(nl) for nl in numpy_layers]
                else:
                    np_scores = np_scores_cache
                js = [jaccard(top_b(np_scores[l], budget)[g], rec.kept[l][g]) for l in range(L) for g in range(G)]
                jac[pname].extend(js)
                ref = np.stack(np_scores)
                body = ref < ref.max(-1, keepdims=True)  # exclude the max+1 padding of protected entries
                scale = float(np.abs(ref[body]).max()) if body.any() else 0.0
                rel = float(np.abs(sc - ref)[body].max()) / scale if scale > 0 else 0.0
                print(f"{name:5s} {pname:9s} B={budget:3d} ratio={ratio:.6f} kept/head={budget} "
                      f"numpy-vs-kvpress Jaccard mean={np.mean(js):.4f} min={np.min(js):.4f} "
                      f"max|dscore|/max|score|={rel:.2e}", flush=True)
                meta["cases"].append(dict(
                    prompt=name, press=pname, kvpress_class=cls.__name__, n_prompt=n, budget=budget,
                    compression_ratio=ratio, settings=settings,
                    conventions=conventions(pname), n_kept=[[len(rec.kept[l][g]) for g in range(G)] for l in range(L)],
                    kept=fname, scores=score_file,
                    numpy_jaccard_mean=float(np.mean(js)), numpy_jaccard_min=float(np.min(js)),
                    numpy_score_max_rel_diff=rel))
    meta["numpy_check"] = {p: dict(mean_jaccard=float(np.mean(v)), min_jaccard=float(np.min(v)))
                           for p, v in jac.items()}
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    print("numpy vs kvpress, mean Jaccard over prompts, budgets, layers, KV heads:",
          {p: round(v["mean_jaccard"], 4) for p, v in meta["numpy_check"].items()})
    print(f"done in {time.time() - t0:.0f} s")


def conventions(pname):
    """The fixed conventions of each press in kvpress 0.5.5 that are not dataclass fields."""
    return {
        "snapkv": dict(queries="last window_size prompt positions, post-RoPE", softmax="over all keys 0..n-1 "
                       "(causal), then the last window_size key columns dropped", window_reduce="mean",
                       pooling="avg_pool1d, zero padding kernel_size//2 each side, counted in the mean",
                       group="mean over the query heads of the KV head's group (after pooling)",
                       protected="last window_size positions get max(score)+1", select="topk"),
        "streaming": dict(protected="first n_sink positions and the last n_kept - n_sink positions",
                          select="topk of 1/0 scores (exactly n_kept ones)"),
        "tova": dict(queries="last prompt position only, post-RoPE", softmax="over all keys 0..n-1, then the "
                     "last key column dropped", group="mean over ALL query heads; every KV head gets the same "
                     "scores", protected="last position gets max(score)+1", select="topk"),
        "expected": dict(queries="pre-RoPE queries of positions n_sink..n-1 (layer input after RMSNorm)",
                         statistics="per query head: mean, covariance / N (biased)",
                         rotation="mean of the RoPE matrices of positions n..n+n_future_positions-1",
                         score="softmax_j(mu'.k_j/sqrt(d) + k_j^T cov' k_j/(2d)) over keys n_sink..n-1, mean over "
                         "the group, times ||v_j||_2", protected="first n_sink positions get max(score)+1",
                         select="topk"),
    }[pname]


if __name__ == "__main__":
    main()

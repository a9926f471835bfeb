"""Checks a `dapq-probe compress` file from outside our code (h5py + NumPy): the schema, and every stored number
that can be recomputed: kept entries per (layer, KV head) against the budget, cache bytes against
B x layers x KV heads x d_head x 2 x 4, agreement against the stored answers; every policy setting recorded; with the
question outside (question_tokens q > 0), the last q prompt positions held by every cell. Prints "compress OK" last."""
import math
import sys

import h5py
import numpy as np

from checks import COMMON_ROOT_ATTRIBUTES, check, fail, kv_value_bytes


def main(path):
    with h5py.File(path, "r") as f:
        for name in COMMON_ROOT_ATTRIBUTES:
            check(name in f.attrs, f"root attribute {name} missing")
        check(f.attrs["schema"] == "dapq-probe/compress", "schema")
        check(int(f.attrs["complete"]) == 1, "complete")
        n = int(f.attrs["n_prompt"])
        L, G, d = (int(f.attrs[k]) for k in ("n_layers", "n_kv_heads", "d_head"))
        value_bytes = kv_value_bytes(f.attrs)
        max_tokens = int(f.attrs["max_tokens"])
        for name in ("window", "pool_kernel", "pseudo_content", "pseudo_position", "pseudo_far_offset", "expected_covariance",
                     "expected_value_norm", "expected_epsilon", "question_placement", "question_tokens"):
            check(name in f.attrs, f"setting {name} missing")
        q = int(f.attrs["question_tokens"])
        placement = f.attrs["question_placement"]
        placement = placement.decode() if isinstance(placement, bytes) else placement
        check((placement == "outside") == (q > 0), f"question_placement {placement} with {q} question tokens")
        check(f["tokens/prompt"].shape == (n,), "tokens/prompt shape")
        full = f["tokens/full"][()]
        policies = [p.decode() if isinstance(p, bytes) else p for p in f["cells/policy"][()]]
        budgets = list(f["cells/budget_spec"].asstr()[()])
        asked = f["cells/budget"][()]
        entries = f["cells/entries"][()]
        check(asked.dtype == np.int64 and entries.dtype == np.int64, "cells/budget and cells/entries are not int64")
        for spec, b in zip(budgets, asked):
            # The budget in entries: as given, or a percentage of n rounded half up (at least 1, at most n).
            expected = min(n, max(1, math.floor(float(spec[:-1]) / 100 * n + 0.5))) if spec.endswith("%") else min(int(spec), n)
            check(b == expected, f"budget {spec}: cells/budget {b}, expected {expected}")
        cache_bytes = f["cells/cache_bytes"][()]
        final_bytes = f["cells/final_cache_bytes"][()]
        agreement = f["cells/agreement"][()]
        tokens = f["cells/tokens"][()]
        n_generated = f["cells/n_generated"][()]
        check(tokens.shape == (len(policies), max_tokens), "cells/tokens shape")
        entry_bytes = L * G * d * 2 * value_bytes
        for i, (policy, budget) in enumerate(zip(policies, budgets)):
            kept = f[f"kept/{policy}_{budget}"][()]
            check(kept.shape[:2] == (L, G), f"{policy} {budget}: kept shape {kept.shape}")
            counts = (kept >= 0).sum(axis=2)
            for l in range(L):
                for g in range(G):
                    row = kept[l, g][kept[l, g] >= 0]
                    check(np.all(np.diff(row) > 0), f"{policy} {budget}: layer {l} head {g} not ascending")
                    check(row.size == 0 or (row[0] >= 0 and row[-1] < n), f"{policy} {budget}: positions out of range")
                    if q > 0:
                        check(np.array_equal(row[-q:], np.arange(n - q, n)), f"{policy} {budget}: the question is not held whole")
            if policy == "pyramidkv":
                check(counts.sum() == entries[i] * L * G, f"pyramidkv {budget}: mean budget {counts.mean()} != {entries[i]}")
            else:
                check(np.all(counts == entries[i]), f"{policy} {budget}: not exactly {entries[i]} per (layer, KV head)")
            check(cache_bytes[i] == counts.sum() * d * 2 * value_bytes, f"{policy} {budget}: cache_bytes {cache_bytes[i]}")
            check(cache_bytes[i] == entries[i] * entry_bytes, f"{policy} {budget}: cache_bytes != B x L x G x d x 2 x value bytes")
            answer = tokens[i][tokens[i] >= 0]
            check(answer.size == n_generated[i], f"{policy} {budget}: n_generated")
            fed = answer.size - (1 if answer.size == max_tokens else 0)
            check(final_bytes[i] == cache_bytes[i] + fed * entry_bytes, f"{policy} {budget}: final_cache_bytes")
            longest = max(answer.size, full.size)
            same = sum(1 for a, b in zip(answer, full) if a == b)
            expected = 1.0 if longest == 0 else same / longest
            check(abs(agreement[i] - expected) < 1e-12, f"{policy} {budget}: agreement {agreement[i]} != {expected}")
    if q > 0:
        print(f"question outside: {q} tokens held by every cell")
    print("compress OK")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        fail("usage: check_compress.py FILE.h5")
    main(sys.argv[1])

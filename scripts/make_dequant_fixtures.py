#!/usr/bin/env python3
"""Build an independent dequantization / GGUF-parsing reference fixture.

Writes
  <out>/types.gguf       one small GGUF file: one 2-D tensor per ggml type
                         (raw random block bytes) + metadata keys of every
                         GGUF value type
  <out>/<tensor>.f32     expected dequantized values of each tensor, raw
                         little-endian float32, row-major (ne1 rows of ne0)
  <out>/expected.json    tensor list (name, type, shape in GGUF order
                         [ne0, ne1], byte sizes, values file, a few sample
                         values) and the metadata expectations

The expected values come from `gguf.quants.dequantize` (the reference numpy
implementation shipped with llama.cpp's gguf-py), NOT from our Swift code.

Usage (from the repo root):
  /work/cache/llamavenv/bin/python scripts/make_dequant_fixtures.py \
      --out Tests/Fixtures/dequant
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import struct
import sys

import numpy as np

import gguf
from gguf import GGMLQuantizationType as T
from gguf import GGUFValueType as V
from gguf.constants import GGML_QUANT_SIZES
from gguf.quants import dequantize

SEED = 20240611
ROWS = 2
COLS = 512  # multiple of 256 so that the K-quants fit

# Byte offsets (inside one block) of the f16 scale fields of each block type.
# ggml layouts (ggml-common.h):
#   Q4_0  {f16 d; u8 qs[16]}                       18 B / 32
#   Q4_1  {f16 d; f16 m; u8 qs[16]}                20 B / 32
#   Q5_0  {f16 d; u8 qh[4]; u8 qs[16]}             22 B / 32
#   Q5_1  {f16 d; f16 m; u8 qh[4]; u8 qs[16]}      24 B / 32
#   Q8_0  {f16 d; i8 qs[32]}                       34 B / 32
#   Q4_K  {f16 d; f16 dmin; u8 scales[12]; u8 qs[128]}               144 B / 256
#   Q5_K  {f16 d; f16 dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]}    176 B / 256
#   Q6_K  {u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d}              210 B / 256
F16_FIELDS = {
    T.Q4_0: [0],
    T.Q4_1: [0, 2],
    T.Q5_0: [0],
    T.Q5_1: [0, 2],
    T.Q8_0: [0],
    T.Q4_K: [0, 2],
    T.Q5_K: [0, 2],
    T.Q6_K: [208],
}

TYPES = [T.F32, T.F16, T.BF16, T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1,
         T.Q4_K, T.Q5_K, T.Q6_K]


def make_raw(rng: np.random.Generator, qtype: T) -> np.ndarray:
    """Random raw bytes of shape (ROWS, bytes_per_row), dtype uint8, all finite."""
    block_size, type_size = GGML_QUANT_SIZES[qtype]
    n = ROWS * COLS
    if qtype == T.F32:
        v = rng.uniform(-4.0, 4.0, n).astype(np.float32)
        v[:6] = np.array([0.0, -0.0, 1.0, -1.0, 1e-40, 1.0e30], dtype=np.float32)  # incl. a subnormal
        return v.view(np.uint8).reshape(ROWS, -1)
    if qtype == T.F16:
        v = rng.uniform(-4.0, 4.0, n).astype(np.float16)
        # edge values: +-0, smallest subnormal, a subnormal, largest finite, smallest normal
        edge = np.array([0x0000, 0x8000, 0x0001, 0x83FF, 0x7BFF, 0xFBFF, 0x0400, 0x3C00],
                        dtype=np.uint16).view(np.float16)
        v[:len(edge)] = edge
        assert np.all(np.isfinite(v))
        return v.view(np.uint8).reshape(ROWS, -1)
    if qtype == T.BF16:
        f = rng.uniform(-4.0, 4.0, n).astype(np.float32)
        b = (f.view(np.uint32) >> 16).astype(np.uint16)  # truncate to bf16 bits
        edge = np.array([0x0000, 0x8000, 0x0001, 0x7F7F, 0xFF7F, 0x3F80, 0xBF80], dtype=np.uint16)
        b[:len(edge)] = edge
        assert np.all(np.isfinite((b.astype(np.uint32) << 16).view(np.float32)))
        return b.view(np.uint8).reshape(ROWS, -1)

    assert COLS % block_size == 0
    n_blocks = n // block_size
    blocks = rng.integers(0, 256, size=(n_blocks, type_size), dtype=np.uint8)
    for off in F16_FIELDS[qtype]:
        scales = rng.uniform(-0.1, 0.1, n_blocks).astype(np.float16)
        blocks[:, off:off + 2] = scales.view(np.uint8).reshape(n_blocks, 2)
    return blocks.reshape(ROWS, -1)


# Metadata: (key, GGUF value type, value, array sub type or None)
METADATA = [
    ("test.u8", V.UINT8, 200, None),
    ("test.i8", V.INT8, -100, None),
    ("test.u16", V.UINT16, 60000, None),
    ("test.i16", V.INT16, -30000, None),
    ("test.u32", V.UINT32, 4000000000, None),
    ("test.i32", V.INT32, -2000000000, None),
    ("test.f32", V.FLOAT32, 0.15625, None),          # exactly representable
    ("test.f32_inexact", V.FLOAT32, 0.1, None),        # stored as float32(0.1)
    ("test.bool_true", V.BOOL, True, None),
    ("test.bool_false", V.BOOL, False, None),
    ("test.string", V.STRING, "héllo, wörld \u4e2d\u6587 \U0001F600", None),
    ("test.string_empty", V.STRING, "", None),
    ("test.u64", V.UINT64, 18446744073709551557, None),  # > Int64.max
    ("test.i64", V.INT64, -9000000000000000000, None),
    ("test.f64", V.FLOAT64, 2.718281828459045, None),
    ("test.arr_i32", V.ARRAY, [1, -2, 3, 2147483647, -2147483648], V.INT32),
    ("test.arr_str", V.ARRAY, ["alpha", "", "γάμμα", "<|im_end|>"], V.STRING),
    ("test.arr_f32", V.ARRAY, [0.5, -1.25, 3.0], V.FLOAT32),
    ("test.arr_u8", V.ARRAY, [0, 1, 255], V.UINT8),
    ("test.arr_bool", V.ARRAY, [True, False, True], V.BOOL),
]


def json_value(vtype: V, value, sub_type):
    """Value description for expected.json (64-bit and float values also as exact strings)."""
    d: dict = {"type": vtype.name}
    if vtype == V.ARRAY:
        d["element_type"] = sub_type.name
        if sub_type == V.FLOAT32:
            d["value"] = [float(np.float32(x)) for x in value]
        else:
            d["value"] = list(value)
        d["count"] = len(value)
        return d
    if vtype == V.FLOAT32:
        f = np.float32(value)
        d["value"] = float(f)
        d["value_string"] = repr(float(f))
        d["bits"] = "0x%08x" % struct.unpack("<I", struct.pack("<f", f))[0]
    elif vtype == V.FLOAT64:
        d["value"] = value
        d["value_string"] = repr(value)
        d["bits"] = "0x%016x" % struct.unpack("<Q", struct.pack("<d", value))[0]
    elif vtype in (V.UINT64, V.INT64):
        d["value"] = value
        d["value_string"] = str(value)
    else:
        d["value"] = value
    return d


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="Tests/Fixtures/dequant")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    rng = np.random.default_rng(SEED)
    gguf_path = os.path.join(args.out, "types.gguf")
    w = gguf.GGUFWriter(gguf_path, arch="dequanttest")
    w.add_string("general.name", "dequant-types-fixture")
    for key, vtype, value, sub in METADATA:
        w.add_key_value(key, value, vtype, sub_type=sub)

    tensors = []
    for qtype in TYPES:
        raw = make_raw(rng, qtype)
        name = "t_" + qtype.name.lower()
        w.add_tensor(name, raw, raw_dtype=qtype)
        deq = np.asarray(dequantize(raw, qtype), dtype=np.float32).reshape(ROWS, COLS)
        if not np.all(np.isfinite(deq)):
            print(f"non-finite values in {name}", file=sys.stderr)
            return 1
        vals_file = f"{name}.f32"
        deq.astype("<f4").tofile(os.path.join(args.out, vals_file))
        tensors.append({
            "name": name,
            "type": qtype.name,
            "ggml_type_id": int(qtype),
            "shape": [COLS, ROWS],  # GGUF order [ne0, ne1]
            "block_size": GGML_QUANT_SIZES[qtype][0],
            "type_size": GGML_QUANT_SIZES[qtype][1],
            "n_bytes": int(raw.nbytes),
            "raw_sha256": hashlib.sha256(raw.tobytes()).hexdigest(),
            "values_file": vals_file,
            "values_format": "little-endian float32, row-major: ne1 rows of ne0 values",
            "first_values": [float(x) for x in deq.reshape(-1)[:8]],
            "sum": float(deq.astype(np.float64).sum()),
            "max_abs": float(np.abs(deq).max()),
        })

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    # Cross-check: read the file back and dequantize from the parsed tensor data.
    r = gguf.GGUFReader(gguf_path)
    by_name = {t.name: t for t in r.tensors}
    for t in tensors:
        rt = by_name[t["name"]]
        assert rt.tensor_type.name == t["type"], (rt.tensor_type, t["type"])
        assert [int(x) for x in rt.shape] == t["shape"], (rt.shape, t["shape"])
        got = np.asarray(dequantize(np.asarray(rt.data), rt.tensor_type), dtype=np.float32).reshape(-1)
        exp = np.fromfile(os.path.join(args.out, t["values_file"]), dtype="<f4")
        assert np.array_equal(got.view(np.uint32), exp.view(np.uint32)), t["name"]
        t["data_offset"] = int(rt.data_offset)  # absolute file offset of the tensor data

    metadata = {"general.architecture": {"type": "STRING", "value": "dequanttest"},
                "general.name": {"type": "STRING", "value": "dequant-types-fixture"}}
    for key, vtype, value, sub in METADATA:
        metadata[key] = json_value(vtype, value, sub)
    for key, vtype, value, sub in METADATA:  # verify round trip via GGUFReader
        f = r.fields[key]
        got = f.contents()
        if vtype == V.FLOAT32:
            assert np.float32(got) == np.float32(value), key
        elif vtype == V.ARRAY and sub == V.FLOAT32:
            assert [np.float32(x) for x in got] == [np.float32(x) for x in value], key
        else:
            assert got == value, (key, got, value)

    expected = {
        "generator": "scripts/make_dequant_fixtures.py",
        "gguf_py_version": getattr(gguf, "__version__", None) or _pkg_version("gguf"),
        "numpy_version": np.__version__,
        "seed": SEED,
        "gguf_file": "types.gguf",
        "gguf_version": 3,
        "alignment": 32,
        "tensor_count": len(tensors),
        "kv_count": len(metadata),
        "gguf_sha256": hashlib.sha256(open(gguf_path, "rb").read()).hexdigest(),
        "tensors": tensors,
        "metadata": metadata,
    }
    with open(os.path.join(args.out, "expected.json"), "w", encoding="utf-8") as fh:
        json.dump(expected, fh, indent=1, ensure_ascii=False)
        fh.write("\n")
    total = sum(os.path.getsize(os.path.join(args.out, f)) for f in os.listdir(args.out))
    print(f"wrote {len(tensors)} tensors, {len(metadata)} kv to {args.out} ({total} bytes)")
    return 0


def _pkg_version(name: str):
    try:
        from importlib.metadata import version
        return version(name)
    except Exception:
        return None


if __name__ == "__main__":
    sys.exit(main())

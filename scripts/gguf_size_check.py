#!/usr/bin/env python3
"""Checks that a GGUF file's own header and tensor table account for its size exactly.

    python3 scripts/gguf_size_check.py FILE [--label NAME]

Reads the GGUF header (versions 2 and 3) with the standard library only: metadata keys are skipped value by
value, then every tensor's type, shape and data offset. The file is accepted when

    data offset + (end of the tensor that ends last, padded to general.alignment) == file size

and the exit status is 0 (prints "FILE: ok, N tensors, S bytes"). Otherwise it prints one line naming the file
and what does not add up, and exits 1. scripts/fetch_models.sh runs it on every joined model before accepting it.
"""
from __future__ import annotations

import os
import struct
import sys

# ggml type id -> (values per block, bytes per block); the types a GGUF model file can hold.
GGML_TYPES = {
    0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34), 9: (32, 36),
    10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210), 15: (256, 292),
    16: (256, 66), 17: (256, 74), 18: (256, 98), 19: (256, 50), 20: (32, 18), 21: (256, 110), 22: (256, 82),
    23: (256, 136), 24: (1, 1), 25: (1, 2), 26: (1, 4), 27: (1, 8), 28: (1, 8), 29: (256, 56), 30: (1, 2),
    34: (256, 54), 35: (256, 66), 39: (32, 17),
}
# GGUF metadata value type -> fixed size in bytes (8: string, 9: array are variable)
SCALAR_SIZE = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


class Bad(Exception):
    pass


class Reader:
    def __init__(self, fh, size: int):
        self.fh, self.size, self.pos = fh, size, 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > self.size:
            raise Bad(f"truncated: the header needs {n} more bytes at offset {self.pos}, the file has {self.size}")
        b = self.fh.read(n)
        self.pos += n
        return b

    def u32(self) -> int:
        return struct.unpack("<I", self.take(4))[0]

    def u64(self) -> int:
        return struct.unpack("<Q", self.take(8))[0]

    def count(self, what: str) -> int:
        n = self.u64()
        if n > self.size:
            raise Bad(f"corrupt header: {what} {n} exceeds the file size {self.size}")
        return n

    def string(self) -> str:
        return self.take(self.count("string length")).decode("utf-8", errors="replace")

    def skip_value(self, vtype: int):
        """Skips one value; returns it for integer types (general.alignment)."""
        if vtype in SCALAR_SIZE:
            raw = self.take(SCALAR_SIZE[vtype])
            if vtype in (4, 5, 10, 11):
                return int.from_bytes(raw, "little", signed=vtype in (5, 11))
            return None
        if vtype == 8:
            self.take(self.count("string length"))
            return None
        if vtype == 9:
            etype = self.u32()
            n = self.count("array length")
            if etype in SCALAR_SIZE:
                self.take(n * SCALAR_SIZE[etype])
            else:
                for _ in range(n):
                    self.skip_value(etype)
            return None
        raise Bad(f"corrupt header: unknown metadata value type {vtype} at offset {self.pos - 4}")


def accounted_size(path: str) -> tuple[int, int, int]:
    """(bytes the header accounts for, file size, tensor count); raises Bad with the reason."""
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        r = Reader(fh, size)
        if r.take(4) != b"GGUF":
            raise Bad("bad magic: not a GGUF file")
        version = r.u32()
        if version not in (2, 3):
            raise Bad(f"unsupported GGUF version {version}")
        n_tensors = r.count("tensor count")
        n_kv = r.count("metadata count")
        alignment = 32
        for _ in range(n_kv):
            key = r.string()
            value = r.skip_value(r.u32())
            if key == "general.alignment":
                if not value or value & (value - 1):
                    raise Bad(f"general.alignment {value} is not a power of two")
                alignment = value
        end = 0
        for _ in range(n_tensors):
            name = r.string()
            n_dims = r.u32()
            if not 1 <= n_dims <= 4:
                raise Bad(f"tensor '{name}' has {n_dims} dimensions")
            elements = 1
            for _ in range(n_dims):
                elements *= r.u64()
            tid = r.u32()
            offset = r.u64()
            if tid not in GGML_TYPES:
                raise Bad(f"tensor '{name}' has unknown ggml type id {tid}")
            block, nbytes = GGML_TYPES[tid]
            if elements % block:
                raise Bad(f"tensor '{name}': {elements} values is not a multiple of the block size {block}")
            end = max(end, offset + elements // block * nbytes)
        data_offset = (r.pos + alignment - 1) // alignment * alignment
        padded_end = (end + alignment - 1) // alignment * alignment
        return data_offset + padded_end, size, n_tensors


def main() -> int:
    args = sys.argv[1:]
    label = None
    if "--label" in args:
        i = args.index("--label")
        label = args[i + 1]
        del args[i:i + 2]
    if len(args) != 1:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    path = args[0]
    name = label or path
    try:
        want, have, n = accounted_size(path)
    except Bad as e:
        print(f"{name}: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"{name}: {e.strerror}", file=sys.stderr)
        return 1
    if want != have:
        print(f"{name}: size mismatch: the GGUF header and tensor table account for {want} bytes, the file has {have} "
              f"({'missing ' + str(want - have) if want > have else str(have - want) + ' extra'} bytes)", file=sys.stderr)
        return 1
    print(f"{name}: ok, {n} tensors, {have} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())

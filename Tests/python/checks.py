"""What the HDF5 checkers share: failing with a message, and the root attributes every dapq-probe file has."""
import sys

# Written by every output file (ModelProvenance.writeHeader and the writers).
COMMON_ROOT_ATTRIBUTES = [
    "schema", "schema_version", "tool_version", "created", "model_path", "model_sha256", "architecture",
    "n_layers", "n_heads", "n_kv_heads", "d_head", "rope_base", "rope_layout", "n_prompt", "n_decode",
    "threads", "seed", "command_line", "numerics", "kv_type", "complete",
]


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def kv_value_bytes(attrs):
    """Bytes per stored key or value element, from the file's kv_type attribute (f16: 2, f32: 4)."""
    kv_type = attrs["kv_type"]
    kv_type = kv_type.decode() if isinstance(kv_type, bytes) else kv_type
    check(kv_type in ("f16", "f32"), f"kv_type {kv_type!r}")
    return 2 if kv_type == "f16" else 4

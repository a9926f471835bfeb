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

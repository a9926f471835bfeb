"""Opening a dapq-probe HDF5 file as a plot script's input: a file that is missing, not HDF5 (or truncated), of
another kind (root attribute `schema`), incomplete, or that lacks a dataset or attribute the script reads ends the
script with one line naming the file and the problem, not a traceback."""
import contextlib

import h5py
import numpy as np


def text(x):
    return x.decode() if isinstance(x, bytes) else str(x)


def _one_line(error):
    return " ".join(str(error).split()) or type(error).__name__


@contextlib.contextmanager
def open_input(path, schema, kind, require_complete=True):
    """The open file (read-only), checked to be a `kind` of `schema`; errors while reading it become one line."""
    try:
        f = h5py.File(path, "r")
    except (OSError, ValueError) as error:
        raise SystemExit(f"{path}: not a readable HDF5 file ({_one_line(error)})")
    with f:
        found = text(f.attrs.get("schema", ""))
        if found != schema:
            article = "an" if kind[0] in "aeiou" else "a"
            raise SystemExit(f"{path}: not {article} {kind} (schema '{found}', expected '{schema}')")
        if require_complete and int(f.attrs.get("complete", 0)) != 1:
            raise SystemExit(f"{path}: the {kind} is incomplete (root attribute complete is not 1)")
        try:
            yield f
        except (KeyError, IndexError, ValueError, TypeError, OSError) as error:
            raise SystemExit(f"{path}: malformed {kind}: {_one_line(error)}")


# Schema 2 ablation files held the summary as one compound table with these column names.
_SUMMARY_V2_NAMES = {"prompt": "capture", "content": "pseudo_content", "position": "pseudo_position"}


def read_summary(f):
    """An ablation's summary table as {column: NumPy array}, string columns as `str` (object arrays).

    Schema 3 stores it as the group `summary/` with one 1-D dataset per column, read as they are (strings through
    h5py's `asstr()`); schema 2's compound table is read too, its columns renamed to schema 3's names (`capture`,
    `pseudo_content`, `pseudo_position`)."""
    node = f["summary"]
    if isinstance(node, h5py.Group):
        return {name: column.asstr()[...] if h5py.check_string_dtype(column.dtype) else column[...]
                for name, column in node.items()}
    table = node[...]
    columns = {}
    for name in table.dtype.names:
        column = table[name]
        if column.dtype.kind in "OS":
            column = np.array([text(v) for v in column], dtype=object)
        columns[_SUMMARY_V2_NAMES.get(name, name)] = column
    return columns


def summary_rows(f):
    """The summary table as a list of rows, each a dict {column: value} (see `read_summary`)."""
    columns = read_summary(f)
    count = len(next(iter(columns.values()))) if columns else 0
    return [{name: column[i] for name, column in columns.items()} for i in range(count)]

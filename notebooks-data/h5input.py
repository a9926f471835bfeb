"""Opening a dapq-probe HDF5 file as a plot script's input: a file that is missing, not HDF5 (or truncated), of
another kind (root attribute `schema`), incomplete, or that lacks a dataset or attribute the script reads ends the
script with one line naming the file and the problem, not a traceback."""
import contextlib

import h5py


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

"""Reading kernel specs: names (fastconv.kernels.get), .npy/.txt/.csv files and inline rows (parse), within limits.

A spec of up to 16 MiB and a kernel of up to 2**22 values are read in memory proportional to the kernel, and every
message quotes at most the start of a spec.
"""
import array
import difflib
import os
import re

import numpy as np

from fastconv.kernels import _FAMILIES, _MAX_SPEC, _MAX_TAPS, _TUTORIAL, _shown, names

_FILE_SUFFIXES = (".npy", ".txt", ".csv")
_INLINE_EXAMPLE = "'0,-1,0;-1,5,-1;0,-1,0'"


def _did_you_mean(spec):
    """': did you mean ...?' naming the bank's name closest to the one in `spec` (parameters kept for a family), or
    '' when none is close."""
    name, _, params = spec.partition(":")
    if len(name) > 40:      # nothing in the bank is close, and difflib is slow on long text
        return ""
    fixed = [f.__name__ for f in _TUTORIAL]
    match = difflib.get_close_matches(name.lower(), fixed + list(_FAMILIES), n=1)
    if not match:
        return ""
    guess = match[0] if match[0] in fixed or not params else f"{match[0]}:{params}"
    return f": did you mean {_shown(guess)}?"


def get(spec):
    """fastconv.kernels.get (its docstring says what it takes and refuses)."""
    if not isinstance(spec, str):
        raise TypeError(f"spec must be a str; got {type(spec).__name__}")
    text = spec.strip()
    name = text.partition(":")[0]
    fixed = {f.__name__: f for f in _TUTORIAL}
    if name in fixed and name == text:
        return fixed[name]()
    if name not in _FAMILIES:
        raise ValueError(f"spec must name a kernel, one of {', '.join(names())}; got {_shown(spec)}"
                         f"{_did_you_mean(text)}")
    if text.count(":") > 3:         # no family takes more than three parameters
        raise ValueError(f"spec has the wrong number of parameters for {name!r}: {names()[-4:]}; got "
                         f"{_shown(spec)}")
    params = text.split(":")[1:]
    try:
        values = [float(p) if (name == "gaussian" and i == 1) else int(p) for i, p in enumerate(params)]
    except ValueError as e:
        raise ValueError(f"spec parameters must be numbers, as in {', '.join(names()[-4:])}; got "
                         f"{_shown(spec)}") from e
    try:
        return _FAMILIES[name](*values)
    except TypeError as e:
        raise ValueError(f"spec has the wrong number of parameters for {name!r}: {names()[-4:]}; got "
                         f"{_shown(spec)}") from e
    except ValueError as e:
        raise ValueError(f"spec {_shown(spec)}: {e}") from e


def parse(spec):
    """fastconv.kernels.parse (its docstring says what it reads and refuses)."""
    if isinstance(spec, os.PathLike):
        spec = os.fspath(spec)
    if not isinstance(spec, str):
        raise TypeError(f"spec must be a str (kernel name, file or inline rows); got {type(spec).__name__}")
    if len(spec) > _MAX_SPEC:
        raise ValueError(f"spec must be at most 16 MiB ({_MAX_SPEC} characters); got {_shown(spec)}")
    text = spec.strip()
    if not text:
        raise ValueError(f"spec must not be empty: give a kernel name, a .npy/.txt/.csv file or inline rows such "
                         f"as {_INLINE_EXAMPLE}")
    if text.lower().endswith(_FILE_SUFFIXES):
        return _from_file(text)
    if os.path.exists(text):
        raise ValueError(f"spec file {_shown(text)} must end in .npy, .txt or .csv")
    if text[0].isalpha() and not any(sep in text for sep in ",;"):
        return _from_name(text)
    if text.count(";") >= _MAX_TAPS:       # a row holds at least one value
        raise ValueError(f"spec {_shown(spec)}: a kernel may have at most 2**22 = {_MAX_TAPS} values; these "
                         f"rows hold more")
    return _from_rows(_pieces(text, ";"), f"spec {_shown(spec)}")


def _from_name(text):
    fixed = [f.__name__ for f in _TUTORIAL]
    if text.split(":")[0] not in fixed + list(_FAMILIES):
        raise ValueError(f"spec must be a kernel name ({', '.join(names())}), a .npy/.txt/.csv file or inline "
                         f"rows such as {_INLINE_EXAMPLE}; got {_shown(text)}{_did_you_mean(text)}")
    return get(text)


def _from_file(path):
    where = f"spec file {_shown(path)}"
    if not os.path.isfile(path):
        raise ValueError(f"{where} does not exist or is not a file")
    if path.lower().endswith(".npy"):
        return _from_npy(path, where)
    size = os.path.getsize(path)
    if size > _MAX_SPEC:
        raise ValueError(f"{where} must be at most 16 MiB ({_MAX_SPEC} bytes); it has {size}")
    try:
        with open(path, encoding="utf-8") as f:
            return _from_rows((line for line in f if line.strip() and not line.lstrip().startswith("#")), where)
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"{where} is not a readable text file: {e}") from e


_NPY_HEADERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def _from_npy(path, where):
    """The 2-D real array in a .npy file, its header checked before any data is read (a header can claim any
    shape)."""
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            if version not in _NPY_HEADERS:
                raise ValueError(f"format version {version[0]}.{version[1]} is not one numpy writes for real arrays")
            shape, _, dtype = _NPY_HEADERS[version](f)
    except (OSError, ValueError) as e:
        raise ValueError(f"{where} is not a readable .npy file: {e}") from e
    if dtype.kind not in "uif" or len(shape) != 2 or 0 in shape:
        raise ValueError(f"{where} must hold a non-empty 2-D array of real numbers; got dtype {dtype} and "
                         f"shape {shape}")
    if shape[0] * shape[1] > _MAX_TAPS:
        raise ValueError(f"{where} must hold at most 2**22 = {_MAX_TAPS} values (the most a kernel may have); got "
                         f"shape {shape}")
    try:
        k = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise ValueError(f"{where} is not a readable .npy file: {e}") from e
    return _finite(k.astype(np.float64), where)


def _pieces(text, separator):
    """The parts of `text` between `separator`s, one at a time (a 16 MiB spec may hold millions of them)."""
    start = 0
    while (end := text.find(separator, start)) >= 0:
        yield text[start:end]
        start = end + 1
    yield text[start:]


def _from_rows(rows, where):
    """A kernel from text rows of comma- or whitespace-separated numbers; `where` names the source in errors.

    The values go into one flat float64 buffer as each row is read, so the memory used is that of the kernel.
    """
    values, width, number = array.array("d"), 0, 0
    for number, row in enumerate(rows, start=1):
        if _more_than(_MAX_TAPS - len(values), row):
            raise ValueError(f"{where}: a kernel may have at most 2**22 = {_MAX_TAPS} values; these rows hold "
                             f"more")
        cells = [c.strip() for c in row.split(",")] if "," in row else row.split()
        if not any(cells):
            raise ValueError(f"{where}: row {number} is empty")
        if not all(cells):
            raise ValueError(f"{where}: row {number} has an empty value (two commas in a row?)")
        try:
            row_values = [float(c) for c in cells]
        except ValueError:
            bad = next(c for c in cells if not _is_number(c))
            raise ValueError(f"{where}: row {number} has {_shown(bad)}, which is not a number") from None
        width = width or len(row_values)
        if len(row_values) != width:
            raise ValueError(f"{where}: rows must all have the same number of values (ragged rows): row 1 has "
                             f"{width}, row {number} has {len(row_values)}")
        values.extend(row_values)
    if not number:
        raise ValueError(f"{where} holds no kernel rows")
    return _finite(np.frombuffer(values, np.float64).reshape(number, width), where)


def _more_than(limit, row):
    """Whether `row` holds more than `limit` values, found without splitting it (cheaply for any row that could
    not hold that many)."""
    if "," in row:
        return row.count(",") + 1 > limit
    if (len(row) + 1) // 2 <= limit:       # each value takes a character and a separator
        return False
    return sum(1 for _ in re.finditer(r"\S+", row)) > limit


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _finite(k, where):
    if not np.isfinite(k).all():
        raise ValueError(f"{where}: values must be finite; got NaN or inf")
    return k

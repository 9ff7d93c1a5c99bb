"""Coverage-guided fuzzing of the public API with atheris (not collected by pytest).

Every byte string becomes an image (any dtype, shape and layout), a kernel (any finite or non-finite values, also
huge and tiny ones) and options (valid and invalid); the call must return a result of the right shape and dtype or
raise ValueError/TypeError, never crash, hang, warn or raise anything else; float64 results of finite inputs
must match the twin (to float64 or float32 rounding, by the accumulator). Python-layer coverage guides it (the
compiled core is not instrumented).

Run: ``pip install atheris && python tests/fuzz/fuzz_api.py -max_total_time=300`` from the repository root.
"""
import sys
import warnings
from pathlib import Path

import atheris

with atheris.instrument_imports():
    import numpy as np

    import fastconv
    from fastconv import kernels

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from twins import correlate_float64  # noqa: E402

DTYPES = ["uint8", "uint16", "int16", "float32", "float64", "int8", "float16", "int32", "uint64", ">f4", ">u2",
          "bool", "complex64", "object"]
BORDERS = ["replicate", "reflect", "reflect101", "wrap", "constant", "mirror", "", None, 3]
OUTPUTS = ["floor", "round", "float", "stretch", "clip", None]
OUT_DTYPES = [None, "uint8", "uint16", "int16", "float32", "float64", "int32", ">f4"]
SPECIAL = [0.0, 1.0, -1.0, 0.5, np.nan, np.inf, -np.inf, 1e300, -1e300, 1e-300, 3.4e38, 5e-324, 255.0, 2.0**31]


def array(fdp, dtype, shape):
    raw = fdp.ConsumeBytes(int(np.prod(shape)) * 8)
    values = np.frombuffer(raw.ljust(int(np.prod(shape)) * 8, b"\0"), np.uint8)[::8].astype(np.float64)
    if fdp.ConsumeBool():
        values = np.array([SPECIAL[int(v) % len(SPECIAL)] for v in values])
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return values.reshape(shape).astype(dtype)


def layout(fdp, a):
    choice = fdp.ConsumeIntInRange(0, 3)
    if choice == 1 and a.ndim:
        return a[::-1]
    if choice == 2:
        return np.asfortranarray(a)
    if choice == 3:
        a = a.copy()
        a.flags.writeable = False
    return a


def test_one(data):
    fdp = atheris.FuzzedDataProvider(data)
    dtype = DTYPES[fdp.ConsumeIntInRange(0, len(DTYPES) - 1)]
    ndim = fdp.ConsumeIntInRange(0, 4)
    shape = tuple(fdp.ConsumeIntInRange(0, 9) for _ in range(ndim))
    image = layout(fdp, array(fdp, dtype, shape))
    kshape = tuple(fdp.ConsumeIntInRange(0, 12) for _ in range(fdp.ConsumeIntInRange(1, 3)))
    K = array(fdp, "float64", kshape)
    before = (image.copy(), K.copy())
    kwargs = {"border": BORDERS[fdp.ConsumeIntInRange(0, len(BORDERS) - 1)],
              "output": OUTPUTS[fdp.ConsumeIntInRange(0, len(OUTPUTS) - 1)],
              "dtype": OUT_DTYPES[fdp.ConsumeIntInRange(0, len(OUT_DTYPES) - 1)],
              "cval": SPECIAL[fdp.ConsumeIntInRange(0, len(SPECIAL) - 1)],
              "flip": fdp.ConsumeBool(),
              "threads": fdp.ConsumeIntInRange(-1, 3) or None}
    if fdp.ConsumeBool():
        kwargs["anchor"] = (fdp.ConsumeIntInRange(-2, 13), fdp.ConsumeIntInRange(-2, 13))
    use_filter2D = fdp.ConsumeBool()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            if use_filter2D:
                ddepth = [-1, 0, 2, 3, 5, 6, 1, 7][fdp.ConsumeIntInRange(0, 7)]
                result = fastconv.filter2D(image, ddepth, K, delta=kwargs["cval"], threads=kwargs["threads"],
                                           borderType=fdp.ConsumeIntInRange(-1, 20))
            else:
                result = fastconv.convolve(image, K, **kwargs)
        except (ValueError, TypeError):
            result = None
        if fdp.ConsumeBool():
            try:
                kernels.get(fdp.ConsumeUnicodeNoSurrogates(20))
            except (ValueError, TypeError):
                pass
    assert np.array_equal(before[0], image, equal_nan=image.dtype.kind in "fc") or image.dtype == object
    assert np.array_equal(before[1], K, equal_nan=True)
    if result is None:
        return
    assert result.shape == image.shape
    finite_sums = (image.size and not use_filter2D and kwargs["output"] == "float" and result.dtype == np.float64
                   and image.ndim == 2 and np.isfinite(image.astype(np.float64)).all() and np.abs(K).max() < 1e100
                   and np.abs(image.astype(np.float64)).max(initial=0) < 1e100 and kwargs["border"] != "constant"
                   and not kwargs["flip"] and "anchor" not in kwargs)
    if finite_sums:
        exact = correlate_float64(image, K, kwargs["border"])
        scale = np.abs(K).sum() * np.abs(image.astype(np.float64)).max(initial=0)
        read_as_float64 = image.dtype.newbyteorder("=") in (np.float64, np.int32, np.uint64)
        assert np.abs(result - exact).max(initial=0) <= (1e-12 if read_as_float64 else 1e-6) * scale + 1e-300


def main():
    atheris.Setup(sys.argv, test_one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

"""Hostile input to every public function: a clear ValueError/TypeError or a result checked against an oracle.

Each case builds fresh inputs; every array among them is snapshotted (bytes, dtype, shape, strides, flags) before
the call and must be unchanged after it, except the `out=`/`dst=` array and whatever shares memory with it. Expected
results come from cv2, tests/twins.py or the documented rule, computed on a second, fresh set of inputs.
"""
import io

import numpy as np
import pytest

import fastconv
from fastconv import kernels
from twins import correlate_float64, correlate_nan_rule

cv2 = pytest.importorskip("cv2")

RNG = np.random.default_rng(2024)
U8 = RNG.integers(0, 256, (6, 7), dtype=np.uint8)
F32 = (RNG.standard_normal((6, 7)) * 50).astype(np.float32)
K3 = np.array([[1, -2, 0], [3, 1, -1], [0, 2, 1]], dtype=np.float64)   # integer-valued: exact oracles


def floor_u8(image, K, border="replicate", cval=0.0):
    """The documented 'floor' output of the exact sum (exact for integer-valued kernels)."""
    with np.errstate(invalid="ignore"):
        exact = np.nan_to_num(correlate_float64(image, K, border, cval), nan=0.0)
    return np.floor(np.clip(exact, 0, 255)).astype(np.uint8)


def as_float32(exact):
    with np.errstate(over="ignore"):
        return exact.astype(np.float32)


def close(rtol):
    def compare(result, expected):
        np.testing.assert_allclose(result, expected, rtol=rtol, atol=0)
    return compare


def within(fraction):
    """Equal up to `fraction` of the largest magnitude (sums that cancel keep the rounding of their terms)."""
    def compare(result, expected):
        np.testing.assert_allclose(result, expected, rtol=0, atol=fraction * np.abs(expected).max())
    return compare


def same(result, expected):
    assert result.dtype == expected.dtype and result.shape == expected.shape
    np.testing.assert_array_equal(result, expected)


def case(id, func, args=None, kwargs=None, *, make=None, raises=None, match=None, expected=None, compare=same):
    """One row: `args()` and `kwargs()` (or `make()`, both at once) build the inputs; `expected(*args)`
    gets a second set, built before the call."""
    if make is None:
        def make():
            return args(), (kwargs() if kwargs else {})
    return pytest.param(func, make, raises, match, expected, compare, id=id)


def readonly(a):
    a = a.copy()
    a.flags.writeable = False
    return a


def image_is_out():
    image = U8.copy()
    return (image, K3), {"out": image}


def image_is_dst():
    image = U8.copy()
    return (image, -1, K3), {"dst": image}


def out_one_row_down():
    buf = np.zeros((7, 7), np.uint8)
    buf[:6] = U8
    return (buf[:6], K3), {"out": buf[1:]}


CASES = [
    # --- shapes -------------------------------------------------------------------------------------------------
    case("empty rows", fastconv.convolve, lambda: (np.zeros((0, 5), np.uint8), K3),
         expected=lambda img, K: np.zeros((0, 5), np.uint8)),
    case("empty columns, stretch", fastconv.convolve, lambda: (np.zeros((4, 0), np.uint8), K3),
         lambda: {"output": "stretch"}, expected=lambda img, K: np.zeros((4, 0), np.uint8)),
    case("zero channels", fastconv.convolve, lambda: (np.zeros((4, 5, 0), np.float32), K3),
         lambda: {"output": "float"}, expected=lambda img, K: np.zeros((4, 5, 0), np.float32)),
    case("filter2D empty", fastconv.filter2D, lambda: (np.zeros((0, 3), np.float32), -1, K3),
         expected=lambda img, d, K: np.zeros((0, 3), np.float32)),
    case("0-D image", fastconv.convolve, lambda: (np.float32(3), K3), raises=ValueError, match="image must be 2-D"),
    case("1-D image", fastconv.convolve, lambda: (np.arange(5.0), K3), raises=ValueError, match="got 1-D"),
    case("4-D image", fastconv.convolve, lambda: (np.zeros((2, 3, 4, 1)), K3), raises=ValueError, match="got 4-D"),
    case("filter2D 1-D src", fastconv.filter2D, lambda: (np.zeros(4, np.uint8), -1, K3), raises=ValueError,
         match="src must be 2-D"),
    case("kernel taller than image", fastconv.convolve, lambda: (U8[:3], np.ones((9, 1))),
         lambda: {"border": "reflect"}, expected=lambda img, K, **kw: floor_u8(img, K, "reflect")),
    case("kernel larger in both axes, wrap", fastconv.convolve, lambda: (U8[:4, :3], K3.repeat(5, 0).repeat(4, 1)),
         lambda: {"border": "wrap"}, expected=lambda img, K, **kw: floor_u8(img, K, "wrap")),
    case("kernel larger than a 1x1 image, reflect101", fastconv.convolve, lambda: (U8[:1, :1], np.ones((4, 6))),
         lambda: {"border": "reflect101", "output": "round", "dtype": np.uint16},
         expected=lambda img, K, **kw: np.full((1, 1), 24 * int(img[0, 0]), np.uint16)),
    case("1x1 kernel", fastconv.convolve, lambda: (F32, np.array([[-2.5]])), lambda: {"output": "float"},
         expected=lambda img, K, **kw: F32 * np.float32(-2.5)),
    case("1 x 4001 kernel", fastconv.convolve, lambda: (U8, np.ones((1, 4001)) / 4001), lambda: {"output": "float"},
         expected=lambda img, K, **kw: as_float32(correlate_float64(img, K)), compare=close(1e-5)),
    # --- kernel values -------------------------------------------------------------------------------------------
    case("NaN kernel", fastconv.convolve, lambda: (U8, [[1.0, np.nan]]), raises=ValueError, match="K must be finite"),
    case("-inf kernel", fastconv.filter2D, lambda: (U8, -1, np.array([[-np.inf]])), raises=ValueError,
         match="kernel must be finite"),
    case("all-zero kernel, integer path", fastconv.filter2D, lambda: (U8, -1, np.zeros((3, 3))),
         lambda: {"delta": 7}, expected=lambda img, d, K, **kw: cv2.filter2D(img, d, K, delta=7)),
    case("taps beyond float32 (regression)", fastconv.convolve, lambda: (U8, np.array([[1e300, -1e300]])),
         lambda: {"output": "float", "dtype": np.float64},
         expected=lambda img, K: correlate_float64(img, K), compare=within(1e-14)),
    case("equal taps beyond float32, box (regression)", fastconv.convolve, lambda: (U8, np.full((2, 3), 1e300)),
         lambda: {"output": "float", "dtype": np.float64},
         expected=lambda img, K, **kw: correlate_float64(img, K), compare=close(1e-12)),
    case("taps beyond float32, float32 output", fastconv.convolve, lambda: (U8, np.array([[1e39, 0, -1e39]])),
         lambda: {"output": "float"}, expected=lambda img, K, **kw: as_float32(correlate_float64(img, K)),
         compare=close(1e-6)),
    case("taps below float32's normal range (regression)", fastconv.convolve, lambda: (U8, np.array([[0, 1e-300]])),
         lambda: {"output": "float", "dtype": np.float64, "border": "wrap"},
         expected=lambda img, K: correlate_float64(img, K, "wrap"), compare=close(1e-15)),
    case("uint64-max kernel", fastconv.convolve, lambda: (U8, np.full((2, 2), 2**64 - 1, np.uint64)),
         expected=lambda img, K: floor_u8(img, K.astype(np.float64))),
    # --- dtypes and containers -----------------------------------------------------------------------------------
    case("object image", fastconv.convolve, lambda: (U8.astype(object), K3), raises=TypeError, match="real numeric"),
    case("complex kernel", fastconv.filter2D, lambda: (U8, -1, K3 + 1j), raises=TypeError,
         match="kernel must have a real numeric dtype"),
    case("bool src", fastconv.filter2D, lambda: (U8 > 9, -1, K3), raises=TypeError, match="src must be uint8"),
    case("str image", fastconv.convolve, lambda: (np.array([["a", "b"]]), K3), raises=TypeError, match="image must"),
    case("datetime image", fastconv.convolve, lambda: (np.zeros((3, 3), "M8[s]"), K3), raises=TypeError,
         match="image must have a real numeric dtype"),
    case("bytes kernel", fastconv.convolve, lambda: (U8, b"\x01\x02"), raises=TypeError, match="K must be"),
    case("lists for image and kernel", fastconv.convolve, lambda: (U8.tolist(), K3.tolist()),   # int64: float64 sums
         expected=lambda img, K: correlate_float64(np.asarray(img), np.asarray(K))),
    case("lists, the tutorial's output", fastconv.convolve, lambda: (U8.tolist(), K3.tolist()),
         lambda: {"output": "floor"}, expected=lambda img, K: floor_u8(np.asarray(img), np.asarray(K))),
    case("filter2D list src (float64)", fastconv.filter2D, lambda: (U8.tolist(), -1, K3),
         expected=lambda img, d, K: cv2.filter2D(np.asarray(img, np.float64), d, K)),
    case("memoryview image", fastconv.convolve, lambda: (memoryview(U8.copy()), K3),
         expected=lambda img, K: floor_u8(np.asarray(img), K)),
    case("int64 image beyond 2**32", fastconv.convolve, lambda: (U8.astype(np.int64) * 2**33, K3),
         lambda: {"output": "float"}, expected=lambda img, K: correlate_float64(img, K), compare=close(1e-15)),
    # --- layouts -------------------------------------------------------------------------------------------------
    case("non-contiguous image", fastconv.convolve, lambda: (np.tile(U8, (2, 3))[::2, ::3], K3),
         expected=lambda img, K: floor_u8(img, K)),
    case("negative strides", fastconv.convolve, lambda: (U8[::-1, ::-2], K3[::-1]),
         expected=lambda img, K: floor_u8(img, K)),
    case("big-endian uint16", fastconv.filter2D, lambda: (U8.astype(">u2") * 200, -1, K3),
         expected=lambda img, d, K: cv2.filter2D(img.astype(np.uint16), d, K)),
    case("big-endian float64", fastconv.convolve, lambda: (F32.astype(">f8"), K3), lambda: {"output": "float"},
         expected=lambda img, K, **kw: correlate_float64(img, K), compare=close(1e-13)),
    case("read-only image and kernel", fastconv.convolve, lambda: (readonly(U8), readonly(K3)),
         expected=lambda img, K: floor_u8(img, K)),
    case("Fortran image with channels", fastconv.convolve, lambda: (np.asfortranarray(np.dstack([U8, U8[::-1]])), K3),
         expected=lambda img, K: np.dstack([floor_u8(img[..., c], K) for c in range(2)])),
    # --- out= / dst= ---------------------------------------------------------------------------------------------
    case("out is the image", fastconv.convolve, make=image_is_out, expected=lambda img, K, **kw: floor_u8(img, K)),
    case("out overlaps the image one row down", fastconv.convolve, make=out_one_row_down,
         expected=lambda img, K, **kw: floor_u8(img, K)),
    case("dst is src", fastconv.filter2D, make=image_is_dst, expected=lambda img, d, K, **kw: cv2.filter2D(img, d, K)),
    case("out Fortran, stretch", fastconv.convolve, lambda: (F32, K3),
         lambda: {"output": "stretch", "out": np.asfortranarray(np.zeros((6, 7), np.uint8))},
         expected=lambda img, K, **kw: stretch_u8(correlate_float64(img, K).astype(np.float32))),
    case("out read-only", fastconv.convolve, lambda: (U8, K3), lambda: {"out": readonly(np.zeros((6, 7), np.uint8))},
         raises=ValueError, match="out must be writeable"),
    case("dst of another dtype", fastconv.filter2D, lambda: (U8, -1, K3), lambda: {"dst": np.zeros((6, 7), np.int16)},
         raises=ValueError, match="dst must have shape"),
    # --- threads ---------------------------------------------------------------------------------------------------
    case("threads 0", fastconv.filter2D, lambda: (U8, -1, K3), lambda: {"threads": 0}, raises=ValueError,
         match="threads must be a positive int"),
    case("threads -1", fastconv.convolve, lambda: (U8, K3), lambda: {"threads": -1}, raises=ValueError,
         match="threads must be a positive int"),
    case("threads 10**30", fastconv.convolve, lambda: (U8, K3), lambda: {"threads": 10**30},
         expected=lambda img, K, **kw: floor_u8(img, K)),
    case("threads numpy int", fastconv.filter2D, lambda: (U8, -1, K3), lambda: {"threads": np.int8(3)},
         expected=lambda img, d, K, **kw: cv2.filter2D(img, d, K)),
    case("threads 1.5", fastconv.convolve, lambda: (U8, K3), lambda: {"threads": 1.5}, raises=TypeError,
         match="threads must be a positive int"),
    # --- anchors and options ---------------------------------------------------------------------------------------
    case("anchor 10**30", fastconv.convolve, lambda: (U8, K3), lambda: {"anchor": (10**30, 0)}, raises=ValueError,
         match="anchor must lie inside the kernel"),
    case("anchor -10**30", fastconv.filter2D, lambda: (U8, -1, K3), lambda: {"anchor": (0, -10**30)},
         raises=ValueError, match="anchor must lie inside the kernel"),
    case("anchor (x, y, z)", fastconv.filter2D, lambda: (U8, -1, K3), lambda: {"anchor": (1, 1, 1)}, raises=TypeError,
         match="anchor must be an"),
    case("anchor as an array", fastconv.convolve, lambda: (U8, K3), lambda: {"anchor": np.array([0, 2])},
         expected=lambda img, K, **kw: cv2.filter2D(img, -1, K, anchor=(2, 0), borderType=cv2.BORDER_REPLICATE)),
    case("border in capitals", fastconv.convolve, lambda: (U8, K3), lambda: {"border": "REPLICATE"},
         raises=ValueError, match="border must be one of"),
    case("output with a space", fastconv.convolve, lambda: (U8, K3), lambda: {"output": "floor "},
         raises=ValueError, match="output must be None or one of"),
    case("accumulate as a dtype", fastconv.convolve, lambda: (U8, K3), lambda: {"accumulate": np.float64},
         raises=ValueError, match="accumulate must be None"),
    case("borderType -1", fastconv.filter2D, lambda: (U8, -1, K3), lambda: {"borderType": -1}, raises=ValueError,
         match="borderType must be one of"),
    case("ddepth 10**30", fastconv.filter2D, lambda: (U8, 10**30, K3), raises=ValueError, match="ddepth must be"),
    case("cval NaN, constant border", fastconv.convolve, lambda: (F32, K3),
         lambda: {"border": "constant", "cval": np.nan, "output": "float"},
         expected=lambda img, K, **kw: as_float32(correlate_nan_rule(img, K, "constant", np.nan)),
         compare=lambda r, e: np.testing.assert_allclose(r, e, rtol=1e-5, atol=1e-3, equal_nan=True)),
    case("cval inf with a replicated border, integer path (regression)", fastconv.convolve, lambda: (U8, K3),
         lambda: {"cval": np.inf}, expected=lambda img, K: floor_u8(img, K)),
    case("cval NaN with a wrapped border, box path (regression)", fastconv.convolve, lambda: (U8, np.ones((3, 3))),
         lambda: {"cval": np.nan, "border": "wrap"}, expected=lambda img, K: floor_u8(img, K, "wrap")),
    case("cval beyond float32 (regression)", fastconv.convolve, lambda: (U8, K3),
         lambda: {"border": "constant", "cval": 1e300}, expected=lambda img, K: floor_u8(img, K, "constant", 1e300)),
    case("sums beyond float32 on an integer image (regression)", fastconv.convolve,
         lambda: (U8, np.array([[1e10, -1e10]])), lambda: {"border": "constant", "cval": 1e30, "output": "float",
                                                           "dtype": np.float64},
         expected=lambda img, K: correlate_float64(img, K, "constant", 1e30), compare=within(1e-14)),
    case("delta +inf on the integer path (regression)", fastconv.filter2D, lambda: (U8, -1, kernels.laplacian()),
         lambda: {"delta": np.inf}, expected=lambda img, d, K, **kw: np.full(img.shape, 255, np.uint8)),
    case("delta NaN on the integer path (regression)", fastconv.filter2D, lambda: (U8, cv2.CV_16S, kernels.sobel_x()),
         lambda: {"delta": np.nan}, expected=lambda img, d, K, **kw: cv2.filter2D(img, d, K, delta=np.nan)),
    # --- kernels.* -------------------------------------------------------------------------------------------------
    case("gaussian with a tiny sigma (regression)", kernels.gaussian, lambda: (5, 1e-300),
         expected=lambda size, sigma: np.outer(*[cv2.getGaussianKernel(5, 1e-300)] * 2)),
    case("gaussian with a huge sigma", kernels.gaussian, lambda: (3, 1e300),
         expected=lambda size, sigma: np.outer(*[cv2.getGaussianKernel(3, 1e300)] * 2)),
    case("gaussian even size", kernels.gaussian, lambda: (4,), raises=ValueError, match="size must be a positive odd"),
    case("gaussian sigma NaN", kernels.gaussian, lambda: (3, np.nan), raises=ValueError, match="sigma must be"),
    case("box 0", kernels.box, lambda: (0,), raises=ValueError, match="size must be a positive int"),
    case("box width 2.0", kernels.box, lambda: (3, 2.0), raises=ValueError, match="width must be a positive int"),
    case("sobel size 3.0 (regression)", kernels.sobel, lambda: (1, 0, 3.0), raises=ValueError,
         match="size must be one of 1, 3, 5, 7"),
    case("sobel orders 0, 0", kernels.sobel, lambda: (0, 0), raises=ValueError, match="dx \\+ dy must be at least 1"),
    case("sobel order >= size", kernels.sobel, lambda: (0, 5, 5), raises=ValueError, match="below size=5"),
    case("sobel 5x5 dx=2", kernels.sobel, lambda: (2, 1, 5),
         expected=lambda dx, dy, size: np.outer(*cv2.getDerivKernels(2, 1, 5, ktype=cv2.CV_64F)[::-1])),
    case("scharr (1, 1)", kernels.scharr, lambda: (1, 1), raises=ValueError, match="\\(dx, dy\\) must be"),
    case("get None", kernels.get, lambda: (None,), raises=TypeError, match="spec must be a str"),
    case("get unknown", kernels.get, lambda: ("median:3",), raises=ValueError, match="spec must name a kernel"),
    case("get non-number", kernels.get, lambda: ("box:three",), raises=ValueError, match="spec parameters must be"),
    case("get too many numbers", kernels.get, lambda: ("sobel:1:0:3:3",), raises=ValueError,
         match="wrong number of parameters"),
    case("get gaussian tiny sigma (regression)", kernels.get, lambda: ("gaussian:3:1e-200",),
         expected=lambda spec: np.outer(*[cv2.getGaussianKernel(3, 1e-200)] * 2)),
    case("tutorial_bank takes no argument", kernels.tutorial_bank, lambda: (1,), raises=TypeError, match="argument"),
    # --- config ----------------------------------------------------------------------------------------------------
    case("show_config to an int (regression)", fastconv.show_config, lambda: (3,), raises=TypeError,
         match="file must be None or a file-like"),
    case("config takes no argument", fastconv.config, lambda: ("all",), raises=TypeError, match="argument"),
]


def stretch_u8(values):
    lo, hi = values.min(), values.max()
    return np.rint((values.astype(np.float64) - lo) * (255 / (hi - lo))).astype(np.uint8)


def snapshot(value):
    if isinstance(value, np.ndarray):
        flags = (value.flags.writeable, value.flags.c_contiguous, value.flags.f_contiguous, value.flags.owndata)
        return ("array", value.dtype, value.shape, value.strides, flags, value.tobytes())
    if isinstance(value, memoryview):
        return ("memoryview", value.tobytes())
    return ("value", repr(value))


def unchanged(value, before):
    after = snapshot(value)
    assert after[:-1] == before[:-1], "an input's dtype, shape, strides or flags changed"
    if isinstance(after[-1], np.ndarray):
        np.testing.assert_array_equal(after[-1], before[-1])
    else:
        assert after[-1] == before[-1], "an input's values changed"


@pytest.mark.parametrize("func, make, raises, match, expected, compare", CASES)
def test_hostile_input(func, make, raises, match, expected, compare):
    args, kwargs = make()
    out = kwargs.get("out", kwargs.get("dst"))
    inputs = [a for a in (*args, *kwargs.values()) if a is not out]
    watched = [a for a in inputs if not (isinstance(out, np.ndarray) and isinstance(a, np.ndarray)
                                         and np.shares_memory(a, out))]
    before = [snapshot(a) for a in watched]
    if raises is not None:
        with pytest.raises(raises, match=match):
            func(*args, **kwargs)
    else:
        fresh_args, _ = make()
        reference = expected(*fresh_args)
        result = func(*args, **kwargs)
        if out is not None:
            assert result is out
        compare(np.asarray(result), reference)
    for value, snap in zip(watched, before):
        unchanged(value, snap)


def test_show_config_writes_every_config_entry():
    text = io.StringIO()
    fastconv.show_config(file=text)
    lines = text.getvalue().splitlines()
    config = fastconv.config()
    assert [line.split(":", 1)[0] for line in lines] == list(config)
    assert config["simd_variant"] in config["simd_variants_available"]


def test_the_table_is_large_and_covers_every_public_function():
    funcs = {p.values[0] for p in CASES}
    assert len(CASES) >= 30
    assert {fastconv.convolve, fastconv.filter2D, fastconv.show_config, fastconv.config, kernels.gaussian,
            kernels.box, kernels.sobel, kernels.scharr, kernels.get, kernels.tutorial_bank} <= funcs

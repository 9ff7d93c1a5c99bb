"""Bad input: a ValueError or TypeError whose message names the parameter; the inputs stay unchanged."""
import numpy as np
import pytest

import fastconv

IMG = np.arange(36, dtype=np.uint8).reshape(6, 6)
K3 = np.ones((3, 3))

CASES = [
    # (description, args, kwargs, exception, message pattern)
    ("image is None", (None, K3), {}, TypeError, "image"),
    ("image is a string", ("cat.png", K3), {}, TypeError, "image"),
    ("image is a dict", ({"a": 1}, K3), {}, TypeError, "image"),
    ("ragged image", ([[1, 2], [3]], K3), {}, TypeError, "image"),
    ("1-D image", (np.zeros(5, np.uint8), K3), {}, ValueError, "image must be 2-D"),
    ("0-D image", (np.uint8(3), K3), {}, ValueError, "image must be 2-D"),
    ("4-D image", (np.zeros((2, 3, 4, 5), np.uint8), K3), {}, ValueError, "image must be 2-D"),
    ("complex image", (IMG.astype(complex), K3), {}, TypeError, "image must have a real numeric dtype"),
    ("object image", (IMG.astype(object), K3), {}, TypeError, "image must have a real numeric dtype"),
    ("bool image", (IMG > 3, K3), {}, TypeError, "image must have a real numeric dtype"),
    ("kernel is None", (IMG, None), {}, TypeError, "K must"),
    ("empty kernel", (IMG, np.ones((0, 3))), {}, ValueError, "K must not be empty"),
    ("1-D kernel", (IMG, np.ones(3)), {}, ValueError, "K must be 2-D"),
    ("4-D kernel", (IMG, np.ones((2, 3, 3, 3))), {}, ValueError, r"K must be 2-D \(kh, kw\), or a bank"),
    ("ragged bank", (IMG, [np.ones((3, 3)), np.ones((5, 5))]), {}, ValueError,
     "K: the kernels of a bank must have one shape"),
    ("empty bank", (IMG, np.ones((0, 3, 3))), {}, ValueError, "K: a bank must hold at least one kernel"),
    ("NaN in a bank", (IMG, np.stack([K3, K3 * np.nan])), {}, ValueError, r"K\[1\] must be finite"),
    ("empty kernel in a bank", (IMG, np.ones((2, 0, 3))), {}, ValueError, r"K\[0\] must not be empty"),
    ("2-D image with stack", (IMG, K3), {"stack": True}, ValueError, r"image must be 3-D \(N, H, W\)"),
    ("5-D stack", (np.zeros((2, 2, 3, 4, 5), np.uint8), K3), {"stack": True}, ValueError, "image must be 3-D"),
    ("stack not a bool", (IMG[None], K3), {"stack": 1}, TypeError, "stack"),
    ("stack mask of one frame", (IMG[None].astype(float), K3), {"stack": True, "nan_policy": "omit",
                                                                "mask": np.zeros((6, 6), bool)}, ValueError,
     r"mask must have the image's shape \(1, 6, 6\)"),
    ("NaN kernel", (IMG, np.array([[0, np.nan], [1, 1]])), {}, ValueError, "K must be finite"),
    ("inf kernel", (IMG, np.array([[0, np.inf], [1, 1]])), {}, ValueError, "K must be finite"),
    ("complex kernel", (IMG, K3.astype(complex)), {}, TypeError, "K must have a real numeric dtype"),
    ("object kernel", (IMG, K3.astype(object)), {}, TypeError, "K must have a real numeric dtype"),
    ("unknown border", (IMG, K3), {"border": "mirror"}, ValueError, "border must be one of"),
    ("border not a string", (IMG, K3), {"border": 1}, ValueError, "border must be one of"),
    ("unknown output", (IMG, K3), {"output": "clip"}, ValueError, "output must be None or one of"),
    ("cval a string", (IMG, K3), {"cval": "0"}, TypeError, "cval must be a real number"),
    ("threads 0", (IMG, K3), {"threads": 0}, ValueError, "threads must be a positive int"),
    ("threads -1", (IMG, K3), {"threads": -1}, ValueError, "threads must be a positive int"),
    ("threads float", (IMG, K3), {"threads": 2.0}, TypeError, "threads must be a positive int"),
    ("threads bool", (IMG, K3), {"threads": True}, TypeError, "threads must be a positive int"),
    ("threads string", (IMG, K3), {"threads": "2"}, TypeError, "threads must be a positive int"),
    ("dtype not a dtype", (IMG, K3), {"dtype": "pixels"}, TypeError, "dtype must be a numpy dtype"),
    ("float dtype for round", (IMG, K3), {"output": "round", "dtype": np.float32}, ValueError,
     "dtype for output='round' must be one of uint8, uint16, int16"),
    ("int dtype for float", (IMG, K3), {"output": "float", "dtype": np.uint8}, ValueError,
     "dtype for output='float' must be one of float32, float64"),
    ("int32 dtype for floor", (IMG, K3), {"dtype": np.int32}, ValueError, "dtype for output='floor'"),
    ("anchor outside", (IMG, K3), {"anchor": (3, 1)}, ValueError, "anchor must lie inside the kernel"),
    ("anchor negative", (IMG, K3), {"anchor": (-1, -1)}, ValueError, "anchor must lie inside the kernel"),
    ("anchor not a pair", (IMG, K3), {"anchor": 1}, TypeError, "anchor must be None or a \\(row, col\\) pair"),
    ("anchor floats", (IMG, K3), {"anchor": (1.0, 1.0)}, TypeError, "anchor must be None or a \\(row, col\\)"),
    ("accumulate unknown", (IMG, K3), {"accumulate": "float16"}, ValueError, "accumulate must be None"),
    ("flip not bool", (IMG, K3), {"flip": 1}, TypeError, "flip must be True or False"),
    ("out wrong dtype", (IMG, K3), {"out": np.empty((6, 6), np.float32)}, ValueError, "out must have shape"),
    ("out not an array", (IMG, K3), {"out": "x"}, TypeError, "out must be None or a numpy.ndarray"),
]

FILTER2D_CASES = [
    ("src None", (None, -1, K3), {}, TypeError, "src must"),
    ("src int8", (IMG.astype(np.int8), -1, K3), {}, TypeError, "src must be uint8, uint16, int16"),
    ("src 4-D", (np.zeros((1, 2, 3, 4), np.uint8), -1, K3), {}, ValueError, "src must be 2-D"),
    ("kernel empty", (IMG, -1, np.ones((2, 0))), {}, ValueError, "kernel must not be empty"),
    ("kernel NaN", (IMG, -1, np.full((3, 3), np.nan)), {}, ValueError, "kernel must be finite"),
    ("ddepth float", (IMG, 5.0, K3), {}, TypeError, "ddepth must be an int"),
    ("ddepth 8S", (IMG, 1, K3), {}, ValueError, "ddepth must be one of -1, CV_8U"),
    ("anchor outside", (IMG, -1, K3), {"anchor": (3, 0)}, ValueError, "anchor must lie inside the kernel"),
    ("anchor not a pair", (IMG, -1, K3), {"anchor": None}, TypeError, "anchor must be an \\(x, y\\) pair"),
    ("delta string", (IMG, -1, K3), {"delta": "1"}, TypeError, "delta must be a real number"),
    ("borderType string", (IMG, -1, K3), {"borderType": "wrap"}, TypeError, "borderType must be an int"),
    ("borderType transparent", (IMG, -1, K3), {"borderType": 5}, ValueError, "borderType must be one of"),
    ("dst wrong shape", (IMG, -1, K3), {"dst": np.empty((5, 6), np.uint8)}, ValueError, "dst must have shape"),
    ("threads zero", (IMG, -1, K3), {"threads": 0}, ValueError, "threads must be a positive int"),
]


@pytest.mark.parametrize("args, kwargs, exc, pattern", [c[1:] for c in FILTER2D_CASES],
                         ids=[c[0] for c in FILTER2D_CASES])
def test_bad_filter2D_input_is_refused_clearly(args, kwargs, exc, pattern):
    before = [a.copy() if isinstance(a, np.ndarray) else None for a in args]
    with pytest.raises(exc, match=pattern) as info:
        fastconv.filter2D(*args, **kwargs)
    assert "cv2" not in type(info.value).__module__
    for arg, copy in zip(args, before):
        if copy is not None:
            np.testing.assert_array_equal(arg, copy)


@pytest.mark.parametrize("args, kwargs, exc, pattern", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_refused_clearly(args, kwargs, exc, pattern):
    before = [a.copy() if isinstance(a, np.ndarray) else None for a in args]
    with pytest.raises(exc, match=pattern):
        fastconv.convolve(*args, **kwargs)
    for arg, copy in zip(args, before):
        if copy is not None:
            np.testing.assert_array_equal(arg, copy)


def test_unknown_keyword_is_refused():
    with pytest.raises(TypeError, match="unexpected keyword"):
        fastconv.convolve(IMG, K3, borderType=1)

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
    ("kernel is None", (IMG, None), {}, TypeError, "kernel"),
    ("empty kernel", (IMG, np.ones((0, 3))), {}, ValueError, "kernel must not be empty"),
    ("1-D kernel", (IMG, np.ones(3)), {}, ValueError, "kernel must be 2-D"),
    ("3-D kernel", (IMG, np.ones((3, 3, 3))), {}, ValueError, "kernel must be 2-D"),
    ("NaN kernel", (IMG, np.array([[0, np.nan], [1, 1]])), {}, ValueError, "kernel must be finite"),
    ("inf kernel", (IMG, np.array([[0, np.inf], [1, 1]])), {}, ValueError, "kernel must be finite"),
    ("complex kernel", (IMG, K3.astype(complex)), {}, TypeError, "kernel must have a real numeric dtype"),
    ("object kernel", (IMG, K3.astype(object)), {}, TypeError, "kernel must have a real numeric dtype"),
    ("unknown border", (IMG, K3), {"border": "mirror"}, ValueError, "border must be one of"),
    ("border not a string", (IMG, K3), {"border": 1}, ValueError, "border must be one of"),
    ("unknown output", (IMG, K3), {"output": "clip"}, ValueError, "output must be one of"),
    ("cval a string", (IMG, K3), {"cval": "0"}, TypeError, "cval must be a real number"),
    ("threads 0", (IMG, K3), {"threads": 0}, ValueError, "threads must be a positive int"),
    ("threads -1", (IMG, K3), {"threads": -1}, ValueError, "threads must be a positive int"),
    ("threads float", (IMG, K3), {"threads": 2.0}, TypeError, "threads must be a positive int"),
    ("threads bool", (IMG, K3), {"threads": True}, TypeError, "threads must be a positive int"),
    ("threads string", (IMG, K3), {"threads": "2"}, TypeError, "threads must be a positive int"),
]


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

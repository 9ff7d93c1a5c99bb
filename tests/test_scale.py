"""An image of more than 2**31 pixels (50000 x 45000 uint8) through every path: no 32-bit index overflow anywhere.

Slow: about 4.5 GB of memory (the image and one reused output) and about 20 seconds on 2 cores. Run alone with
``python -m pytest tests/test_scale.py``. Rows are spot-checked against cv2.filter2D on crops with enough rows of
border context: the top and bottom rows, the rows around pixel 2**31 (row 2**31 // 45000 = 47721) and across a
block boundary, each over the full width, so the last columns are checked too.
"""
import numpy as np
import pytest

import fastconv
from fastconv import _plan

cv2 = pytest.importorskip("cv2")
pytestmark = pytest.mark.slow

H, W = 50_000, 45_000
BLOCK = 1000
CHECKED_ROWS = [(0, 3), (2**31 // W - 2, 2**31 // W + 3), (48 * BLOCK - 2, 48 * BLOCK + 2), (H - 3, H)]
# Small non-negative integer kernels on pixels below 64: sums stay in uint8, exact in every path and in cv2.
KERNELS = {
    "integer": np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], np.float64),
    "direct": np.array([[1, 0, 2], [0, 0, 0], [1, 0, 0]], np.float64),
    "separable": np.outer([1.0, 1.0], [1.0, 0.0, 1.0]),
    "box": np.ones((2, 2)),
    "fft": np.array([[0.375, 0, 0.25], [0, 0, 0], [0.5, 0, 0.125]]),     # not integer: no exact sums promised
}


@pytest.fixture(scope="module")
def big_image():
    """50000 x 45000 uint8 below 64: one random block of rows, shifted by a different amount in every block, so a
    wrong row or column index reads different values."""
    assert H * W > 2**31
    base = np.random.default_rng(31).integers(0, 64, (BLOCK, W), dtype=np.uint8)
    image = np.empty((H, W), np.uint8)
    for b in range(H // BLOCK):
        block = image[b * BLOCK:(b + 1) * BLOCK]
        np.add(base, np.uint8(37 * b % 64), out=block)
        np.bitwise_and(block, 63, out=block)
    return image


@pytest.fixture(scope="module")
def big_out():
    return np.empty((H, W), np.uint8)


def reference_rows(image, K, y0, y1):
    """cv2.filter2D's rows y0..y1 (replicated border) from a crop with kh rows of context on each side."""
    kh = K.shape[0]
    a, b = max(0, y0 - kh), min(H, y1 + kh)
    return cv2.filter2D(image[a:b], -1, K, borderType=cv2.BORDER_REPLICATE)[y0 - a:y1 - a]


@pytest.mark.parametrize("path", list(KERNELS))
def test_more_than_2_31_pixels_on_every_path(big_image, big_out, path):
    K = KERNELS[path]
    with _plan.force(path):
        result = fastconv.convolve(big_image, K, output="round", out=big_out)
    assert result is big_out
    for y0, y1 in CHECKED_ROWS:
        expected = reference_rows(big_image, K, y0, y1)
        if path == "fft":   # sums of eighths: the transform's rounding noise may break a tie the other way
            difference = np.abs(result[y0:y1].astype(int) - expected)
            assert difference.max() <= 1 and np.mean(difference) < 0.2, f"rows {y0}:{y1}"
        else:
            np.testing.assert_array_equal(result[y0:y1], expected, err_msg=f"rows {y0}:{y1}")

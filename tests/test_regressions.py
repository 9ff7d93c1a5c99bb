"""Bugs found by the fuzzing and hostile-input tests, each pinned by the smallest case that showed it."""
import numpy as np
import pytest

import fastconv
from fastconv import _taps
from helpers import path_of
from twins import correlate_float64


@pytest.mark.parametrize("dtype", [np.uint16, np.int16])
@pytest.mark.parametrize("v, h", [([1, 2, 3, 2, 1], [3, 1, 1, 1, 3]), ([1] * 6, [3, 2, 2, 2, 2, 3])])
def test_integer_rank1_kernels_are_exact_on_16_bit_images(dtype, v, h):
    # The separable path used the factors (column, row / pivot): 1/3 in float made 1-2% of the floor outputs of
    # 16-bit images one level low, although integer kernels are documented to be exact.
    K = np.outer(v, h).astype(np.float64)
    assert path_of(K, dtype) == "separable"
    image = np.random.default_rng(1).integers(0, 900, (40, 40)).astype(dtype)
    exact = correlate_float64(image, K)
    for output, rounding in (("floor", np.floor), ("round", np.rint)):
        ours = fastconv.convolve(image, K, output=output, dtype=dtype)
        info = np.iinfo(dtype)
        np.testing.assert_array_equal(ours, rounding(np.clip(exact, info.min, info.max)))


def test_integer_kernels_get_integer_factors():
    K = np.outer([-3.0, -3.0], [3.0, -2.0, -2.0])
    v, h, residual = _taps.rank1(K)
    assert residual == 0
    np.testing.assert_array_equal(np.outer(v, h), K)
    np.testing.assert_array_equal(v, np.round(v))
    np.testing.assert_array_equal(h, np.round(h))


def test_a_kernel_changed_in_place_between_calls_is_read_again():
    """Checked kernels are remembered by their bytes: changing the caller's array gives the new result."""
    image = np.arange(30, dtype=np.uint8).reshape(5, 6)
    K = np.zeros((3, 3))
    K[1, 1] = 1
    np.testing.assert_array_equal(fastconv.convolve(image, K), image)
    K[1, 1] = 2
    np.testing.assert_array_equal(fastconv.convolve(image, K), np.minimum(2 * image.astype(int), 255))
    assert K.flags.writeable                    # the caller's array is left as it was
    K32 = K.astype(np.float32)                  # the same values in another dtype
    np.testing.assert_array_equal(fastconv.convolve(image, K32), fastconv.convolve(image, K))


def test_a_negative_zero_delta_is_kept_whatever_came_before():
    """filter2D adds delta to every sum: the zero sums here (-1 x 0 = -0.0) plus delta -0.0 stay -0.0, plus 0.0
    become +0.0 (as cv2.filter2D gives), whatever delta the call before used."""
    image = np.zeros((2, 3), np.float32)
    K = -np.ones((1, 1), np.float32)
    for delta in (0.0, -0.0, 0.0, -0.0):
        out = fastconv.filter2D(image, -1, K, delta=delta)
        assert np.signbit(out).all() == (str(delta) == "-0.0"), delta
        assert not np.signbit(out).any() or str(delta) == "-0.0"

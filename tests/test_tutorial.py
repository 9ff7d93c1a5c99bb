"""fastconv.convolve against a faithful float64 re-implementation of the tutorial (the default output)."""
import numpy as np
import pytest
from hypothesis import given

import fastconv
from strategies import float_kernels, integer_kernels, uint8_images
from twins import tutorial_convolve

skimage_data = pytest.importorskip("skimage.data")


def test_identical_for_integer_kernels(variant):
    @given(uint8_images(), integer_kernels())
    def check(image, K):
        np.testing.assert_array_equal(fastconv.convolve(image, K), tutorial_convolve(image, K))

    check()


def test_within_one_level_for_any_kernel(variant):
    @given(uint8_images(), float_kernels())
    def check(image, K):
        diff = fastconv.convolve(image, K).astype(int) - tutorial_convolve(image, K)
        assert np.abs(diff).max() <= 1

    check()


def test_large_integer_sums_stay_exact():
    # partial sums beyond float32's exact range must not round: the accumulator widens for them
    rng = np.random.default_rng(7)
    image = rng.integers(0, 256, (12, 15), dtype=np.uint8)
    K = rng.integers(-100_000, 100_001, (5, 5))
    K[2, 2] = -K.sum() + 3   # taps cancel: the response is small and not clipped away everywhere
    np.testing.assert_array_equal(fastconv.convolve(image, K), tutorial_convolve(image, K))


@pytest.fixture(scope="module")
def photograph():
    return skimage_data.camera()   # a real photograph shipped with scikit-image


@pytest.mark.parametrize("name", ["sharpen", "laplacian", "sobel_x", "sobel_y", "emboss"])
def test_bank_identical_on_a_photograph(photograph, name):
    K = fastconv.kernels.tutorial_bank()[name]
    np.testing.assert_array_equal(fastconv.convolve(photograph, K), tutorial_convolve(photograph, K))


@pytest.mark.parametrize("name", ["small_blur", "large_blur"])
def test_boxes_within_one_level_on_a_photograph(photograph, name):
    K = fastconv.kernels.tutorial_bank()[name]
    diff = fastconv.convolve(photograph, K).astype(int) - tutorial_convolve(photograph, K)
    assert np.abs(diff).max() <= 1
    assert (diff != 0).mean() < 0.05   # off by one only where the exact mean is an integer

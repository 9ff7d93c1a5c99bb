"""flip=True is a true convolution, equal to scipy.ndimage.convolve for every border and kernel shape."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastconv
from strategies import any_kernels, float_images

ndimage = pytest.importorskip("scipy.ndimage")

MODES = {"replicate": "nearest", "reflect101": "mirror", "wrap": "wrap", "constant": "constant"}


def test_flip_equals_ndimage_convolve(variant):
    @given(float_images(np.float64), any_kernels, st.sampled_from(list(MODES)))
    def check(image, K, border):
        ours = fastconv.convolve(image, K, flip=True, border=border, cval=2.0, output="float")
        expected = ndimage.convolve(image, K.astype(np.float64), mode=MODES[border], cval=2.0)
        tol = 1e-12 * np.abs(K).sum() * max(np.abs(image).max(), 2.0)
        np.testing.assert_allclose(ours, expected, rtol=0, atol=tol)

    check()


def test_flip_of_a_symmetric_kernel_changes_nothing():
    image = np.random.default_rng(0).integers(0, 256, (20, 30), dtype=np.uint8)
    K = fastconv.kernels.gaussian(5, 1.0)
    np.testing.assert_array_equal(fastconv.convolve(image, K, flip=True), fastconv.convolve(image, K))


def test_flip_must_be_a_bool():
    with pytest.raises(TypeError, match="flip must be True or False"):
        fastconv.convolve(np.zeros((3, 3)), np.ones((3, 3)), flip="yes")

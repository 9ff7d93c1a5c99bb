"""Every border mode against scipy.ndimage (which reproduces OpenCV's modes), kernels larger than the image too.

scipy.ndimage's 'reflect' reads outside its line buffer once a kernel reaches about four image lengths past an
edge (its output then depends on uninitialised memory); there the oracle is numpy.pad('symmetric'), which agrees
with cv2.copyMakeBorder(BORDER_REFLECT) as checked below.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastconv
from strategies import any_kernels, float_images, uint8_images
from twins import correlate_float64

ndimage = pytest.importorskip("scipy.ndimage")

NDIMAGE_MODE = {"replicate": "nearest", "reflect": "reflect", "reflect101": "mirror", "wrap": "wrap",
                "constant": "constant"}


def ndimage_is_reliable(border, shape, kshape):
    return border != "reflect" or all(k < 4 * n for n, k in zip(shape, kshape))


def test_numpy_pad_twin_reflects_like_opencv():
    cv2 = pytest.importorskip("cv2")
    image = np.array([[1.0, 2.0], [3.0, 4.0]])
    for top, bottom, left, right in [(0, 0, 9, 8), (17, 16, 1, 0), (5, 7, 12, 3)]:
        theirs = cv2.copyMakeBorder(image, top, bottom, left, right, cv2.BORDER_REFLECT)
        ours = np.pad(image, ((top, bottom), (left, right)), mode="symmetric")
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("border", list(NDIMAGE_MODE))
def test_float64_equals_ndimage(variant, border):
    @given(float_images(np.float64), any_kernels, st.sampled_from([0.0, -3.5, 255.0]))
    def check(image, K, cval):
        ours = fastconv.convolve(image, K, border=border, cval=cval, output="float")
        tol = 1e-12 * np.abs(K).sum() * max(np.abs(image).max(), abs(cval), 1.0)
        np.testing.assert_allclose(ours, correlate_float64(image, K, border, cval), rtol=0, atol=tol)
        if ndimage_is_reliable(border, image.shape, K.shape):
            expected = ndimage.correlate(image, K.astype(np.float64), mode=NDIMAGE_MODE[border], cval=cval)
            np.testing.assert_allclose(ours, expected, rtol=0, atol=tol)

    check()


@pytest.mark.parametrize("border", list(NDIMAGE_MODE))
def test_uint8_round_equals_ndimage(variant, border):
    @given(uint8_images(), any_kernels)
    def check(image, K):
        exact = correlate_float64(image, K, border)
        expected = np.clip(np.rint(exact), 0, 255)
        ours = fastconv.convolve(image, K, border=border, output="round")
        assert np.abs(ours.astype(int) - expected).max() <= 1

    check()


def test_constant_border_uses_cval():
    image = np.full((3, 3), 10, np.uint8)
    out = fastconv.convolve(image, np.ones((3, 3)), border="constant", cval=1.0, output="float")
    # corner: 4 image pixels + 5 border samples; edge: 6 + 3; centre: 9 image pixels
    np.testing.assert_array_equal(out, [[45, 63, 45], [63, 90, 63], [45, 63, 45]])

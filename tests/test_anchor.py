"""Anchors: OpenCV's convention by default (k // 2 per axis, even sizes too), explicit anchors inside the kernel."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastconv
from strategies import any_kernels, uint8_images

cv2 = pytest.importorskip("cv2")
ndimage = pytest.importorskip("scipy.ndimage")


@st.composite
def kernels_with_anchor(draw):
    K = draw(any_kernels)
    return K, (draw(st.integers(0, K.shape[0] - 1)), draw(st.integers(0, K.shape[1] - 1)))


def test_explicit_anchor_matches_cv2(variant):
    @given(uint8_images(), kernels_with_anchor())
    def check(image, K_anchor):
        K, (ay, ax) = K_anchor
        ours = fastconv.convolve(image, K, anchor=(ay, ax), output="round")
        theirs = cv2.filter2D(image, -1, K.astype(np.float64), anchor=(ax, ay), borderType=cv2.BORDER_REPLICATE)
        assert np.abs(ours.astype(int) - theirs).max() <= 1
        np.testing.assert_array_equal(fastconv.filter2D(image, -1, K, anchor=(ax, ay), borderType=1), ours)

    check()


def test_explicit_anchor_matches_ndimage_origin(variant):
    @given(uint8_images(), kernels_with_anchor(), st.sampled_from(["nearest", "mirror", "wrap", "constant"]))
    def check(image, K_anchor, mode):
        K, (ay, ax) = K_anchor
        border = {"nearest": "replicate", "mirror": "reflect101", "wrap": "wrap", "constant": "constant"}[mode]
        ours = fastconv.convolve(image.astype(np.float64), K, anchor=(ay, ax), output="float", border=border)
        origin = (ay - K.shape[0] // 2, ax - K.shape[1] // 2)   # ndimage measures the anchor from the centre
        expected = ndimage.correlate(image.astype(np.float64), K.astype(np.float64), mode=mode, origin=origin)
        np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-9 * np.abs(K).sum() * 255)

    check()


def test_default_anchor_is_cv2_centre_for_even_sizes():
    image = np.arange(16, dtype=np.uint8).reshape(4, 4)
    K = np.zeros((2, 4))
    K[1, 2] = 1   # the default anchor tap (1, 2): the identity
    np.testing.assert_array_equal(fastconv.convolve(image, K), image)


@pytest.mark.parametrize("anchor", [(3, 0), (0, 3), (-1, 0), (0, -2), (10, 10)])
def test_anchor_outside_the_kernel_is_refused(anchor):
    with pytest.raises(ValueError, match="anchor must lie inside the kernel"):
        fastconv.convolve(np.zeros((5, 5), np.uint8), np.ones((3, 3)), anchor=anchor)


@pytest.mark.parametrize("anchor", [(3, 0), (0, 3), (-2, 0), (5, -1)])
def test_filter2D_anchor_outside_the_kernel_is_refused(anchor):
    with pytest.raises(ValueError, match="anchor must lie inside the kernel"):
        fastconv.filter2D(np.zeros((5, 5), np.uint8), -1, np.ones((3, 3)), anchor=anchor)

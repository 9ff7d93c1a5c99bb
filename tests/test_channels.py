"""H x W x C images: the same kernel on every channel, equal to filtering each channel alone, and to cv2."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastconv
from strategies import any_kernels

cv2 = pytest.importorskip("cv2")


@st.composite
def colour_images(draw):
    h, w, c = draw(st.integers(1, 30)), draw(st.integers(1, 30)), draw(st.integers(1, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return rng.integers(0, 256, (h, w, c), dtype=np.uint8)


def test_channels_equal_single_channel_filtering(variant):
    @given(colour_images(), any_kernels, st.sampled_from(["floor", "round", "float"]),
           st.sampled_from(["replicate", "reflect", "reflect101", "wrap", "constant"]))
    def check(image, K, output, border):
        out = fastconv.convolve(image, K, output=output, border=border)
        assert out.shape == image.shape and out.flags.c_contiguous
        for c in range(image.shape[2]):
            np.testing.assert_array_equal(out[..., c], fastconv.convolve(image[..., c], K, output=output,
                                                                         border=border))

    check()


def test_channels_match_cv2(variant):
    @given(colour_images(), any_kernels)
    def check(image, K):
        ours = fastconv.filter2D(image, -1, K, borderType=fastconv.BORDER_REPLICATE)
        theirs = cv2.filter2D(image, -1, K.astype(np.float64), borderType=cv2.BORDER_REPLICATE)
        theirs = theirs.reshape(image.shape)   # cv2 drops a trailing channel axis of length 1
        assert np.abs(ours.astype(int) - theirs).max() <= 1

    check()


def test_stretch_uses_one_range_for_all_channels():
    image = np.zeros((5, 5, 2), np.uint8)
    image[2, 2] = (10, 100)
    out = fastconv.convolve(image, fastconv.kernels.laplacian(), output="stretch")
    assert out[..., 1].max() == 255 and 0 < out[..., 0].max() < 255

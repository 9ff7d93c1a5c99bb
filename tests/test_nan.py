"""NaN and inf in float images: spread through the non-zero taps, and only those, for every border and kernel."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastconv
from strategies import any_kernels, float_images
from twins import correlate_nan_rule


@st.composite
def images_with_specials(draw):
    image = draw(float_images(draw(st.sampled_from([np.float32, np.float64]))))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    special = rng.random(image.shape) < draw(st.sampled_from([0.02, 0.2]))
    image[special] = rng.choice([np.nan, np.inf, -np.inf], size=int(special.sum()))
    return image


def test_nan_and_inf_follow_the_nonzero_taps(variant):
    @given(images_with_specials(), any_kernels, st.sampled_from(["replicate", "reflect101", "wrap", "constant"]))
    def check(image, K, border):
        ours = fastconv.convolve(image, K, output="float", border=border)
        expected = correlate_nan_rule(image, K, border)
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(expected))
        np.testing.assert_array_equal(np.isposinf(ours), np.isposinf(expected))
        np.testing.assert_array_equal(np.isneginf(ours), np.isneginf(expected))

    check()


def test_nan_becomes_zero_in_integer_outputs():
    image = np.full((5, 5), 100.0, np.float32)
    image[2, 2] = np.nan
    for output in ("floor", "round"):
        out = fastconv.convolve(image, np.ones((3, 3)), output=output)
        assert (out[1:4, 1:4] == 0).all() and out[0, 0] == 255
    assert fastconv.convolve(image, np.ones((3, 3)), output="round", dtype=np.int16)[2, 2] == -32768


def test_nan_kernel_is_refused():
    with pytest.raises(ValueError, match="kernel must be finite"):
        fastconv.filter2D(np.zeros((4, 4), np.float32), -1, np.array([[np.nan]]))

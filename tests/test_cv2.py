"""fastconv.convolve against cv2.filter2D with a replicated border, for every output policy."""
import numpy as np
import pytest
from hypothesis import assume, given

import fastconv
from strategies import any_kernels, float_images, uint8_images
from twins import correlate_float64, near_tie

cv2 = pytest.importorskip("cv2")

F32_EPS = np.finfo(np.float32).eps


def cv2_filter(image, K, ddepth=-1):
    return cv2.filter2D(image, ddepth, np.asarray(K, np.float64), borderType=cv2.BORDER_REPLICATE)


def float_tolerance(image, K):
    """float32 rounding, scaled by the largest magnitude a sum can reach."""
    return 64 * F32_EPS * np.abs(K).sum() * max(float(np.abs(image).max()), 1.0)


def test_round_matches_cv2(variant):
    seen = {"pixels": 0, "different": 0}

    @given(uint8_images(), any_kernels)
    def check(image, K):
        ours, theirs = fastconv.convolve(image, K, output="round"), cv2_filter(image, K)
        assert ours.dtype == theirs.dtype == np.uint8
        diff = np.abs(ours.astype(int) - theirs)
        assert diff.max() <= 1
        # at an exact tie (k + 0.5, e.g. the mean of an even box) float32 noise picks the side, in cv2 as in
        # fastconv; every other pixel must agree. test_bank_matches_cv2_at_1080p counts every pixel.
        exact = correlate_float64(image, K)
        seen["pixels"] += diff.size
        seen["different"] += int(np.count_nonzero(diff[~near_tie(exact, float_tolerance(image, K))]))

    check()
    assert seen["different"] <= 0.001 * seen["pixels"], seen


def test_floor_matches_cv2_float64_floored(variant):
    @given(uint8_images(), any_kernels)
    def check(image, K):
        expected = np.floor(np.clip(cv2_filter(image, K, cv2.CV_64F), 0, 255))
        diff = fastconv.convolve(image, K, output="floor").astype(int) - expected
        assert np.abs(diff).max() <= 1

    check()


def test_float_output_from_uint8_matches_cv2(variant):
    @given(uint8_images(), any_kernels)
    def check(image, K):
        ours = fastconv.convolve(image, K, output="float")
        assert ours.dtype == np.float32
        np.testing.assert_allclose(ours, cv2_filter(image, K, cv2.CV_32F), rtol=0, atol=float_tolerance(image, K))

    check()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_images_match_cv2(variant, dtype):
    @given(float_images(dtype), any_kernels)
    def check(image, K):
        ours = fastconv.convolve(image, K, output="float")
        assert ours.dtype == dtype
        np.testing.assert_allclose(ours, cv2_filter(image, K), rtol=0, atol=float_tolerance(image, K))

    check()


def test_stretch_matches_stretched_cv2(variant):
    @given(uint8_images(), any_kernels)
    def check(image, K):
        raw = cv2_filter(image, K, cv2.CV_64F)
        span = raw.max() - raw.min()
        ours = fastconv.convolve(image, K, output="stretch")
        assume(span > float_tolerance(image, K) * 1e3)   # stretching a flat response only amplifies rounding noise
        expected = np.rint((raw - raw.min()) * (255.0 / span))
        assert np.abs(ours.astype(int) - expected).max() <= 1

    check()


def test_bank_matches_cv2_at_1080p():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (1080, 1920), dtype=np.uint8)
    for name, K in fastconv.kernels.tutorial_bank().items():
        diff = np.abs(fastconv.convolve(image, K, output="round").astype(int) - cv2_filter(image, K))
        assert diff.max() <= 1, name
        assert np.count_nonzero(diff) <= 0.001 * diff.size, name

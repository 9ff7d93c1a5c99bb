"""fastconv.filter2D as a drop-in for cv2.filter2D: every depth pair, border, anchor and delta."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastconv
from strategies import any_kernels, images_of
from twins import near_tie

cv2 = pytest.importorskip("cv2")
ndimage = pytest.importorskip("scipy.ndimage")

PAIRS = [(np.uint8, d) for d in (-1, cv2.CV_8U, cv2.CV_16U, cv2.CV_16S, cv2.CV_32F, cv2.CV_64F)] + [
    (np.uint16, d) for d in (-1, cv2.CV_16U, cv2.CV_32F, cv2.CV_64F)] + [
    (np.int16, d) for d in (-1, cv2.CV_16S, cv2.CV_32F, cv2.CV_64F)] + [
    (np.float32, -1), (np.float32, cv2.CV_32F), (np.float64, -1), (np.float64, cv2.CV_64F)]
CV2_DFT_TAPS = 50   # from this many taps on, cv2.filter2D may switch to its float32 DFT path
CV_BORDERS = [cv2.BORDER_CONSTANT, cv2.BORDER_REPLICATE, cv2.BORDER_REFLECT, cv2.BORDER_REFLECT_101,
              cv2.BORDER_REFLECT_101 | cv2.BORDER_ISOLATED]


def test_constants_are_opencvs():
    for name in ("BORDER_CONSTANT", "BORDER_REPLICATE", "BORDER_REFLECT", "BORDER_WRAP", "BORDER_REFLECT_101",
                 "BORDER_REFLECT101", "BORDER_DEFAULT", "BORDER_ISOLATED", "CV_8U", "CV_16U", "CV_16S", "CV_32F",
                 "CV_64F"):
        assert getattr(fastconv, name) == getattr(cv2, name), name


@st.composite
def cases(draw, src_dtype):
    image = draw(images_of(src_dtype))
    K = draw(any_kernels)
    anchor = (draw(st.integers(-1, K.shape[1] - 1)), draw(st.integers(-1, K.shape[0] - 1)))
    delta = draw(st.sampled_from([0, 0.5, -3.25, 100]))
    return image, K, anchor, delta


@pytest.mark.parametrize("src_dtype, ddepth", PAIRS, ids=[f"{np.dtype(s).name}->{d}" for s, d in PAIRS])
def test_matches_cv2(variant, src_dtype, ddepth):
    seen = {"pixels": 0, "different": 0}

    @given(cases(src_dtype), st.sampled_from(CV_BORDERS))
    def check(case, border):
        image, K, anchor, delta = case
        kw = dict(anchor=anchor, delta=delta, borderType=border)
        ours = fastconv.filter2D(image, ddepth, K, **kw)
        theirs = cv2.filter2D(image, ddepth, K.astype(np.float64), **kw)
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
        if ours.dtype.kind in "iu":
            diff = np.abs(ours.astype(np.int64) - theirs)
            assert diff.max() <= 1
            if K.size < CV2_DFT_TAPS:
                exact = cv2.filter2D(image, cv2.CV_64F, K.astype(np.float64), **kw)
                tol = 64 * np.finfo(np.float32).eps * np.abs(K).sum() * max(np.abs(image.astype(float)).max(), 1.0)
                seen["pixels"] += diff.size
                seen["different"] += int(np.count_nonzero(diff[~near_tie(exact, tol)]))
            else:   # cv2 rounds sums from its float32 DFT: where we differ, ours must be as close (to float32 rounding)
                info = np.iinfo(ours.dtype)
                exact = cv2.filter2D(image, cv2.CV_64F, K.astype(np.float64), **kw)
                exact = np.clip(exact, info.min, info.max)
                ours_err = np.abs(ours - exact)[diff > 0]
                theirs_err = np.abs(theirs - exact)[diff > 0]
                tol = 64 * np.finfo(np.float32).eps * np.abs(K).sum() * max(np.abs(image.astype(float)).max(), 1.0)
                assert (ours_err <= theirs_err + tol).all()
        else:
            eps = np.finfo(np.float64 if image.dtype == np.float64 else np.float32).eps   # cv2: float32 taps
            scale = np.abs(K).sum() * max(np.abs(image.astype(np.float64)).max(), 1.0) + abs(delta)
            np.testing.assert_allclose(ours, theirs, rtol=0, atol=64 * eps * scale)

    check()
    assert seen["different"] <= 0.001 * seen["pixels"], seen


def test_wrap_for_every_kernel_size(variant):
    # cv2 supports BORDER_WRAP only on its FFT path; scipy.ndimage's 'wrap' is the oracle
    @given(images_of(np.float64), any_kernels)
    def check(image, K):
        ours = fastconv.filter2D(image, -1, K, borderType=fastconv.BORDER_WRAP)
        expected = ndimage.correlate(image, K.astype(np.float64), mode="wrap")
        tol = 64 * np.finfo(float).eps * np.abs(K).sum() * max(np.abs(image).max(), 1.0)
        np.testing.assert_allclose(ours, expected, rtol=0, atol=tol)

    check()


def test_default_border_is_reflect101():
    image = np.arange(20, dtype=np.uint8).reshape(4, 5) * 10
    K = np.array([[1.0, 2.0, 0.0, -1.0]])
    np.testing.assert_array_equal(fastconv.filter2D(image, -1, K), cv2.filter2D(image, -1, K))


def test_dst_is_written_and_returned():
    image = np.arange(20, dtype=np.uint8).reshape(4, 5)
    dst = np.empty((4, 5), np.int16)
    assert fastconv.filter2D(image, cv2.CV_16S, fastconv.kernels.sobel(1, 0), dst=dst) is dst
    np.testing.assert_array_equal(dst, cv2.filter2D(image, cv2.CV_16S, fastconv.kernels.sobel(1, 0)))


UNSUPPORTED = [(np.uint8, 1), (np.uint8, 4), (np.uint8, 7), (np.uint16, cv2.CV_8U), (np.uint16, cv2.CV_16S),
               (np.int16, cv2.CV_8U), (np.float32, cv2.CV_8U), (np.float32, cv2.CV_64F), (np.float64, cv2.CV_32F),
               (np.uint8, 9)]


@pytest.mark.parametrize("src_dtype, ddepth", UNSUPPORTED)
def test_unsupported_depth_pairs_are_refused_like_cv2(src_dtype, ddepth):
    image = np.zeros((4, 4), src_dtype)
    with pytest.raises(cv2.error):
        cv2.filter2D(image, ddepth, np.ones((3, 3)))
    with pytest.raises(ValueError, match="ddepth must be one of"):
        fastconv.filter2D(image, ddepth, np.ones((3, 3)))


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.float16, np.int64, bool])
def test_unsupported_source_dtypes_are_refused(dtype):
    with pytest.raises(TypeError, match="src must be uint8, uint16, int16, float32 or float64"):
        fastconv.filter2D(np.zeros((4, 4), dtype), -1, np.ones((3, 3)))


@pytest.mark.parametrize("border", [5, 6, 8, -1, 32, 1 | 32])
def test_unknown_border_types_are_refused(border):
    with pytest.raises(ValueError, match="borderType must be one of"):
        fastconv.filter2D(np.zeros((4, 4), np.uint8), -1, np.ones((3, 3)), borderType=border)

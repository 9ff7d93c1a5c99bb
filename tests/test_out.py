"""out= / dst=: written into when it fits exactly, a clear error otherwise; inputs are never modified."""
import numpy as np
import pytest

import fastconv

rng = np.random.default_rng(11)
IMAGE = rng.integers(0, 256, (31, 45), dtype=np.uint8)
K = rng.standard_normal((5, 4))


@pytest.mark.parametrize("output", ["floor", "round", "float", "stretch"])
def test_out_is_written_and_returned(output):
    expected = fastconv.convolve(IMAGE, K, output=output)
    out = np.full_like(expected, 7)
    assert fastconv.convolve(IMAGE, K, output=output, out=out) is out
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("make", [
    lambda e: np.asfortranarray(np.zeros_like(e)),
    lambda e: np.zeros((e.shape[0], e.shape[1] * 2), e.dtype)[:, ::2],
    lambda e: np.zeros_like(e)[::-1],
], ids=["fortran", "strided", "negative-stride"])
def test_out_of_any_layout(make):
    expected = fastconv.convolve(IMAGE, K, output="round")
    out = make(expected)
    fastconv.convolve(IMAGE, K, output="round", out=out)
    np.testing.assert_array_equal(out, expected)


def test_out_for_channels():
    image = rng.integers(0, 256, (10, 12, 3), dtype=np.uint8)
    out = np.empty((10, 12, 3), np.float32)
    fastconv.convolve(image, K, output="float", out=out)
    np.testing.assert_array_equal(out, fastconv.convolve(image, K, output="float"))


def test_out_aliasing_the_input_gives_the_right_answer():
    image = IMAGE.copy()
    expected = fastconv.convolve(image, K, output="round")
    fastconv.convolve(image, K, output="round", out=image)
    np.testing.assert_array_equal(image, expected)
    image = IMAGE.copy()
    fastconv.filter2D(image[:, :-1], -1, K, dst=image[:, 1:])   # overlapping, shifted views
    np.testing.assert_array_equal(image[:, 1:], fastconv.filter2D(IMAGE[:, :-1], -1, K))


@pytest.mark.parametrize("out, pattern", [
    (np.empty((31, 45), np.float32), "out must have shape \\(31, 45\\) and dtype uint8"),
    (np.empty((31, 44), np.uint8), "out must have shape"),
    (np.empty((31, 45, 1), np.uint8), "out must have shape"),
    (np.empty((31, 45), np.int16), "dtype uint8"),
])
def test_out_that_does_not_fit_is_refused(out, pattern):
    with pytest.raises(ValueError, match=pattern):
        fastconv.convolve(IMAGE, K, out=out)


def test_read_only_out_and_non_arrays_are_refused():
    out = np.empty((31, 45), np.uint8)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="out must be writeable"):
        fastconv.convolve(IMAGE, K, out=out)
    with pytest.raises(TypeError, match="out must be None or a numpy.ndarray"):
        fastconv.convolve(IMAGE, K, out=[[0] * 45] * 31)
    with pytest.raises(ValueError, match="dst must have shape"):
        fastconv.filter2D(IMAGE, fastconv.CV_32F, K, dst=np.empty((31, 45), np.uint8))


def test_dst_matches_cv2_dst(variant):
    cv2 = pytest.importorskip("cv2")
    from hypothesis import given
    from hypothesis import strategies as st

    from strategies import any_kernels, uint8_images

    @given(uint8_images(), any_kernels, st.sampled_from([-1, cv2.CV_16S, cv2.CV_32F]), st.booleans())
    def check(image, K, ddepth, fortran):
        theirs = cv2.filter2D(image, ddepth, K, borderType=cv2.BORDER_REPLICATE)
        dst = np.full(image.shape, 3, dtype=theirs.dtype, order="F" if fortran else "C")
        ours = fastconv.filter2D(image, ddepth, K, dst=dst, borderType=fastconv.BORDER_REPLICATE)
        assert ours is dst
        np.testing.assert_array_equal(dst, fastconv.filter2D(image, ddepth, K, borderType=1))
        if theirs.dtype.kind in "iu":
            assert np.abs(dst.astype(np.int64) - theirs).max() <= 1
        else:
            tol = 64 * np.finfo(np.float32).eps * np.abs(K).sum() * 255
            np.testing.assert_allclose(dst, theirs, rtol=0, atol=tol)

    check()

"""Stacks of frames (``stack=True``) and banks of kernels (K of shape (n, kh, kw)): each frame and each kernel
bit for bit what its own call gives, on every path, border, dtype and output policy; threads across frames change
nothing; cv2 agrees frame by frame."""
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastconv
from fastconv import _plan
from helpers import bits

BORDERS = ["replicate", "reflect", "reflect101", "wrap", "constant"]
RNG = np.random.default_rng(7)

# A kernel for each path, and the image dtypes the path takes it on.
PATH_KERNELS = {
    "direct": (RNG.uniform(-1, 1, (5, 4)), [np.uint8, np.uint16, np.int16, np.float32, np.float64]),
    "integer": (fastconv.kernels.sharpen(), [np.uint8]),
    "separable": (fastconv.kernels.gaussian(7, 1.5), [np.uint8, np.uint16, np.float32, np.float64]),
    "box": (np.ones((5, 3)), [np.uint8, np.uint16, np.int16]),
    "fft": (RNG.uniform(-1, 1, (15, 15)), [np.uint8, np.float32, np.float64]),
}


def frames_of(dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(info.min, int(info.max) + 1, shape).astype(dtype)
    return (rng.standard_normal(shape) * 100).astype(dtype)


def outputs_for(dtype):
    return [None, "round", "float", "stretch"] if np.dtype(dtype).kind in "iu" else [None, "float", "round"]


@pytest.mark.parametrize("path", list(PATH_KERNELS))
@pytest.mark.parametrize("border", BORDERS)
def test_each_frame_of_a_stack_is_its_own_call(path, border):
    K, dtypes = PATH_KERNELS[path]
    for dtype in dtypes:
        for shape in [(4, 23, 31), (3, 40, 9, 2)]:
            frames = frames_of(dtype, shape)
            before = frames.copy()
            for output in outputs_for(dtype):
                options = dict(border=border, output=output, cval=3.0)
                with _plan.force(path):
                    together = fastconv.convolve(frames, K, stack=True, **options)
                    alone = [fastconv.convolve(f, K, **options) for f in frames]
                assert together.shape == frames.shape and together.dtype == alone[0].dtype
                for f in range(len(frames)):
                    np.testing.assert_array_equal(bits(together[f]), bits(alone[f]), err_msg=f"{dtype} {output} {f}")
            np.testing.assert_array_equal(frames, before)


@pytest.mark.parametrize("path", list(PATH_KERNELS))
def test_each_kernel_of_a_bank_is_its_own_call(path):
    K, dtypes = PATH_KERNELS[path]
    bank = np.stack([K, K * 2, K[::-1, ::-1] * 0.5]) if path != "box" else np.stack([K, K * 3, K * 2])
    if path == "integer":
        bank = np.stack([K, fastconv.kernels.laplacian(), fastconv.kernels.sobel(1, 0)])
    for dtype in dtypes:
        image = frames_of(dtype, (37, 29, 3), seed=1)
        for border in ("replicate", "constant"):
            for output in outputs_for(dtype):
                options = dict(border=border, output=output, anchor=(1, 2), flip=True)
                with _plan.force(path):
                    together = fastconv.convolve(image, bank, **options)
                    alone = [fastconv.convolve(image, k, **options) for k in bank]
                assert together.shape == image.shape + (len(bank),)
                for i, one in enumerate(alone):
                    np.testing.assert_array_equal(bits(together[..., i]), bits(one), err_msg=f"{dtype} {output} {i}")


def test_a_bank_may_be_a_sequence_and_combines_with_a_stack():
    frames = frames_of(np.uint8, (5, 20, 30))
    bank = [fastconv.kernels.sharpen(), fastconv.kernels.gaussian(3, 0.8), np.ones((3, 3)) / 9,
            RNG.uniform(-1, 1, (3, 3))]
    out = fastconv.convolve(frames, bank, stack=True)
    assert out.shape == (5, 20, 30, 4) and out.dtype == np.uint8
    for f in range(5):
        for i, k in enumerate(bank):
            np.testing.assert_array_equal(out[f, ..., i], fastconv.convolve(frames[f], k))


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 6), st.integers(1, 40), st.integers(1, 40), st.sampled_from([1, 2]),
       st.sampled_from(BORDERS), st.integers(0, 2**32 - 1))
def test_stacks_of_any_size_on_any_threads(n, h, w, threads, border, seed):
    frames = frames_of(np.uint8, (n, h, w), seed)
    K = np.random.default_rng(seed).uniform(-1, 1, (3, 5))
    out = fastconv.convolve(frames, K, stack=True, border=border, threads=threads, output="float")
    assert out.shape == frames.shape
    for f in range(n):
        np.testing.assert_array_equal(bits(out[f]), bits(fastconv.convolve(frames[f], K, border=border,
                                                                            output="float")))


def test_threads_across_many_small_frames_change_nothing():
    frames = frames_of(np.uint8, (1200, 32, 32))
    K = fastconv.kernels.sharpen()
    one = fastconv.convolve(frames, K, stack=True, threads=1)
    assert fastconv.explain(frames, K, stack=True, threads=2).threads == 2
    for _ in range(5):
        np.testing.assert_array_equal(fastconv.convolve(frames, K, stack=True, threads=2), one)


def test_stacks_match_cv2_frame_by_frame():
    cv2 = pytest.importorskip("cv2")
    frames = frames_of(np.uint8, (6, 33, 47))
    K = RNG.uniform(-1, 1, (5, 5))
    ours = fastconv.convolve(frames, K, stack=True, output="round", border="reflect101")
    for f, frame in enumerate(frames):
        theirs = cv2.filter2D(frame, -1, K, borderType=cv2.BORDER_REFLECT_101)
        assert np.abs(ours[f].astype(int) - theirs).max() <= 1


def test_stretch_maps_each_frame_on_its_own():
    frames = np.zeros((2, 9, 9), np.uint16)
    frames[0, 4, 4] = 100
    frames[1, 4, 4] = 60000
    out = fastconv.convolve(frames, fastconv.kernels.laplacian(), stack=True, output="stretch")
    assert out[0].max() == 255 and out[1].max() == 255
    np.testing.assert_array_equal(out[0], fastconv.convolve(frames[0], fastconv.kernels.laplacian(),
                                                            output="stretch"))


def test_missing_pixels_in_stacks_and_banks():
    frames = frames_of(np.float32, (3, 25, 30, 2))
    frames[0, 3:6, 4:9] = np.nan
    mask = np.zeros((3, 25, 30), bool)
    mask[2, 10:20, 5] = True
    bank = np.stack([fastconv.kernels.gaussian(5, 1.0), np.ones((5, 5))])
    out = fastconv.convolve(frames, bank, stack=True, nan_policy="omit", mask=mask, preserve_nan=True)
    assert out.shape == frames.shape + (2,)
    for f in range(3):
        for i in range(2):
            alone = fastconv.convolve(frames[f], bank[i], nan_policy="omit", mask=mask[f], preserve_nan=True)
            np.testing.assert_array_equal(bits(out[f, ..., i]), bits(alone))
    masked = np.ma.masked_array(frames[..., 0], mask)
    out = fastconv.convolve(masked, bank[0], stack=True, nan_policy="omit")
    for f in range(3):
        np.testing.assert_array_equal(bits(out[f]), bits(fastconv.convolve(masked[f], bank[0], nan_policy="omit")))


def test_a_bank_is_stored_kernel_by_kernel():
    image = frames_of(np.uint8, (20, 30, 3))
    bank = np.stack([fastconv.kernels.sharpen(), fastconv.kernels.emboss(), np.ones((3, 3)) / 9])
    out = fastconv.convolve(image, bank)
    assert out.shape == (20, 30, 3, 3)
    assert all(out[..., i].flags.c_contiguous for i in range(3))
    np.testing.assert_array_equal(np.ascontiguousarray(out)[..., 1], fastconv.convolve(image, bank[1]))


def test_out_for_banks_and_stacks():
    frames = frames_of(np.uint8, (3, 12, 14))
    bank = np.stack([fastconv.kernels.sharpen(), fastconv.kernels.emboss()])
    out = np.empty((3, 12, 14, 2), np.uint8)
    assert fastconv.convolve(frames, bank, stack=True, out=out) is out
    np.testing.assert_array_equal(out, fastconv.convolve(frames, bank, stack=True))
    with pytest.raises(ValueError, match=r"out must have shape \(3, 12, 14, 2\)"):
        fastconv.convolve(frames, bank, stack=True, out=np.empty((3, 12, 14), np.uint8))
    strided = np.empty((3, 12, 14, 4), np.uint8)[..., ::2]       # any strides
    fastconv.convolve(frames, bank, stack=True, out=strided)
    np.testing.assert_array_equal(strided, out)
    image = frames_of(np.float32, (10, 11))
    shared = np.zeros((10, 11, 2), np.float32)
    shared[..., 0] = image
    expected = fastconv.convolve(image, np.stack([np.ones((3, 3)), -np.ones((3, 3))]))
    fastconv.convolve(shared[..., 0], np.stack([np.ones((3, 3)), -np.ones((3, 3))]), out=shared)
    np.testing.assert_array_equal(shared, expected)       # the image read whole before anything is written


def test_empty_stacks_and_frames():
    assert fastconv.convolve(np.zeros((0, 5, 5), np.uint8), np.ones((3, 3)), stack=True).shape == (0, 5, 5)
    assert fastconv.convolve(np.zeros((2, 0, 5), np.uint8), np.ones((2, 3, 3)), stack=True).shape == (2, 0, 5, 2)


def test_overlapping_out_with_missing_pixels_and_stretch():
    """Each frame is read before any is written, also where omit and stretch go frame by frame."""
    frames = np.random.default_rng(0).random((3, 16, 16)).astype(np.float32)
    K = np.ones((3, 3)) / 9
    expected = fastconv.convolve(frames.copy(), K, stack=True, nan_policy="omit")
    same = frames.copy()
    fastconv.convolve(same, K, stack=True, nan_policy="omit", out=same[::-1])
    np.testing.assert_array_equal(same[::-1], expected)
    levels = (frames * 60000).astype(np.uint16)
    expected = fastconv.convolve(levels.copy(), fastconv.kernels.laplacian(), stack=True, output="stretch",
                                 dtype=np.uint16)
    same = levels.copy()
    fastconv.convolve(same, fastconv.kernels.laplacian(), stack=True, output="stretch", dtype=np.uint16,
                      out=same[::-1])
    np.testing.assert_array_equal(same[::-1], expected)


def test_many_tiny_frames_take_memory_for_their_output_only():
    """One call over a million frames: memory beyond the image and the output does not grow with the frames."""
    code = ("import resource, numpy as np, fastconv\n"
            "img = np.zeros((1_000_000, 4, 4), np.uint8); out = np.empty_like(img)\n"
            "fastconv.convolve(img[:10], np.ones((3, 3)) / 7, stack=True)\n"
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            "fastconv.convolve(img, np.random.default_rng(0).standard_normal((3, 3)), stack=True, out=out)\n"
            "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert float(result.stdout) < 64       # MB: the 16 MB output's pages and slack, not a copy per frame


def test_empty_widths_and_heights_with_missing_pixels_and_explain():
    assert fastconv.convolve(np.zeros((3, 5, 0), np.uint8), np.ones((3, 3)), stack=True,
                             nan_policy="omit").shape == (3, 5, 0)
    assert fastconv.convolve(np.zeros((5, 0), np.float32), np.ones((3, 3)), nan_policy="omit").shape == (5, 0)
    for shape in [(3, 0, 64), (3, 64, 0)]:
        assert fastconv.explain(np.zeros(shape, np.uint8), np.ones((5, 5)) / 25, stack=True).pieces == 0
    assert fastconv.explain(np.zeros((0, 64), np.uint8), np.ones((5, 5)) / 25).pieces == 0


def test_a_bank_omit_cannot_take_is_refused_before_anything_is_written():
    frames = np.random.default_rng(0).random((2, 10, 10)).astype(np.float32)
    out = np.zeros((2, 10, 10, 2), np.float32)
    with pytest.raises(ValueError, match=r"K\[1\] sums to 0"):
        fastconv.convolve(frames, [np.ones((3, 3)), fastconv.kernels.laplacian()], stack=True, nan_policy="omit",
                          out=out)
    assert not out.any()

"""Threads, channels, memory layouts, SIMD variants: the same answer whatever the route."""
import os
import subprocess
import sys

import numpy as np
import pytest

import fastconv
from fastconv import _dispatch
from twins import correlate_float64

rng = np.random.default_rng(2024)
IMAGE = rng.integers(0, 256, (97, 131), dtype=np.uint8)
KERNELS = [fastconv.kernels.sharpen(), fastconv.kernels.small_blur(), rng.standard_normal((4, 9))]


@pytest.mark.parametrize("K", KERNELS, ids=["sharpen", "small_blur", "random4x9"])
@pytest.mark.parametrize("output", ["floor", "round", "float", "stretch"])
def test_thread_count_does_not_change_results(K, output):
    serial = fastconv.convolve(IMAGE, K, output=output, threads=1)
    for threads in (2, 3, 7, 200):
        np.testing.assert_array_equal(fastconv.convolve(IMAGE, K, output=output, threads=threads), serial)


@pytest.mark.parametrize("channels", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("output", ["floor", "round", "float"])
def test_channels_are_filtered_alone(channels, output):
    image = rng.integers(0, 256, (23, 17, channels), dtype=np.uint8)
    K = rng.standard_normal((3, 5))
    out = fastconv.convolve(image, K, output=output)
    assert out.shape == image.shape
    for c in range(channels):
        np.testing.assert_array_equal(out[..., c], fastconv.convolve(image[..., c], K, output=output))


def test_stretch_spans_full_range():
    out = fastconv.convolve(IMAGE, fastconv.kernels.laplacian(), output="stretch")
    assert out.dtype == np.uint8 and out.min() == 0 and out.max() == 255
    raw = correlate_float64(IMAGE, fastconv.kernels.laplacian())
    expected = np.rint((raw - raw.min()) * 255 / (raw.max() - raw.min()))
    assert np.abs(out.astype(int) - expected).max() <= 1


LAYOUTS = {
    "read-only": lambda a: np.lib.stride_tricks.as_strided(a, writeable=False),
    "non-contiguous": lambda a: np.repeat(np.repeat(a, 2, 0), 2, 1)[::2, ::2],
    "negative strides": lambda a: a[::-1, ::-1].copy()[::-1, ::-1],
    "fortran": np.asfortranarray,
    "big-endian": lambda a: a.astype(">f8"),
    "list": lambda a: a.tolist(),
    "int64": lambda a: a.astype(np.int64),
    "int8-safe": lambda a: (a // 2).astype(np.int8),
}


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_layouts_and_dtypes_give_the_same_answer(layout):
    base = IMAGE if layout != "int8-safe" else (IMAGE // 2)
    image = LAYOUTS[layout](IMAGE)
    K = KERNELS[2]
    np.testing.assert_allclose(
        fastconv.convolve(image, K, output="float").astype(np.float64), correlate_float64(base, K), atol=1e-3
    )
    np.testing.assert_array_equal(fastconv.convolve(image, K, output="round"),
                                  fastconv.convolve(np.ascontiguousarray(base), K, output="round"))


def test_inputs_are_never_modified():
    image, K = IMAGE.copy(), KERNELS[2].copy()
    for output in ("floor", "round", "float", "stretch"):
        fastconv.convolve(image, K, output=output)
    np.testing.assert_array_equal(image, IMAGE)
    np.testing.assert_array_equal(K, KERNELS[2])


@pytest.mark.parametrize("shape", [(0, 5), (5, 0), (0, 0), (0, 4, 3)])
def test_empty_images_give_empty_outputs(shape):
    out = fastconv.convolve(np.zeros(shape, np.uint8), np.ones((3, 3)))
    assert out.shape == shape and out.dtype == np.uint8


def test_float_images_propagate_nan_through_nonzero_taps_only():
    image = np.zeros((7, 7), np.float32)
    image[3, 3] = np.nan
    out = fastconv.convolve(image, fastconv.kernels.laplacian(), output="float")
    nan = np.isnan(out)
    assert nan[3, 3] and nan[2, 3] and nan[3, 2] and nan[4, 3] and nan[3, 4]
    assert nan.sum() == 5      # the zero corner taps do not spread it
    assert fastconv.convolve(image, fastconv.kernels.laplacian(), output="round")[3, 3] == 0


def test_variants_agree():
    K = rng.standard_normal((7, 7))
    image = rng.standard_normal((60, 70)).astype(np.float32)
    results = {}
    for v in _dispatch.available_variants():
        with _dispatch.use_variant(v):
            results[v] = fastconv.convolve(image, K, output="float")
    assert "baseline" in results
    tol = 64 * np.finfo(np.float32).eps * np.abs(K).sum() * np.abs(image).max()
    for v, out in results.items():
        np.testing.assert_allclose(out, results["baseline"], rtol=0, atol=tol, err_msg=v)


def test_environment_variable_selects_the_portable_variant():
    code = "import fastconv; print(fastconv.config()['simd_variant'])"
    env = dict(os.environ, FASTCONV_SIMD="baseline")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "baseline"
    env["FASTCONV_SIMD"] = "sse9"
    bad = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert bad.returncode != 0 and "FASTCONV_SIMD must be one of" in bad.stderr


def test_core_imports_without_opencv():
    code = ("import sys; sys.modules['cv2'] = None\n"
            "import numpy as np, fastconv\n"
            "print(fastconv.convolve(np.zeros((5, 5), np.uint8), np.ones((3, 3))).sum())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0"


def test_show_config_reports_variant_and_threads(capsys):
    fastconv.show_config()
    printed = capsys.readouterr().out
    assert f"simd_variant: {_dispatch.active_variant()}" in printed
    assert f"threads: {fastconv.get_threads()}" in printed and "cores_available:" in printed


def test_a_pixel_does_not_depend_on_the_image_width(variant):
    """Full register blocks, partial blocks and scalar tails round alike: a column's values are the same whether
    it sits in a full block of a wide image or in the last, partial block of a narrow one (every dtype)."""
    rng = np.random.default_rng(11)
    for dtype in (np.float64, np.float32, np.uint8):
        image = (rng.standard_normal((12, 150)) * 60 + 100).astype(dtype)
        for kh, kw in ((8, 4), (3, 3), (5, 9), (2, 17)):
            K = rng.standard_normal((kh, kw))
            wide = fastconv.convolve(image, K, output="float", border="constant")
            for width in range(kw + 1, image.shape[1]):   # every split of full and partial blocks
                narrow = fastconv.convolve(image[:, :width], K, output="float", border="constant")
                inner = width - kw       # columns whose window stays inside the narrow image
                np.testing.assert_array_equal(narrow[:, :inner], wide[:, :inner])

"""Every input dtype to every output dtype: exact sums rounded or floored, saturated, never wrapped."""
import numpy as np
import pytest
from hypothesis import given

import fastconv
from strategies import any_kernels, images_of, integer_kernels
from twins import correlate_float64

IN_DTYPES = [np.uint8, np.uint16, np.int16, np.float32, np.float64]
INT_OUT = [np.uint8, np.uint16, np.int16]


def saturate(values, dtype, rounding):
    info = np.iinfo(dtype)
    return rounding(np.clip(values, info.min, info.max))


@pytest.mark.parametrize("in_dtype", IN_DTYPES)
@pytest.mark.parametrize("out_dtype", INT_OUT)
@pytest.mark.parametrize("output, rounding", [("round", np.rint), ("floor", np.floor)])
def test_integer_outputs_saturate(variant, in_dtype, out_dtype, output, rounding):
    @given(images_of(in_dtype), any_kernels)
    def check(image, K):
        ours = fastconv.convolve(image, K, output=output, dtype=out_dtype)
        assert ours.dtype == out_dtype
        expected = saturate(correlate_float64(image, K), out_dtype, rounding)
        if np.dtype(in_dtype).kind in "iu":
            assert np.abs(ours.astype(np.int64) - expected).max() <= 1   # float32 rounding moves at most one level
        else:  # float32 images accumulate in float32 like cv2: the error scales with the magnitudes summed
            tol = 1 + 64 * np.finfo(np.float32).eps * np.abs(K).sum() * np.abs(image.astype(np.float64)).max()
            assert np.abs(ours.astype(np.int64) - expected).max() <= tol

    check()


@pytest.mark.parametrize("in_dtype", [np.uint8, np.uint16, np.int16])
@pytest.mark.parametrize("out_dtype", INT_OUT)
def test_integer_kernels_are_exact_on_integer_images(variant, in_dtype, out_dtype):
    @given(images_of(in_dtype), integer_kernels())
    def check(image, K):
        ours = fastconv.convolve(image, K, output="round", dtype=out_dtype)
        np.testing.assert_array_equal(ours, saturate(correlate_float64(image, K), out_dtype, np.rint))

    check()


@pytest.mark.parametrize("in_dtype", IN_DTYPES)
@pytest.mark.parametrize("out_dtype", [np.float32, np.float64])
def test_float_outputs(variant, in_dtype, out_dtype):
    @given(images_of(in_dtype), any_kernels)
    def check(image, K):
        ours = fastconv.convolve(image, K, output="float", dtype=out_dtype)
        assert ours.dtype == out_dtype
        scale = np.abs(K).sum() * max(np.abs(image.astype(np.float64)).max(), 1.0)
        both_double = in_dtype == np.float64 and out_dtype == np.float64
        eps = np.finfo(np.float64 if both_double else np.float32).eps
        np.testing.assert_allclose(ours, correlate_float64(image, K), rtol=0, atol=64 * eps * scale)

    check()


def test_forced_float64_accumulation_is_exact_to_float64_rounding():
    rng = np.random.default_rng(3)
    image = rng.integers(0, 65536, (40, 50)).astype(np.uint16)
    K = rng.standard_normal((9, 9))
    ours = fastconv.convolve(image, K, output="float", dtype=np.float64, accumulate="float64")
    scale = np.abs(K).sum() * 65535
    np.testing.assert_allclose(ours, correlate_float64(image, K), rtol=0, atol=64 * np.finfo(float).eps * scale)
    default = fastconv.convolve(image, K, output="float", dtype=np.float64)   # float64 outputs sum in float64
    np.testing.assert_array_equal(default, ours)
    coarse = fastconv.convolve(image, K, output="float", dtype=np.float64, accumulate="float32")
    assert np.abs(coarse - correlate_float64(image, K)).max() > np.abs(ours - correlate_float64(image, K)).max()


def test_saturation_never_wraps():
    image = np.array([[0, 200, 255]], dtype=np.uint8)
    np.testing.assert_array_equal(fastconv.convolve(image, [[2.0]], output="round"), [[0, 255, 255]])
    np.testing.assert_array_equal(fastconv.convolve(image, [[-2.0]], output="round"), [[0, 0, 0]])
    np.testing.assert_array_equal(fastconv.convolve(image, [[-200.0]], output="round", dtype=np.int16),
                                  [[0, -32768, -32768]])
    np.testing.assert_array_equal(fastconv.convolve(image, [[300.0]], output="floor", dtype=np.uint16),
                                  [[0, 60000, 65535]])


def test_floor_rounds_down_for_negative_int16():
    image = np.array([[3, 5]], dtype=np.int16)
    np.testing.assert_array_equal(fastconv.convolve(image, [[-0.5]], output="floor", dtype=np.int16), [[-2, -3]])
    np.testing.assert_array_equal(fastconv.convolve(image, [[-0.5]], output="round", dtype=np.int16), [[-2, -2]])


@pytest.mark.parametrize("dtype, expected", [(np.int8, np.int16), (np.int32, np.float64), (np.int64, np.float64),
                                             (np.uint32, np.float64), (np.float16, np.float32)])
def test_other_dtypes_are_converted_losslessly(dtype, expected):
    image = (np.arange(30).reshape(5, 6) - 10).astype(dtype)
    K = np.array([[1.0, -2.0, 0.5]])
    out = fastconv.convolve(image, K, output="float")
    assert out.dtype == (np.float64 if expected == np.float64 else np.float32)
    np.testing.assert_allclose(out, correlate_float64(image, K), atol=1e-4)


@pytest.mark.parametrize("in_dtype, expected_dtype, kind", [
    (np.uint8, np.uint8, "floor"), (np.uint16, np.uint16, "floor"), (np.int16, np.int16, "floor"),
    (np.int8, np.int16, "floor"), (np.float32, np.float32, "float"), (np.float64, np.float64, "float"),
    (np.float16, np.float32, "float"), (np.int32, np.float64, "float"),
])
def test_the_default_output_keeps_the_image_data(in_dtype, expected_dtype, kind):
    """With output and dtype left out, the result has the image's dtype (the type it is read as): integer images
    clipped and floored into it, float images the raw sums. The tutorial's uint8 picture is unchanged."""
    rng = np.random.default_rng(1)
    if np.dtype(in_dtype).kind in "iu":
        info = np.iinfo(in_dtype)
        image = rng.integers(max(info.min, -3000), min(info.max, 3000), (30, 40), endpoint=True).astype(in_dtype)
    else:
        image = (rng.standard_normal((30, 40)) * 0.3 + 0.5).astype(in_dtype)      # a float image in 0..1
    K = fastconv.kernels.gaussian(5, 1.0)
    ours = fastconv.convolve(image, K)
    assert ours.dtype == expected_dtype
    exact = correlate_float64(image, K)
    if kind == "float":
        np.testing.assert_allclose(ours, exact, rtol=1e-5, atol=1e-6)
    else:
        np.testing.assert_array_equal(ours, saturate(exact, expected_dtype, np.floor))
    # the old default is one keyword away: output="floor" gives uint8
    assert fastconv.convolve(image, K, output="floor").dtype == np.uint8
    # a dtype alone picks the policy: floor into integer dtypes, the raw sums into float ones
    assert fastconv.convolve(image, K, dtype=np.uint16).dtype == np.uint16
    np.testing.assert_allclose(fastconv.convolve(image, K, dtype=np.float64), exact, rtol=1e-6, atol=1e-6)

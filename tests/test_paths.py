"""Every path (direct, separable, box, integer) gives the direct path's results within float rounding.

Each path is forced through fastconv._plan.force; the automatic choice is checked too (fastconv.explain).
"""
import numpy as np
import pytest
from scipy import ndimage
from hypothesis import given
from hypothesis import strategies as st

import fastconv
from fastconv import _dispatch, _plan, _schedule, _taps
from fastconv._bounds import EPSILON, UNIT, fft_bound
from fastconv._output import POLICY_FLOOR, POLICY_RAW
from helpers import path_of
from strategies import float_images, images_of, uint8_images
from twins import correlate_float64, correlate_nan_rule

BORDERS = ["replicate", "reflect", "reflect101", "wrap", "constant"]


@st.composite
def rank1_kernels(draw):
    kh, kw = draw(st.integers(2, 15)), draw(st.integers(2, 15))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if draw(st.booleans()):   # integer factors, some zero taps
        v, h = rng.integers(-3, 4, kh), rng.integers(-3, 4, kw)
        v[0] = v[0] or 1
        h[-1] = h[-1] or 2
    else:
        v, h = rng.standard_normal(kh), rng.standard_normal(kw)
    return np.outer(v, h).astype(np.float64)


@st.composite
def box_kernels(draw):
    kh, kw = draw(st.integers(1, 31)), draw(st.integers(1, 31))
    value = draw(st.sampled_from([1.0 / (kh * kw), 1.0, -2.0, 0.37]))
    return np.full((kh, kw), value)


def run(path, image, K, **kw):
    with _plan.force(path):
        return fastconv.convolve(image, K, **kw)


def test_separable_equals_direct(variant):
    @given(st.one_of(uint8_images(), float_images(np.float32)), rank1_kernels(), st.sampled_from(BORDERS),
           st.sampled_from(["round", "float"]))
    def check(image, K, border, output):
        sep = run("separable", image, K, border=border, output=output, cval=3.0)
        direct = run("direct", image, K, border=border, output=output, cval=3.0)
        if output == "round":
            assert np.abs(sep.astype(int) - direct).max() <= 1
            if image.dtype == np.uint8 and np.array_equal(K, np.round(K)):
                np.testing.assert_array_equal(sep, direct)   # integer factors: exact
        else:
            scale = np.abs(K).sum() * max(float(np.abs(image).max()), 3.0)
            np.testing.assert_allclose(sep, direct, rtol=0, atol=64 * np.finfo(np.float32).eps * scale)

    check()


def test_box_is_exact(variant):
    @given(st.one_of(uint8_images(), images_of(np.uint16), images_of(np.int16)), box_kernels(),
           st.sampled_from(BORDERS), st.sampled_from(["floor", "round", "float"]))
    def check(image, K, border, output):
        box = run("box", image, K, border=border, output=output, cval=7.0)
        exact = correlate_float64(image, K, border, cval=7.0)
        if output == "float":
            np.testing.assert_allclose(box, exact, rtol=1e-6, atol=1e-6 * np.abs(exact).max())
            return
        rounding = np.floor if output == "floor" else np.rint
        expected = rounding(np.clip(exact, 0, 255))
        assert np.abs(box.astype(int) - expected).max() <= 1
        direct = run("direct", image, K, border=border, output=output, cval=7.0)
        assert np.abs(box.astype(int) - direct).max() <= 1

    check()


def test_box_mean_is_exact_where_the_mean_is_an_integer():
    image = np.full((9, 9), 7, np.uint8)
    image[4, 4] = 7 + 49          # window means are 7 or 8 exactly
    out = run("box", image, fastconv.kernels.small_blur(), output="floor")
    assert set(np.unique(out)) == {7, 8}


@st.composite
def small_integer_kernels(draw):
    kh, kw = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    K = rng.integers(-4, 5, (kh, kw)).astype(np.float64)
    while np.abs(K).sum() * 255 > 32767 - 255:     # within the integer path's int16 range
        K[np.unravel_index(np.argmax(np.abs(K)), K.shape)] //= 2
    return K


def test_integer_path_is_exact(variant):
    @given(uint8_images(), small_integer_kernels(), st.sampled_from(BORDERS),
           st.sampled_from(["floor", "round", "float"]), st.sampled_from([np.uint8, np.int16, np.uint16, None]))
    def check(image, K, border, output, dtype):
        if output == "float":
            dtype = None
        ours = run("integer", image, K, border=border, output=output, dtype=dtype, cval=9.0)
        exact = correlate_float64(image, K, border, cval=9.0)
        if output != "float":
            info = np.iinfo(ours.dtype)
            exact = np.clip(exact, info.min, info.max)
        np.testing.assert_array_equal(ours, exact.astype(ours.dtype))

    check()


def test_integer_path_with_delta_matches_cv2():
    cv2 = pytest.importorskip("cv2")
    image = np.random.default_rng(5).integers(0, 256, (40, 50), dtype=np.uint8)
    K = fastconv.kernels.laplacian()
    assert path_of(K, image.dtype, border="reflect101") == "integer"
    for delta in (0, 7, -30, 0.5, 2.25, 1000):   # fractional or large deltas take the float direct path
        for ddepth in (-1, cv2.CV_16S, cv2.CV_32F):
            ours = fastconv.filter2D(image, ddepth, K, delta=delta)
            theirs = cv2.filter2D(image, ddepth, K, delta=delta)
            np.testing.assert_array_equal(ours, theirs)


def test_nan_rule_on_the_separable_path(variant):
    @given(float_images(np.float64), rank1_kernels(), st.sampled_from(BORDERS))
    def check(image, K, border):
        rng = np.random.default_rng(image.size)
        image = image.copy()
        image[rng.random(image.shape) < 0.1] = np.nan
        ours = run("separable", image, K, border=border, output="float")
        expected = correlate_nan_rule(image, K, border)
        np.testing.assert_array_equal(np.isnan(ours), np.isnan(expected))

    check()


def test_forcing_a_path_that_does_not_apply_is_refused():
    with pytest.raises(ValueError, match="the 'box' path does not apply"):
        run("box", np.zeros((5, 5), np.float32), np.ones((3, 3)))
    with pytest.raises(ValueError, match="the 'separable' path does not apply"):
        run("separable", np.zeros((5, 5), np.uint8), np.arange(9.0).reshape(3, 3) ** 2)
    with pytest.raises(ValueError, match="path must be one of"):
        with _plan.force("winograd"):
            pass


@pytest.mark.parametrize("K, image_dtype, path", [
    (fastconv.kernels.small_blur(), np.uint8, "box"),
    (fastconv.kernels.large_blur(), np.uint16, "box"),
    (fastconv.kernels.small_blur(), np.float32, "separable"),
    (fastconv.kernels.gaussian(9, 2.0), np.uint8, "separable"),
    (fastconv.kernels.sharpen(), np.uint8, "integer"),
    (fastconv.kernels.sharpen(), np.float32, "direct"),
    (fastconv.kernels.sobel(1, 0), np.uint16, "direct"),
    (np.full((3, 3), 200.0), np.uint8, "box"),
    (np.arange(25.0).reshape(5, 5), np.uint8, "lowrank"),  # integer, sums leave int16, rank 2
    (np.arange(25.0).reshape(5, 5) ** 2 % 11 * 13, np.uint8, "direct"),   # integer, sums leave int16
    (np.random.default_rng(0).standard_normal((7, 7)), np.uint8, "direct"),
])
def test_automatic_choice(K, image_dtype, path):
    assert path_of(K, image_dtype) == path


def test_rank1_factors_and_their_residual():
    """Factors reproduce each tap to a few float64 roundings (exactly, in integers, for integer kernels); a
    kernel rank 2 by a hair gets factors that far off, which the separable path takes only where the documented
    bound allows: uint8 outputs, not float64 ones."""
    g = fastconv.kernels.gaussian(9, 1.3)
    v, h, residual = _taps.rank1(g)
    assert residual <= 4 * np.finfo(float).eps
    np.testing.assert_allclose(np.outer(v, h), g, rtol=4 * np.finfo(float).eps, atol=0)
    sobel = fastconv.kernels.sobel(1, 0)
    v, h, residual = _taps.rank1(sobel)
    assert residual == 0
    np.testing.assert_array_equal(np.outer(v, h), sobel)
    np.testing.assert_array_equal(v, np.round(v))
    nearly = g.copy()
    nearly[0, 0] *= 1 + 1e-9
    assert 1e-10 < _taps.rank1(nearly)[2] < 1e-8
    assert path_of(nearly, np.uint8) == "separable"
    assert path_of(nearly, np.float64, output="float") != "separable"
    assert _taps.rank1(np.arange(1.0, 10.0).reshape(3, 3) ** 2)[2] > 1e-3      # far from rank 1
    holed = np.ones((3, 3))
    holed[1, 1] = 0             # a zero tap inside: an outer product would multiply it
    assert _taps.rank1(holed) is None


@pytest.mark.parametrize("path", ["direct", "separable", "integer", "box"])
def test_column_strips_do_not_change_results(path, variant, monkeypatch):
    """The direct, integer, separable and (uint8) box paths go in strips of columns on wide images (a bounded
    ring of rows): the narrowest strips give bit-identical results to one strip per image, on every border and
    thread count."""
    rng = np.random.default_rng(7)
    image = rng.integers(0, 256, (23, 301), dtype=np.uint8)     # narrowest strips: 256 and 45 columns
    kernels = {"direct": rng.standard_normal((5, 7)),
               "separable": np.outer(rng.standard_normal(6), rng.standard_normal(9)),
               "integer": rng.integers(-3, 4, (4, 5)).astype(np.float64),
               "box": np.full((4, 5), 1 / 20)}
    K = kernels[path]

    def results():
        return [run(path, image, K, border=border, output=output, threads=threads, cval=5.0)
                for border in BORDERS for output in ("round", "float") for threads in (1, 2)]

    wide = results()
    monkeypatch.setattr(_schedule, "DIRECT_RING_BYTES", 1)
    monkeypatch.setattr(_schedule, "SEPARABLE_RING_BYTES", 1)
    monkeypatch.setattr(_schedule, "BOX_RING_BYTES", 1)
    narrow = results()
    assert _schedule.direct_strip(301, 5, 7, np.float32) == 256 and _schedule.separable_strip(301, 6, np.float32) == 256
    for a, b in zip(wide, narrow):
        np.testing.assert_array_equal(a, b)


def test_small_calls_stay_on_one_thread(monkeypatch):
    """A thread is woken only for about WORK_PER_THREAD multiply-adds; the result is the same either way."""
    monkeypatch.setattr(_schedule, "WORK_PER_THREAD", 2**20)    # as shipped (the suite lowers it: conftest.py)
    rng = np.random.default_rng(3)
    K = rng.standard_normal((3, 3))
    plan = _plan.plan(K, np.uint8, "replicate", 0.0, np.uint8, POLICY_FLOOR)
    assert plan.path == "direct"
    assert plan.resolve((64, 64), 8).schedule.threads == 1
    assert plan.resolve((600, 700), 2).schedule.threads == 2           # 9 taps: 3.8 M multiply-adds
    assert plan.resolve((600, 700), 8).schedule.threads == 3
    for shape in ((64, 64), (600, 700)):
        image = rng.integers(0, 256, shape, dtype=np.uint8)
        np.testing.assert_array_equal(fastconv.convolve(image, K, threads=1), fastconv.convolve(image, K, threads=2))


@st.composite
def fft_kernels(draw):
    """Kernels the FFT path takes: non-integer taps, from 1 x 1 up to past half the largest float64 tile."""
    kh, kw = draw(st.sampled_from([1, 2, 3, 8, 21, 33, 40])), draw(st.sampled_from([1, 4, 9, 21, 31, 37]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["normal", "normalized", "sparse"]))
    K = rng.standard_normal((kh, kw)) + 0.001
    if kind == "normalized":
        K = np.abs(K) / np.abs(K).sum()
    elif kind == "sparse":
        K[rng.random((kh, kw)) < 0.7] = 0
        K[0, 0] = 0.3
    if np.array_equal(K, np.round(K)):     # e.g. a normalised 1 x 1 kernel: integer kernels are not the FFT's
        K[0, 0] += 0.0625
    return K


def test_fft_equals_the_float64_twin(variant):
    """The FFT path (forced) against float64 sums: within the documented bound in float outputs, within a level
    in integer outputs; on every image dtype, border, thread count, and images smaller and larger than a tile."""
    @given(st.sampled_from([np.uint8, np.uint16, np.int16, np.float32, np.float64]),
           st.tuples(st.integers(1, 150), st.integers(1, 300)), fft_kernels(), st.sampled_from(BORDERS),
           st.sampled_from(["round", "floor", "float"]), st.sampled_from([1, 2]), st.integers(0, 2**32 - 1))
    def check(dtype, shape, K, border, output, threads, seed):
        rng = np.random.default_rng(seed)
        if np.dtype(dtype).kind in "iu":
            info = np.iinfo(dtype)
            image = rng.integers(max(info.min, -300), min(info.max, 300), shape, endpoint=True).astype(dtype)
        else:
            image = (rng.standard_normal(shape) * 100).astype(dtype)
        ours = run("fft", image, K, border=border, output=output, threads=threads, cval=3.5)
        exact = correlate_float64(image, K, border, cval=3.5)
        if output == "float":
            scale = np.abs(K).sum() * max(float(np.abs(image).max()), 3.5, 1.0)
            epsilon = EPSILON[ours.dtype.itemsize]
            assert np.abs(ours - exact).max() <= epsilon * scale + np.finfo(ours.dtype).eps * np.abs(exact).max()
        else:
            info = np.iinfo(np.uint8)
            rounding = np.floor if output == "floor" else np.rint
            expected = rounding(np.clip(exact, info.min, info.max))
            assert np.abs(ours.astype(int) - expected).max() <= 1

    check()


def test_fft_agrees_with_direct_on_a_photo_sized_image():
    """1080p-like shapes cut tiles at every edge: the FFT and direct paths agree to float rounding (float
    outputs) and to one level, almost always none, in rounded uint8 outputs."""
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (301, 517), dtype=np.uint8)
    K = rng.uniform(-1, 1, (21, 21))
    for border in BORDERS:
        fft = run("fft", image, K, border=border, output="round", cval=7.0)
        direct = run("direct", image, K, border=border, output="round", cval=7.0)
        assert np.abs(fft.astype(int) - direct).max() <= 1
        assert np.mean(fft != direct) < 1e-3
        fft = run("fft", image, K, border=border, output="float", cval=7.0)
        direct = run("direct", image, K, border=border, output="float", cval=7.0)
        scale = np.abs(K).sum() * 255
        np.testing.assert_allclose(fft, direct, rtol=0, atol=64 * 441 * np.finfo(np.float32).eps * scale)


def raw_fft(image, K, n, acc):
    """The core's transform alone on n x n tiles in `acc`, every tile trusted (no check): float output, wrap."""
    h, w = image.shape
    kh, kw = K.shape
    spectrum = _taps.fft_spectrum(K, n, acc)
    check = (False, False, float(np.finfo(acc).max), 0.0, 0.0, 0.0)
    border = _plan.Border(fastconv._border.source_indices("wrap", h, kh, kh // 2),
                          fastconv._border.source_indices("wrap", w, kw, kw // 2), kw // 2, 0.0)
    out = np.empty((h, w), np.float64)
    _dispatch.core().correlate_fft(image, out, spectrum + (check,), _taps.direct_taps(K, acc), border,
                                   _plan.Output(POLICY_RAW, 0.0, 0.0, 0.0), _schedule.Schedule(1, 0, 0))
    return out


def test_fft_bound_holds_on_adversarial_tiles():
    """fft_bound is a proof, but check it against the worst inputs at hand: full-scale constant and
    checkerboard tiles, and random ones, on every tile side; the float32 transform's error must stay below it."""
    rng = np.random.default_rng(11)
    for n in _plan.FFT_SIZES[:4]:
        K = rng.uniform(-1, 1, (min(9, n - 1), min(9, n - 1)))
        bound = fft_bound(K, n, 255.0, UNIT[4])
        y, x = np.mgrid[:3 * n, :3 * n]
        for image in (np.full((3 * n, 3 * n), 255, np.uint8), ((y + x) % 2 * 255).astype(np.uint8),
                      rng.integers(0, 256, (3 * n, 3 * n), dtype=np.uint8)):
            ours = raw_fft(image, K, n, np.float32)
            exact = correlate_float64(image, K, "wrap")
            assert np.abs(ours - exact).max() <= bound


def test_fft_takes_float32_only_where_its_bound_allows():
    """Rounded uint8 outputs stay within half a level of the exact sum: float32 transforms for normalised
    kernels on small tiles, float64 where the bound is too loose (large gains); float outputs, held to the
    documented relative bound, always transform in float64."""
    blur = np.abs(np.random.default_rng(1).standard_normal((21, 21)))
    blur /= blur.sum()
    image = np.zeros((1080, 1920), np.uint8)
    explained = fastconv.explain(image, blur, output="round")
    assert explained.path == "fft" and explained.accumulator == "float32"
    assert fft_bound(blur, explained.fft_tile, 255.0, UNIT[4]) < 0.5
    wild = np.random.default_rng(1).uniform(-1, 1, (21, 21))
    explained = fastconv.explain(image, wild, output="round")
    assert explained.path == "fft" and explained.accumulator == "float64"
    assert fastconv.explain(image, blur, output="float").accumulator == "float64"


@pytest.mark.parametrize("bad", [np.nan, np.inf, 1e35])
def test_fft_tiles_with_non_finite_or_vast_samples_take_the_direct_path(bad, variant):
    """One NaN, inf or vast sample would spoil its whole tile: that tile is summed directly, with the NaN rule,
    and the rest stays within the bound."""
    rng = np.random.default_rng(2)
    image = rng.standard_normal((90, 140)).astype(np.float32)
    image[40, 70] = bad
    K = rng.uniform(-1, 1, (21, 21))
    K[10, :] = 0            # a zero row: NaN must not spread through it
    fft = run("fft", image, K, output="float")
    with np.errstate(invalid="ignore", over="ignore"):
        expected = correlate_nan_rule(image, K)
    np.testing.assert_array_equal(np.isnan(fft), np.isnan(expected))
    np.testing.assert_array_equal(np.isinf(fft), np.isinf(expected))
    finite = np.isfinite(expected)
    window_max = ndimage.maximum_filter(np.abs(image.astype(np.float64)), size=21, mode="nearest")
    error = np.abs(fft[finite] - expected[finite])
    assert (error <= EPSILON[4] * np.abs(K).sum() * window_max[finite]).all()


@pytest.mark.parametrize("K, image_dtype, path", [
    (np.random.default_rng(0).uniform(-1, 1, (21, 21)), np.uint8, "fft"),
    (np.random.default_rng(0).uniform(-1, 1, (21, 21)), np.float32, "fft"),
    (np.random.default_rng(0).uniform(-1, 1, (31, 31)), np.float64, "fft"),
    (np.random.default_rng(0).uniform(-1, 1, (5, 5)), np.float32, "direct"),
    (np.random.default_rng(0).integers(-3, 4, (21, 21)).astype(float), np.uint8, "direct"),   # exact sums
    (np.random.default_rng(0).integers(-3, 4, (21, 21)).astype(float), np.float32, "fft"),
    (fastconv.kernels.gaussian(21, 4.0), np.uint8, "separable"),
    (np.full((21, 21), 1 / 441), np.float32, "separable"),
])
def test_automatic_choice_of_large_kernels(K, image_dtype, path):
    assert path_of(K, image_dtype) == path


def test_fft_refused_where_exact_sums_are_promised():
    with pytest.raises(ValueError, match="the 'fft' path does not apply"):
        run("fft", np.zeros((5, 5), np.uint8), np.ones((3, 4)) * 2)
    with pytest.raises(ValueError, match="the 'fft' path does not apply"):
        run("fft", np.zeros((5, 5), np.float32), np.full((3, 3), 1e30))


def test_small_images_take_the_direct_path_automatically():
    K = np.random.default_rng(0).uniform(-1, 1, (21, 21))
    assert path_of(K, np.float32) == "fft"
    explained = fastconv.explain(np.zeros((4, 4), np.float32), K)
    assert explained.path == "direct" and "too small" in explained.not_taken["fft"]


def test_fft_results_do_not_depend_on_the_thread_count(variant):
    """Tiles fall at the same places whatever the threads: bit-identical results."""
    rng = np.random.default_rng(4)
    image = rng.integers(0, 256, (200, 333), dtype=np.uint8)
    K = rng.uniform(-1, 1, (17, 23))
    for output in ("round", "float"):
        serial = run("fft", image, K, output=output, threads=1)
        for threads in (2, 3, 8):
            np.testing.assert_array_equal(run("fft", image, K, output=output, threads=threads), serial)


@pytest.mark.parametrize("rounding", [False, True], ids=["floor", "round"])
def test_box_mean_reciprocal_gives_the_exact_mean_for_every_window_sum(rounding):
    """The box path multiplies by a reciprocal instead of dividing where that gives the same integers: checked
    for every window sum of uint8 windows, against exact integer arithmetic."""
    used = 0
    for n in list(range(1, 130)) + [225, 256, 289, 441, 961, 1024, 2025]:
        r = _taps.mean_reciprocal(n, 255, rounding)
        if r is None:
            continue
        used += 1
        S = np.arange(n * 255 + 1)
        q = S.astype(np.float32) * np.float32(r)
        assert q.dtype == np.float32 and float(np.float32(r)) == r
        if not rounding:
            np.testing.assert_array_equal(np.floor(q), S // n, err_msg=f"n={n}")
        else:
            np.testing.assert_array_equal(np.rint(q), np.rint(S / n), err_msg=f"n={n}")
    assert used > 60
    assert _taps.mean_reciprocal(6, 255, True) is None      # ties: 3 / 6 = 0.5
    assert _taps.mean_reciprocal(49, 65535, False) is None   # too many float32 roundings to trust


@pytest.mark.parametrize("kshape", [(1, 1), (3, 8), (21, 21), (2, 257), (7, 258)], ids=str)
def test_box_rows_first_for_uint8_equals_the_column_sums(kshape, variant, monkeypatch, request):
    """uint8 images take the box path rows first (uint16 window sums, up to 257 columns); the column sums in
    int32 are the other way: both exact, so identical on every border, output policy and cval."""
    rng = np.random.default_rng(sum(kshape))
    image = rng.integers(0, 256, (40, 300), dtype=np.uint8)
    cases = [(np.full(kshape, value), border, output, cval)
             for value in (1.0 / (kshape[0] * kshape[1]), 1.0, 0.37) for border in BORDERS
             for output in ("floor", "round", "float") for cval in (0.0, 200.0)]
    rows_first = [run("box", image, K, border=b, output=o, cval=c, threads=2) for K, b, o, c in cases]
    monkeypatch.setattr(_plan, "BOX_ROWS_FIRST", False)
    _plan.clear()        # plans hold the choice
    request.addfinalizer(_plan.clear)
    columns_first = [run("box", image, K, border=b, output=o, cval=c, threads=2) for K, b, o, c in cases]
    for a, b, case in zip(rows_first, columns_first, cases):
        np.testing.assert_array_equal(a, b, err_msg=str(case[1:]))

"""Every path (direct, separable, box, integer) gives the direct path's results within float rounding.

Each path is forced through fastconv._paths.force; the automatic choice is checked too.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastconv
from fastconv import _paths
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
    with _paths.force(path):
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
    assert _paths.choose(K, image.dtype, "reflect101", 0.0)[0] == "integer"
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
        with _paths.force("winograd"):
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
    (np.arange(25.0).reshape(5, 5), np.uint8, "direct"),   # integer, but sums leave int16
    (np.random.default_rng(0).standard_normal((7, 7)), np.uint8, "direct"),
])
def test_automatic_choice(K, image_dtype, path):
    assert _paths.choose(K, np.dtype(image_dtype), "replicate", 0.0)[0] == path


def test_rank1_detection_is_exact_or_refused():
    g = fastconv.kernels.gaussian(9, 1.3)
    v, h = _paths.rank1_factors(g)
    assert np.abs(np.outer(v, h) - g).max() <= 4 * np.finfo(float).eps * g.max()
    sobel = fastconv.kernels.sobel(1, 0)
    v, h = _paths.rank1_factors(sobel)
    np.testing.assert_array_equal(np.outer(v, h), sobel)
    nearly = g.copy()
    nearly[0, 0] *= 1 + 1e-9     # rank 2 by a hair: not separable
    assert _paths.rank1_factors(nearly) is None


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
        _paths._cached_plan.cache_clear()     # plans keep their strip width
        return [run(path, image, K, border=border, output=output, threads=threads, cval=5.0)
                for border in BORDERS for output in ("round", "float") for threads in (1, 2)]

    wide = results()
    monkeypatch.setattr(_paths, "DIRECT_RING_BYTES", 1)
    monkeypatch.setattr(_paths, "SEPARABLE_RING_BYTES", 1)
    monkeypatch.setattr(_paths, "BOX_RING_BYTES", 1)
    narrow = results()
    _paths._cached_plan.cache_clear()
    assert _paths.direct_strip(301, 5, 7, np.float32) == 256 and _paths.separable_strip(301, 6, np.float32) == 256
    for a, b in zip(wide, narrow):
        np.testing.assert_array_equal(a, b)


def test_small_calls_stay_on_one_thread(monkeypatch):
    """A thread is woken only for about WORK_PER_THREAD multiply-adds; the result is the same either way."""
    monkeypatch.setattr(_paths, "WORK_PER_THREAD", 2**20)    # as shipped (the suite lowers it: conftest.py)
    rng = np.random.default_rng(3)
    K = rng.standard_normal((3, 3))
    plan = _paths.plan(K, np.uint8, "replicate", 0.0)
    assert plan.path == "direct"
    assert plan.threads("direct", 64 * 64, 8) == 1
    assert plan.threads("direct", 600 * 700, 2) == 2            # 9 taps: 3.8 M multiply-adds
    assert plan.threads("direct", 600 * 700, 8) == 3
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


def fft_tolerance(image, K, cval, acc_eps, n):
    """A generous bound on an n x n tile FFT's error (about 20 roundings per radix-2 stage of the forward and the
    inverse 2-D transforms, over the 2-norm of two tiles of peak samples, times the kernel's largest gain)."""
    peak = max(float(np.abs(image).max(initial=0)), abs(cval))
    stages = 2 * np.log2(n)
    return 20 * acc_eps * stages * np.sqrt(2) * n * peak * np.abs(K).sum() + 1e-300


def test_fft_equals_the_float64_twin(variant):
    """The FFT path (forced) against float64 sums: within its error bound in float outputs, within a level in
    integer outputs; on every image dtype, border, thread count, and images smaller and larger than a tile."""
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
        with _paths.force("fft"):
            plan = _paths.plan(K, image.dtype, border, 3.5 if border == "constant" else 0.0)
        assert plan.path == "fft"
        if output == "float":
            acc = np.float64 if dtype == np.float64 else np.float32
            tol = fft_tolerance(image, K, 3.5, np.finfo(acc).eps, plan.fft_sides[np.dtype(acc).itemsize])
            assert np.abs(ours - exact).max() <= tol + np.finfo(ours.dtype).eps * np.abs(exact).max()
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


def test_fft_bound_holds_on_adversarial_tiles():
    """fft_bound is a proof, but check it against the worst inputs at hand: full-scale constant and
    checkerboard tiles, and random ones, on every tile side; the float32 error must stay below the bound."""
    rng = np.random.default_rng(11)
    for n in _paths.FFT_SIZES[:4]:
        K = rng.uniform(-1, 1, (min(9, n - 1), min(9, n - 1)))
        bound = _paths.fft_bound(K, n, 255.0)
        y, x = np.mgrid[:3 * n, :3 * n]
        for image in (np.full((3 * n, 3 * n), 255, np.uint8), ((y + x) % 2 * 255).astype(np.uint8),
                      rng.integers(0, 256, (3 * n, 3 * n), dtype=np.uint8)):
            with _paths.force("fft"):
                plan = _paths.plan(K, image.dtype, "wrap", 0.0)
                plan.fft_sides[4] = n       # this tile side, in float32
                plan._args.clear()
                ours = fastconv.convolve(image, K, border="wrap", output="float", accumulate="float32")
                _paths._cached_plan.cache_clear()
            exact = correlate_float64(image, K, "wrap")
            assert np.abs(ours - exact).max() <= bound


def test_fft_takes_float32_only_where_its_bound_allows():
    """Rounded uint8 outputs stay within half a level of the exact sum: float32 transforms for normalised
    kernels on small tiles, float64 where the bound is too loose (large gains)."""
    blur = np.abs(np.random.default_rng(1).standard_normal((21, 21)))
    blur /= blur.sum()
    plan = _paths.plan(blur, np.dtype(np.uint8), "replicate", 0.0)
    assert plan.path == "fft"
    assert plan.accumulator(True, 0.0) == np.float32
    assert _paths.fft_bound(blur, plan.fft_sides[4], 255.0) < 0.5
    wild = np.random.default_rng(1).uniform(-1, 1, (21, 21))
    plan = _paths.plan(wild, np.dtype(np.uint8), "replicate", 0.0)
    assert plan.path == "fft" and plan.accumulator(True, 0.0) == np.float64
    assert plan.accumulator(False, 0.0) == np.float32       # float outputs: float32 sums, as cv2


@pytest.mark.parametrize("bad", [np.nan, np.inf, 1e35])
def test_fft_falls_back_to_direct_for_non_finite_or_vast_samples(bad, variant):
    """One NaN, inf or vast sample would spoil a whole tile: the call takes the direct path and its NaN rule."""
    rng = np.random.default_rng(2)
    image = rng.standard_normal((90, 140)).astype(np.float32)
    image[40, 70] = bad
    K = rng.uniform(-1, 1, (21, 21))
    K[10, :] = 0            # a zero row: NaN must not spread through it
    fft = run("fft", image, K, output="float")
    np.testing.assert_array_equal(fft, run("direct", image, K, output="float"))
    if not np.isfinite(bad):
        expected = correlate_nan_rule(image, K)
        np.testing.assert_array_equal(np.isnan(fft), np.isnan(expected))


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
    assert _paths.choose(K, np.dtype(image_dtype), "replicate", 0.0)[0] == path


def test_fft_refused_where_exact_sums_are_promised():
    with pytest.raises(ValueError, match="the 'fft' path does not apply"):
        run("fft", np.zeros((5, 5), np.uint8), np.ones((3, 4)) * 2)
    with pytest.raises(ValueError, match="the 'fft' path does not apply"):
        run("fft", np.zeros((5, 5), np.float32), np.full((3, 3), 1e30))


def test_small_images_take_the_direct_path_automatically():
    K = np.random.default_rng(0).uniform(-1, 1, (21, 21))
    plan = _paths.plan(K, np.dtype(np.float32), "replicate", 0.0)
    assert plan.path == "fft"
    assert plan._fft_wastes((4, 4), np.float32) and not plan._fft_wastes((1080, 1920), np.float32)


def test_fft_results_do_not_depend_on_the_thread_count(variant):
    """Tiles fall at the same places whatever the threads: bit-identical results."""
    rng = np.random.default_rng(4)
    image = rng.integers(0, 256, (200, 333), dtype=np.uint8)
    K = rng.uniform(-1, 1, (17, 23))
    for output in ("round", "float"):
        serial = run("fft", image, K, output=output, threads=1)
        for threads in (2, 3, 8):
            np.testing.assert_array_equal(run("fft", image, K, output=output, threads=threads), serial)


@pytest.mark.parametrize("policy", [_paths.POLICY_FLOOR, _paths.POLICY_ROUND])
def test_box_mean_reciprocal_gives_the_exact_mean_for_every_window_sum(policy):
    """The box path multiplies by a reciprocal instead of dividing where that gives the same integers: checked
    for every window sum of uint8 windows, against exact integer arithmetic."""
    used = 0
    for n in list(range(1, 130)) + [225, 256, 289, 441, 961, 1024, 2025]:
        r = _paths.mean_reciprocal(n, 255, policy)
        if r is None:
            continue
        used += 1
        S = np.arange(n * 255 + 1)
        q = S.astype(np.float32) * r[0]
        assert q.dtype == np.float32
        if policy == _paths.POLICY_FLOOR:
            np.testing.assert_array_equal(np.floor(q), S // n, err_msg=f"n={n}")
        else:
            np.testing.assert_array_equal(np.rint(q), np.rint(S / n), err_msg=f"n={n}")
    assert used > 60
    assert _paths.mean_reciprocal(6, 255, _paths.POLICY_ROUND) is None      # ties: 3 / 6 = 0.5
    assert _paths.mean_reciprocal(49, 65535, _paths.POLICY_FLOOR) is None   # too many float32 roundings to trust


@pytest.mark.parametrize("kshape", [(1, 1), (3, 8), (21, 21), (2, 257), (7, 258)], ids=str)
def test_box_rows_first_for_uint8_equals_the_column_sums(kshape, variant, monkeypatch):
    """uint8 images take the box path rows first (uint16 window sums, up to 257 columns); the column sums in
    int32 are the other way: both exact, so identical on every border, output policy and cval."""
    rng = np.random.default_rng(sum(kshape))
    image = rng.integers(0, 256, (40, 300), dtype=np.uint8)
    cases = [(np.full(kshape, value), border, output, cval)
             for value in (1.0 / (kshape[0] * kshape[1]), 1.0, 0.37) for border in BORDERS
             for output in ("floor", "round", "float") for cval in (0.0, 200.0)]
    rows_first = [run("box", image, K, border=b, output=o, cval=c, threads=2) for K, b, o, c in cases]
    monkeypatch.setattr(_paths, "BOX_ROWS_FIRST", False)
    columns_first = [run("box", image, K, border=b, output=o, cval=c, threads=2) for K, b, o, c in cases]
    for a, b, case in zip(rows_first, columns_first, cases):
        np.testing.assert_array_equal(a, b, err_msg=str(case[1:]))

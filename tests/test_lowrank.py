"""The low-rank path: kernels that are a sum of two or three outer products (a Laplacian of Gaussian, a difference
of Gaussians, a Gabor kernel, the plus-shaped Laplacian) summed as one horizontal pass per term and one vertical
pass; taken only on integer images and only where its error bound, computed for the call, keeps the promise.

Oracles: the float64 twin (tests/twins.py), the forced direct path, cv2.filter2D."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastconv
from fastconv import _plan, _schedule, _taps
from fastconv._bounds import EPSILON, UNIT, low_rank_bound
from helpers import path_of
from test_promise import within_promise
from twins import correlate_float64

BORDERS = ["replicate", "reflect", "reflect101", "wrap", "constant"]
INTEGER_IMAGES = [np.uint8, np.uint16, np.int16]


def laplacian_of_gaussian(size, sigma):
    r = np.arange(size) - size // 2
    x, y = np.meshgrid(r, r)
    q = (x**2 + y**2) / (2 * sigma**2)
    return -(1 - q) * np.exp(-q) / (np.pi * sigma**4)


def difference_of_gaussians(size, s1, s2):
    return fastconv.kernels.gaussian(size, s1) - fastconv.kernels.gaussian(size, s2)


def gabor(size, sigma, theta, wavelength):
    r = np.arange(size) - size // 2
    x, y = np.meshgrid(r, r)
    along = x * np.cos(theta) + y * np.sin(theta)
    return np.exp(-(x**2 + y**2) / (2 * sigma**2)) * np.cos(2 * np.pi * along / wavelength)


def random_rank(rank, kh, kw, seed):
    rng = np.random.default_rng(seed)
    return sum(np.outer(rng.standard_normal(kh), rng.standard_normal(kw)) for _ in range(rank))


LOW_RANK_KERNELS = {
    "log 9x9": laplacian_of_gaussian(9, 1.4),
    "dog 9x9": difference_of_gaussians(9, 1.0, 1.6),
    "gabor 9x9": gabor(9, 2.0, 0.6, 4.0),
    "rank 2 9x9": random_rank(2, 9, 9, 1),
    "rank 3 11x7": random_rank(3, 11, 7, 2),
}


def run(path, image, K, **kw):
    with _plan.force(path):
        return fastconv.convolve(image, K, **kw)


@pytest.mark.parametrize("name", list(LOW_RANK_KERNELS))
def test_the_low_rank_kernels_take_the_path_on_integer_images(name):
    K = LOW_RANK_KERNELS[name]
    for dtype in INTEGER_IMAGES:
        assert path_of(K, dtype) == "lowrank", (name, dtype)
        assert path_of(K, dtype, output="float") == "lowrank", (name, dtype)


def test_float_images_and_non_finite_borders_keep_the_direct_path():
    """A NaN or inf sample would meet the terms' taps (non-zero where the kernel's are zero, and cancelling where
    the kernel's are not) instead of the kernel's."""
    K = LOW_RANK_KERNELS["log 9x9"]
    for dtype in (np.float32, np.float64):
        assert path_of(K, dtype, output="float") != "lowrank"
    assert path_of(K, np.uint8, border="constant", cval=np.nan) != "lowrank"
    with pytest.raises(ValueError, match="integer image"):
        run("lowrank", np.zeros((9, 9), np.float32), K)


@pytest.mark.parametrize("name", list(LOW_RANK_KERNELS))
def test_svd_terms_reconstruct_the_kernel_within_their_residual(name):
    K = LOW_RANK_KERNELS[name]
    splits = _taps.low_rank(K, integer=False)
    assert [len(vs) for vs, hs, residual in splits] == list(range(2, len(splits) + 2))
    for vs, hs, residual in splits:
        product = sum(np.outer(v, h) for v, h in zip(vs, hs))
        assert np.abs(product - K).sum() <= residual
    rank = 3 if name.startswith("rank 3") else 2
    assert splits[rank - 2][2] < 1e-12 * np.abs(K).sum()


INTEGER_SPLITS = [
    np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]]),                       # the plus-shaped Laplacian
    np.outer([1, 2, 1], [1, -2, 1]) + np.outer([1, -2, 1], [1, 2, 1]),  # a Laplacian from Sobel's factors
    np.outer([1, 0, -1], [1, 2, 1]) + np.outer([1, 2, 1], [1, 0, -1]),  # Sobel x plus Sobel y
    np.outer([1, 4, 6, 4, 1], [1, 2, 0, -2, -1]) - 3 * np.outer([0, 1, 2, 1, 0], [1, 1, 1, 1, 1])
    + np.outer([2, 0, 0, 0, 2], [0, 0, 5, 0, 0]),                       # three terms
]


@pytest.mark.parametrize("index", range(len(INTEGER_SPLITS)))
def test_integer_kernels_split_into_exact_integer_terms(index):
    K = INTEGER_SPLITS[index].astype(np.float64)
    [(vs, hs, residual)] = _taps.low_rank(K, integer=True)
    assert residual == 0.0 and 2 <= len(vs) <= 3
    for v, h in zip(vs, hs):
        assert np.array_equal(v, np.round(v)) and np.array_equal(h, np.round(h))
    np.testing.assert_array_equal(sum(np.outer(v, h) for v, h in zip(vs, hs)), K)


def test_integer_kernels_without_an_exact_split_are_refused_where_exactness_is_promised():
    K = np.arange(16.0).reshape(4, 4) ** 2 % 7      # full rank
    assert _taps.low_rank(K, integer=True) == []
    with pytest.raises(ValueError, match="exact split"):
        run("lowrank", np.zeros((9, 9), np.uint8), K)


@st.composite
def low_rank_kernels(draw):
    kh, kw = draw(st.integers(2, 13)), draw(st.integers(2, 13))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    terms = draw(st.integers(2, 3))
    if draw(st.booleans()):
        K = sum(np.outer(rng.integers(-3, 4, kh), rng.integers(-3, 4, kw)) for _ in range(terms)).astype(float)
        if _taps.low_rank(K, integer=True):
            return K
    K = sum(np.outer(rng.standard_normal(kh), rng.standard_normal(kw)) for _ in range(terms))
    K[np.abs(K) < draw(st.sampled_from([0.0, 0.3]))] = 0      # zero taps: a kernel near, not at, low rank
    return K


@st.composite
def integer_images(draw):
    dtype = np.dtype(draw(st.sampled_from(INTEGER_IMAGES)))
    info = np.iinfo(dtype)
    h, w = draw(st.integers(1, 40)), draw(st.integers(1, 300))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    top = int(draw(st.sampled_from([255, info.max])))
    image = rng.integers(max(info.min, -top), top, (h, w), endpoint=True)
    if draw(st.booleans()):     # the extremes, where the bound is tightest
        image = np.where(rng.random((h, w)) < 0.5, max(info.min, -top), top)
    return image.astype(dtype)


def test_lowrank_keeps_the_promise_against_the_float64_twin(variant):
    @given(integer_images(), low_rank_kernels(), st.sampled_from(BORDERS), st.sampled_from([0.0, 7.0, 1e3]),
           st.sampled_from(["round", "floor", "float"]), st.sampled_from([1, 2]))
    def check(image, K, border, cval, output, threads):
        try:
            ours = run("lowrank", image, K, border=border, cval=cval, output=output, threads=threads)
        except ValueError as error:         # only where its bound forbids it
            assert "beyond the bound" in str(error) or "exact split" in str(error)
            return
        cval = cval if border == "constant" else 0.0
        exact = correlate_float64(image, K, border, cval)
        if output == "float":
            assert within_promise(ours, exact, K, image, border, cval, floor=1.0)
            return
        info = np.iinfo(ours.dtype)
        rounding = np.floor if output == "floor" else np.rint
        low, high = (rounding(np.clip(exact + d, info.min, info.max)) for d in (-0.5, 0.5))
        assert ((ours >= low) & (ours <= high)).all()      # the sums within half a level: one level at most
        if np.array_equal(K, np.round(K)):
            np.testing.assert_array_equal(ours, rounding(np.clip(exact, info.min, info.max)))    # exact
            np.testing.assert_array_equal(ours, run("direct", image, K, border=border, cval=cval, output=output))

    check()


@pytest.mark.parametrize("name", list(LOW_RANK_KERNELS))
@pytest.mark.parametrize("border", BORDERS)
def test_lowrank_agrees_with_the_direct_path_and_cv2(name, border, variant):
    cv2 = pytest.importorskip("cv2")
    K = LOW_RANK_KERNELS[name]
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, (67, 301), dtype=np.uint8)
    ours = run("lowrank", image, K, border=border, cval=9)
    direct = run("direct", image, K, border=border, cval=9)
    assert np.abs(ours.astype(int) - direct).max() <= 1
    flags = {"replicate": cv2.BORDER_REPLICATE, "reflect": cv2.BORDER_REFLECT, "reflect101": cv2.BORDER_REFLECT_101,
             "wrap": cv2.BORDER_WRAP, "constant": cv2.BORDER_CONSTANT}
    if border == "constant":
        (kh, kw), (h, w) = K.shape, image.shape
        padded = cv2.copyMakeBorder(image, kh, kh, kw, kw, cv2.BORDER_CONSTANT, value=9)
        theirs = cv2.filter2D(padded, -1, K, borderType=cv2.BORDER_ISOLATED)[kh:kh + h, kw:kw + w]
    elif border == "wrap":
        theirs = direct         # cv2.filter2D refuses BORDER_WRAP
    else:
        theirs = cv2.filter2D(image, -1, K, borderType=flags[border])
    assert np.abs(ours.astype(int) - theirs).max() <= 1
    exact = correlate_float64(image, K, border, 9.0 if border == "constant" else 0.0)
    assert np.abs(ours - np.clip(exact, 0, 255)).max() <= 1


def test_near_low_rank_kernels_take_the_path_only_where_the_bound_allows():
    """A rank-2 kernel plus a full-rank part of relative size eps: the terms leave (most of) the full-rank part
    out, so the path is taken for tiny eps and refused for large ones, exactly where the bound says; wherever it
    is taken the result keeps the promise on the image that makes the left-out part count most."""
    base = LOW_RANK_KERNELS["rank 2 9x9"]
    noise = np.random.default_rng(3).standard_normal(base.shape)
    taken = {}
    for eps in 10.0 ** np.arange(-14, 0):
        K = base + eps * np.abs(base).sum() / np.abs(noise).sum() * noise
        l1 = np.abs(K).sum()
        splits = _taps.low_rank(K, integer=False)

        def fits(limit, peak):
            return any(low_rank_bound(vs, hs, residual, -peak, peak, u) <= limit
                       for vs, hs, residual in splits for u in UNIT.values())

        vs, hs, residual = splits[-1]
        sign = np.sign(K - sum(np.outer(v, h) for v, h in zip(vs, hs)))
        image = np.tile(np.where(sign > 0, 255, 0).astype(np.uint8), (3, 3))
        exact = correlate_float64(image, K)
        taken[eps] = path_of(K, np.uint8, shape=(64, 64), output="round") == "lowrank"
        assert taken[eps] == fits(0.5 * (1 - 1e-9), 255.0), eps
        if taken[eps]:
            ours = run("lowrank", image, K, output="round")
            assert np.abs(ours - np.rint(np.clip(exact, 0, 255))).max() <= 1
        else:
            with pytest.raises(ValueError, match="beyond the bound"):
                run("lowrank", image, K, output="round")
        floats = path_of(K, np.uint8, shape=(64, 64), output="float") == "lowrank"
        assert floats == fits(EPSILON[4] * l1, 1.0), eps
        if floats:
            ours = run("lowrank", image, K, output="float")
            assert np.abs(ours - exact).max() <= EPSILON[4] * l1 * 255 + 2.0 ** -23 * np.abs(exact).max()
    assert taken[1e-14] and not taken[1e-1] and not taken[1e-3]


def test_huge_dynamic_range_kernels_keep_the_promise_or_the_direct_path():
    """Terms with taps decades apart (float32 cannot hold both), and a kernel written as a nearly cancelling pair
    (the split is the kernel's own, not the pair): the bound decides, and the result keeps the promise."""
    rng = np.random.default_rng(4)
    a, b, c, d = (rng.standard_normal(7) for _ in range(4))
    cases = [np.outer(a, b) * 1e30 + np.outer(c, d) * 1e-30,
             np.outer(a, b) * 1e-20 + np.outer(c, d) * 1e-45,
             np.outer(a, b) + np.outer(a * (1 + 1e-9), -b) + 1e-12 * np.outer(c, d)]
    image = rng.integers(0, 65536, (40, 50)).astype(np.uint16)
    for K in cases:
        for output in ("float", "round"):
            ours = fastconv.convolve(image, K, output=output, dtype=np.float64 if output == "float" else np.uint16)
            exact = correlate_float64(image, K)
            if output == "float":
                assert within_promise(ours, exact, K, image, floor=1.0)
            else:
                assert np.abs(ours - np.rint(np.clip(exact, 0, 65535))).max() <= 1
    # the promise is relative to sum|K|: float outputs may drop the 1e-30 term (a split path), but integer
    # outputs are held to half a level of sums near 1e35, which only float64 sums of every tap keep
    assert path_of(cases[0], np.uint16, output="float") in ("separable", "lowrank")
    assert path_of(cases[0], np.uint16, output="round", dtype=np.uint16) == "direct"


def test_the_float32_accumulator_is_taken_only_where_its_bound_fits():
    K = LOW_RANK_KERNELS["log 9x9"]
    for dtype in INTEGER_IMAGES:
        info = np.iinfo(dtype)
        peak = max(-int(info.min), int(info.max))
        explanation = fastconv.explain(np.zeros((64, 64), dtype), K)
        assert explanation.path == "lowrank"
        [(vs, hs, residual), *_] = _taps.low_rank(K, integer=False)
        fits32 = low_rank_bound(vs, hs, residual, -peak, peak, UNIT[4]) < 0.5
        assert (explanation.accumulator == "float32") == fits32, dtype
    explanation = fastconv.explain(np.zeros((64, 64), np.uint8), K, output="float", dtype=np.float64)
    assert explanation.accumulator == "float64"      # float64 outputs: EPSILON[8] is beyond float32
    assert EPSILON[8] < UNIT[4]


@pytest.mark.parametrize("threads", [1, 2])
def test_strips_bands_and_threads_do_not_change_results(threads, variant, monkeypatch):
    K = LOW_RANK_KERNELS["rank 3 11x7"]
    image = np.random.default_rng(6).integers(0, 256, (53, 700), dtype=np.uint8)
    whole = run("lowrank", image, K, output="float", threads=1)
    monkeypatch.setattr(_schedule, "SEPARABLE_RING_BYTES", 4096)       # strips of 256 columns
    np.testing.assert_array_equal(run("lowrank", image, K, output="float", threads=threads), whole)
    for columns in (1, 5, 64, 255):         # narrow images: the quarter-width register blocks
        part = np.ascontiguousarray(image[:, :columns])
        ours = run("lowrank", part, K, output="float", threads=threads)
        np.testing.assert_array_equal(ours, run("lowrank", part, K, output="float", threads=1))
        assert within_promise(ours, correlate_float64(part, K), K, part, floor=1.0)

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
        except ValueError as error:         # only where its bound forbids it, or the kernel is of rank 1
            assert any(reason in str(error) for reason in ("beyond the bound", "exact split", "outer products"))
            assert "outer products" not in str(error) or np.linalg.matrix_rank(K) < 2
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


def test_a_hard_integer_split_is_given_up_within_its_budget():
    """Regression: every pivot of a block of ones yields a term whose remainder has no integer split, and the
    search once went through them all, with a full scan of the remainder each (a 96 x 96 kernel took a minute)."""
    a, b, c, d = (np.arange(2, 2 + 48) % 7 + 2 for _ in range(4))
    block = np.outer(a, b[::-1]) + np.outer(c[::2].repeat(2), d)
    K = np.zeros((96, 96))
    K[:48, :48] = block
    K[48:, 48:] = 1
    tries = [_taps._INTEGER_SPLIT_TRIES]
    assert _taps._integer_split(K.astype(np.int64), tries) is None
    assert tries[0] >= -_taps.MAX_TERMS       # each level stops once the shared budget is spent


def test_integer_terms_are_exact_over_the_integers():
    """Regression: the pivot search wrapped around int64 and returned terms that summed to K only modulo 2**64."""
    K = np.array([[1, 1, -437134, 495632],
                  [58447, 58448, -73455, -271665],
                  [-369423, 374870, 181783, -443914],
                  [-58449, -58450, 947723, -719599]], float)
    rng = np.random.default_rng(8)
    kernels = [K] + [rng.integers(-2**19, 2**19, (4, 4)) @ np.diag([1, 1, 1, 0]) @ rng.integers(-9, 9, (4, 4))
                     for _ in range(200)]
    for kernel in kernels:
        kernel = np.asarray(kernel, float)
        if np.abs(kernel).max() >= 2**20:
            continue
        for vs, hs, residual in _taps.low_rank(kernel, integer=True):
            total = sum(np.outer(v.astype(np.int64).astype(object), h.astype(np.int64).astype(object))
                        for v, h in zip(vs, hs))
            assert (total == kernel.astype(np.int64).astype(object)).all()


def test_a_forced_accumulator_does_not_take_a_split_its_rounding_spoils():
    """Regression: with `accumulate` given, a split was checked for its residual only: exact integer terms with
    products near 2**55 (massive cancellation) lost thousands of levels in float64."""
    K4 = np.array([[1, 2, 487796, -438786],
                   [249240, 498481, -5, -2],
                   [498477, 4, -466446, -677550],
                   [-249238, -2, 477122, 119380]], float)
    K = K4[np.ix_(np.tile(np.arange(4), 2), np.tile(np.arange(4), 2))]
    image = np.random.default_rng(0).integers(0, 256, (40, 40), dtype=np.uint8)
    exact = correlate_float64(image, K)
    for accumulate in (None, "float64"):
        options = dict(output="float", dtype=np.float64, accumulate=accumulate)
        assert np.abs(fastconv.convolve(image, K, **options) - exact).max() <= 2.0 ** -32 * np.abs(K).sum() * 255
    small = np.random.default_rng(1).integers(-3, 4, (40, 40)).astype(np.int16)
    exact = np.clip(correlate_float64(small, K), -32768, 32767)
    np.testing.assert_array_equal(fastconv.convolve(small, K, accumulate="float64"), np.floor(exact))


def test_a_float32_output_never_turns_a_sum_within_its_range_into_inf():
    """Regression: taps spanning 1e-30 to 1e56 on a uint16 image: an error within the promise (which scales with
    sum|K|) carried a sum within float32's range beyond it."""
    K = np.array([[ 1.7698789930130451e+03,  1.5552740916646062e+16,  3.2789564826690196e+16,  4.2464482332812734e+42,
             1.0034003776809816e+13,  4.0283283361047697e+37,  1.6640326741319472e+40],
           [ 1.7469116040972685e+17, -8.1993227720475901e+04, -1.0340671883370024e+05, -2.2387054791966818e+31,
             1.5136586719217822e+26, -2.1237138009504677e+26, -8.7726939272256773e+28],
           [ 1.5726566923158494e+00,  5.4151570233445873e+09,  1.1416678462998205e+10,  1.4785293536337772e+36,
             1.3656304908643260e+09,  1.4025843160705040e+31,  5.7938329138859627e+33],
           [-5.1283632723206733e+17, -8.4975079405316988e+29, -1.7915143637682682e+30, -2.3201201495450596e+56,
            -9.0879729022375748e+26, -2.2009465859797120e+51, -9.0917291926378520e+53],
           [ 1.5602498948192982e+27,  1.3896713539989582e+08,  6.2036393706396825e+14,  3.8265481061477245e+27,
             1.3519205998283469e+36,  9.0619019857093430e+09,  4.8440342541706751e+29],
           [ 7.6733475797011937e+25, -6.3559838508469714e+24, -1.3400206795138442e+25, -1.7354083462745599e+51,
             6.6487789533496086e+34, -1.6462686536999582e+46, -6.8004507120312688e+48],
           [ 1.4468342974941975e+20,  2.2492057697229332e+19,  4.7419601978999243e+19,  6.1411270967057892e+45,
             1.2536485968148768e+29,  5.8256865361961754e+40,  2.4064902204210183e+43]])
    img = np.array([[2, 0, 4, 3, 4, 2, 3, 3, 1],
           [2, 3, 3, 4, 2, 2, 4, 3, 1],
           [1, 0, 0, 3, 4, 2, 2, 2, 4],
           [1, 4, 2, 3, 0, 3, 1, 1, 2],
           [3, 4, 4, 4, 1, 4, 0, 0, 3],
           [1, 0, 3, 0, 1, 1, 0, 1, 0],
           [4, 3, 2, 0, 1, 3, 0, 0, 2],
           [2, 2, 4, 1, 1, 2, 4, 2, 3],
           [1, 1, 4, 1, 2, 4, 1, 4, 0]], dtype=np.uint16)
    exact = correlate_float64(img, K)
    ours = fastconv.convolve(img, K, output="float")
    inside = np.abs(exact) < np.finfo(np.float32).max / 2
    assert inside.any() and np.isfinite(ours[inside]).all()


def test_kernels_beyond_the_low_rank_side_are_not_split():
    side = _taps.LOW_RANK_SIDE
    rng = np.random.default_rng(9)
    for shape in ((side + 1, 5), (5, side + 1)):
        K = sum(np.outer(rng.standard_normal(shape[0]), rng.standard_normal(shape[1])) for _ in range(2))
        assert _taps.low_rank(K, integer=False) == [] and _taps.low_rank(np.round(K * 4), integer=True) == []
        assert fastconv.explain(np.zeros((80, 80), np.uint8), K).path != "lowrank"
    K = sum(np.outer(rng.standard_normal(side), rng.standard_normal(side)) for _ in range(2))
    assert [len(vs) for vs, hs, residual in _taps.low_rank(K, integer=False)] == [2, 3]

"""Small images: a call whose arguments the full path has checked before is served from a prepared job
(fastconv._api.serve, fastconv._plan.fast_calls). It must give the full path's bits and keep every check,
every error message, a forced path, the budget and Ctrl-C.

The oracle is the full path itself, reached with the same call and an explicit default anchor (which the fast path
does not take), and the float64 twin."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastconv
from fastconv import _api, _dispatch, _plan
from helpers import bits
from test_runtime import interrupt
from twins import correlate_float64

KERNELS = {
    "sharpen": fastconv.kernels.sharpen(),
    "random 5x5": np.random.default_rng(0).uniform(-1, 1, (5, 5)),
    "gaussian 7x7": fastconv.kernels.gaussian(7, 1.5),
    "box 3x3": np.ones((3, 3)) / 9,
    "rank 2 9x9": sum(np.outer(np.random.default_rng(k).standard_normal(9), np.random.default_rng(k + 9)
                               .standard_normal(9)) for k in range(2)),
    "wide 1x4": np.array([[1.0, -2.0, 0.5, 3.0]]),
    "float32 3x3": np.float32([[0.1, 0.2, 0.1], [0.2, -1.0, 0.2], [0.1, 0.2, 0.1]]),
}


def served(image, K, options, threads):
    """Whether the call is served from a prepared job (fastconv._api.serve returns its result, not its key)."""
    return type(_api.serve(image, K, options, threads)) is np.ndarray


def full_path(image, K, **options):
    """The same call through the full path: an explicit default anchor is not taken by the fast path."""
    K = np.asarray(K)
    return fastconv.convolve(image, K, anchor=(K.shape[0] // 2, K.shape[1] // 2), **options)


@st.composite
def small_images(draw):
    dtype = np.dtype(draw(st.sampled_from([np.uint8, np.uint16, np.int16, np.float32, np.float64])))
    h, w = draw(st.integers(1, 70)), draw(st.integers(1, 70))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if dtype.kind == "f":
        return (rng.standard_normal((h, w)) * 100).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, (h, w), endpoint=True).astype(dtype)


@given(small_images(), st.sampled_from(list(KERNELS)), st.sampled_from([None, "floor", "round", "float"]),
       st.sampled_from([None, 1, 2]))
def test_the_fast_path_gives_the_full_paths_bits(image, name, output, threads):
    K = KERNELS[name]
    first = fastconv.convolve(image, K, output=output, threads=threads)
    assert served(image, K, ("convolve", output), threads) or fastconv.explain(image, K, output=output).path == "fft"
    again = fastconv.convolve(image, K, output=output, threads=threads)
    expected = full_path(image, K, output=output, threads=threads)
    assert again.dtype == expected.dtype and again.shape == image.shape
    np.testing.assert_array_equal(bits(first), bits(expected))
    np.testing.assert_array_equal(bits(again), bits(expected))
    assert again is not first and not np.shares_memory(again, first)      # a new array every call


def test_every_check_and_message_survives_a_served_call():
    image = np.random.default_rng(1).integers(0, 256, (32, 32), dtype=np.uint8)
    K = fastconv.kernels.sharpen()
    spoiled = K.copy()
    spoiled[0, 0] = np.nan
    bad_calls = [
        dict(K=spoiled),
        dict(threads=0),
        dict(threads=1.5),
        dict(threads=True),
        dict(output="bogus"),
        dict(output=3),
        dict(border="bogus"),
        dict(border=np.array([1, 2])),
        dict(cval=np.nan, border="constant"),
        dict(nan_policy="skip"),
        dict(image=image.astype(object)),
        dict(image=image[None]),
        dict(K=np.zeros((0, 3))),
        dict(K=np.ones((3, 3, 3, 3))),
    ]

    def errors():
        found = []
        for bad in bad_calls:
            call = dict(image=image, K=K, threads=1)
            call.update(bad)
            try:
                fastconv.convolve(call.pop("image"), call.pop("K"), **call)
                found.append(None)
            except (TypeError, ValueError) as error:
                found.append((type(error), str(error)))
        return found

    _plan.clear()
    cold = errors()
    fastconv.convolve(image, K, threads=1)          # served from now on
    assert served(image, K, ("convolve", None), 1)
    assert errors() == cold
    assert cold[-6:] != [None] * 6 and all(e is not None for e in cold[:8]), cold


def test_a_forced_path_the_budget_and_the_variant_are_part_of_the_key():
    rng = np.random.default_rng(2)
    image = rng.standard_normal((40, 50)).astype(np.float32)
    K = fastconv.kernels.gaussian(7, 1.5)         # separable and direct sum in different orders
    first = fastconv.convolve(image, K, output="float")
    for path in ("direct", "separable", "fft"):
        with _plan.force(path):
            ours = fastconv.convolve(image, K, output="float")
            np.testing.assert_array_equal(bits(ours), bits(full_path(image, K, output="float")))
    np.testing.assert_array_equal(bits(fastconv.convolve(image, K, output="float")), bits(first))
    before = len(_plan.fast_calls)
    with fastconv.thread_limit(1):
        fastconv.convolve(image, K, output="float")
    assert len(_plan.fast_calls) == before + 1      # a call under another budget is its own entry
    for variant in _dispatch.available_variants():
        with _dispatch.use_variant(variant):
            ours = fastconv.convolve(image, K, output="float")
            assert served(image, K, ("convolve", "float"), None)
        np.testing.assert_array_equal(bits(ours), bits(first))      # every variant gives the same bits


def test_views_misaligned_and_read_only_images():
    rng = np.random.default_rng(3)
    K = KERNELS["random 5x5"]
    base = rng.integers(0, 65536, (30, 80)).astype(np.uint16)
    raw = np.frombuffer(b"\0" + base.tobytes(), dtype=np.uint8)[1:]
    misaligned = np.ndarray(base.shape, np.uint16, buffer=raw.data)     # an odd address
    assert not misaligned.flags.aligned
    strided = base[:, ::3]
    reversed_rows = base[::-1]
    frozen = base.copy()
    frozen.flags.writeable = False
    for view in (misaligned, strided, reversed_rows, frozen):
        expected = full_path(np.ascontiguousarray(view), K)
        for _ in range(2):
            before = view.copy()
            np.testing.assert_array_equal(fastconv.convolve(view, K), expected)
            np.testing.assert_array_equal(view, before)         # never modified


def test_the_table_of_served_calls_stays_bounded():
    K = fastconv.kernels.sharpen()
    for n in range(1, 3 * _plan.FAST_CALLS):
        fastconv.convolve(np.zeros((n, 3), np.uint8), K)
    assert 0 < len(_plan.fast_calls) <= _plan.FAST_CALLS


def test_served_calls_keep_the_promise_against_the_twin():
    rng = np.random.default_rng(4)
    for name, K in KERNELS.items():
        image = rng.integers(0, 256, (64, 64), dtype=np.uint8)
        for _ in range(2):
            ours = fastconv.convolve(image, K, output="float")
            exact = correlate_float64(image, K)
            assert np.abs(ours - exact).max() <= 2.0 ** -16 * np.abs(K).sum() * 255, name


def test_ctrl_c_interrupts_a_served_call():
    """SIGINT during a call served from a prepared job: KeyboardInterrupt long before the call would end, and the
    process filters correctly afterwards."""
    code = """
import time, numpy as np, fastconv
from fastconv import _api, _plan
image = np.random.default_rng(0).integers(0, 65536, (2040, 2040)).astype(np.uint16)
K = np.random.default_rng(1).integers(-50, 50, (32, 32)).astype(np.float64)
start = time.perf_counter()
fastconv.convolve(image, K, threads=1)
took = time.perf_counter() - start
assert type(_api.serve(image, K, ("convolve", None), 1)) is np.ndarray
print("ready", flush=True)
start = time.perf_counter()
try:
    for _ in range(100):
        fastconv.convolve(image, K, threads=1)
    print("finished", time.perf_counter() - start, flush=True)
except KeyboardInterrupt:
    print("interrupted", time.perf_counter() - start, took, flush=True)
    small = image[:40, :50].copy()
    ours = fastconv.convolve(small, K[:3, :3], output="float", threads=1)
    padded = np.pad(small.astype(float), 1, mode="edge")
    twin = sum(K[i, j] * padded[i:i + 40, j:j + 50] for i in range(3) for j in range(3))
    print("usable", bool(np.abs(ours - twin).max() < 1e-3 * np.abs(twin).max()), flush=True)
"""
    lines = interrupt(code, after=1.0)
    # the hundred calls take a minute or more; each about half a second here (the fast path serves images of at
    # most FAST_SIDES rows plus columns): interrupted a second in, well before the loop could end
    assert float(lines[0].split()[1]) < 5.0, lines
    assert lines[1] == "usable True", lines


@pytest.mark.parametrize("border_type", [0, 1, 2, 3, 4, 4 | 16])
@pytest.mark.parametrize("ddepth", [-1, 5, 6])
def test_filter2d_is_served_too_with_opencvs_results(border_type, ddepth):
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, (48, 37), dtype=np.uint8)
    K = KERNELS["random 5x5"]
    for delta in (0, -0.0, 2.5):
        results = [fastconv.filter2D(image, ddepth, K, delta=delta, borderType=border_type) for _ in range(2)]
        assert served(image, K, ("filter2D", ddepth, delta, np.copysign(1.0, delta), border_type), None)
        full = fastconv.filter2D(image, ddepth, K, anchor=(2, 2), delta=delta, borderType=border_type)
        for ours in results:
            np.testing.assert_array_equal(bits(ours), bits(full))
        if border_type != 3:        # cv2.filter2D refuses BORDER_WRAP
            theirs = cv2.filter2D(image, ddepth, K, delta=delta, borderType=border_type)
            assert np.abs(results[1].astype(float) - theirs).max() <= (1 if ddepth == -1 else 1e-3)
    with pytest.raises(ValueError, match="ddepth"):
        fastconv.filter2D(image, 7, K, borderType=border_type)
    with pytest.raises(TypeError):
        fastconv.filter2D(image.astype(np.int8), ddepth, K, borderType=border_type)


def test_filter2d_serves_no_call_its_checks_would_refuse():
    """Regressions: filter2D's key once left out `threads` (threads=0 served, and the first call's thread count
    used for all), let an anchor merely equal to (-1, -1) through, and raised the wrong error for a delta too
    large for a float before any check ran."""
    image = np.random.default_rng(6).integers(0, 256, (20, 30), dtype=np.uint8)
    K = KERNELS["random 5x5"]

    def outcome(*args, **kwargs):
        try:
            fastconv.filter2D(*args, **kwargs)
            return None
        except Exception as error:      # the exact type and message are compared
            return type(error), str(error)

    bad = [dict(threads=0), dict(threads=-3), dict(anchor=(-1.0, -1.0)), dict(anchor=(np.float64(-1), -1)),
           dict(anchor=(np.array([-1, -1]), -1)), dict(delta=10**400, ddepth=99)]
    _plan.clear()
    cold = [outcome(image, -1, K, **b) for b in bad]
    assert all(c is not None for c in cold), cold
    fastconv.filter2D(image, -1, K)
    fastconv.filter2D(image, -1, K, threads=1)
    assert [outcome(image, -1, K, **b) for b in bad] == cold
    assert outcome(image.astype(object), -1, K, delta=10**400) == (TypeError, outcome(image.astype(object), -1,
                                                                                      K)[1])
    assert served(image, K, ("filter2D", -1, 0, 1.0, 4), 1) and served(image, K, ("filter2D", -1, 0, 1.0, 4), None)


def test_a_prepared_job_refuses_strides_that_are_not_whole_elements():
    image = np.random.default_rng(7).standard_normal((40, 50)).astype(np.float32)
    K = KERNELS["random 5x5"]
    _plan.clear()
    fastconv.convolve(image, K)
    [(prepared, dtype)] = _plan.fast_calls.values()
    raw = np.zeros(40 * 203 + 8, np.uint8)
    odd = np.ndarray((40, 50), np.float32, buffer=raw.data, strides=(203, 4))
    with pytest.raises(ValueError, match="whole elements"):
        prepared.run(odd, np.empty((40, 50), dtype))

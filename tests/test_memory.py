"""No leaks: resident memory stays flat over 10,000 calls of each path, of filter2D and of error paths.

Slow. RSS is read from /proc/self/statm after a warm-up (plans cached, allocator settled); a leak of even a few
hundred bytes per call would show as megabytes.
"""
import os

import numpy as np
import pytest

import fastconv
from fastconv import _plan, kernels

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads /proc/self/statm (Linux)")]

CALLS = 10_000
ALLOWED_MB = 3.0
IMAGE = np.random.default_rng(4).integers(0, 256, (24, 32), dtype=np.uint8)
NAN_IMAGE = np.where(IMAGE > 200, np.nan, IMAGE).astype(np.float32)


def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def raises(call):
    def wrapped():
        try:
            call()
        except (ValueError, TypeError):
            return
        raise AssertionError("the call was expected to raise")
    return wrapped


def forced(path, K, **kwargs):
    def call():
        with _plan.force(path):
            fastconv.convolve(IMAGE, K, **kwargs)
    return call


CASES = {
    "direct": forced("direct", np.random.default_rng(5).standard_normal((5, 4)), output="round", threads=2),
    "integer": forced("integer", kernels.sharpen()),
    "separable": forced("separable", kernels.gaussian(7, 1.5), border="wrap", output="float"),
    "box": forced("box", kernels.small_blur(), border="constant", cval=3.0),
    "fft": forced("fft", np.random.default_rng(5).uniform(-1, 1, (15, 15)), output="float", threads=2),
    "stretch and channels": lambda: fastconv.convolve(np.dstack([IMAGE] * 3), kernels.sobel(1, 0), output="stretch"),
    "NaN image, out=": lambda: fastconv.convolve(NAN_IMAGE, kernels.box(3), output="float", out=OUT),
    "filter2D": lambda: fastconv.filter2D(IMAGE, fastconv.CV_16S, kernels.scharr(1, 0), delta=2),
    "kernels.get": lambda: kernels.get("gaussian:5:1.1"),
    "error: NaN kernel": raises(lambda: fastconv.convolve(IMAGE, [[np.nan]])),
    "error: bad dst": raises(lambda: fastconv.filter2D(IMAGE, -1, kernels.sharpen(), dst=np.empty((2, 2)))),
    "error: object image": raises(lambda: fastconv.convolve(IMAGE.astype(object), kernels.sharpen())),
    "error: forced path that does not apply": raises(forced("integer", np.full((3, 3), 0.5))),
}
OUT = np.empty(IMAGE.shape, np.float32)


@pytest.mark.parametrize("call", list(CASES.values()), ids=list(CASES))
def test_rss_is_flat_over_10000_calls(call):
    for _ in range(CALLS // 10):    # warm-up
        call()
    before = rss_mb()
    for _ in range(CALLS):
        call()
    grown = rss_mb() - before
    assert grown < ALLOWED_MB, f"RSS grew by {grown:.1f} MB over {CALLS} calls"

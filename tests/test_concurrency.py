"""Eight Python threads calling the public functions at once give exactly the serial results.

The core releases the GIL, so these calls really overlap; inputs are either separate per call or one shared
read-only array, and every call writes its own output.
"""
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import fastconv
from fastconv import kernels

RNG = np.random.default_rng(8)
SHARED = RNG.integers(0, 256, (120, 160), dtype=np.uint8)
SHARED.flags.writeable = False
SHARED_F32 = (RNG.standard_normal((90, 70)) * 100).astype(np.float32)
SHARED_F32.flags.writeable = False

RNG_KERNEL = RNG.standard_normal((7, 6))

# One call per path and public function: (name, call)
CALLS = [
    ("direct", lambda img: fastconv.convolve(img, RNG_KERNEL, output="round", threads=2)),
    ("integer", lambda img: fastconv.convolve(img, kernels.laplacian(), threads=1)),
    ("separable", lambda img: fastconv.convolve(img, kernels.gaussian(9, 2.0), border="wrap", output="float")),
    ("box", lambda img: fastconv.convolve(img, kernels.small_blur(), border="reflect")),
    ("stretch", lambda img: fastconv.convolve(img, kernels.sobel(1, 0), output="stretch", threads=2)),
    ("filter2D", lambda img: fastconv.filter2D(img, fastconv.CV_16S, kernels.scharr(0, 1), delta=3)),
    ("filter2D float", lambda img: fastconv.filter2D(img.astype(np.float32), -1, RNG_KERNEL,
                                                     borderType=fastconv.BORDER_CONSTANT)),
]


def run_all(images):
    """Every call on every image, in 8 threads at once; results in submission order."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(call, image) for image in images for _, call in CALLS]
        return [f.result() for f in futures]


@pytest.mark.parametrize("shared", [True, False], ids=["shared input", "separate inputs"])
def test_eight_threads_give_the_serial_results(shared):
    if shared:
        images = [SHARED] * 16
    else:
        images = [np.random.default_rng(i).integers(0, 256, (100 + i, 90 + 3 * i), dtype=np.uint8) for i in range(16)]
    before = [image.copy() for image in images]
    serial = [call(image) for image in images for _, call in CALLS]
    for _ in range(3):
        concurrent = run_all(images)
        for got, want in zip(concurrent, serial):
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got, want)
    for image, copy in zip(images, before):
        np.testing.assert_array_equal(image, copy)


def test_eight_threads_with_out_and_kernel_bank():
    outs = [np.empty(SHARED_F32.shape, np.float32) for _ in range(8)]
    bank = list(kernels.tutorial_bank().values())

    def work(i):
        K = bank[i % len(bank)]
        fastconv.convolve(SHARED_F32, K, output="float", out=outs[i], threads=1 + i % 2)
        return kernels.get(f"gaussian:{2 * i + 1}"), fastconv.config()["simd_variant"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(work, range(8)))
    for i, (gauss, variant) in enumerate(results):
        np.testing.assert_array_equal(outs[i], fastconv.convolve(SHARED_F32, bank[i % len(bank)], output="float"))
        np.testing.assert_array_equal(gauss, kernels.gaussian(2 * i + 1))
        assert variant == fastconv.config()["simd_variant"]

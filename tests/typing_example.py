"""Typed use of the public API: tests/test_typing.py checks this file with ``mypy --strict`` and runs it."""
from typing import Any

import numpy as np
from numpy.typing import NDArray

import fastconv
from fastconv import kernels


def sharpen_and_edges(gray: NDArray[np.uint8]) -> tuple[NDArray[Any], NDArray[Any]]:
    """The quick start's two first lines, with their types."""
    sharp = fastconv.convolve(gray, kernels.sharpen(), border="reflect101", output="round", threads=1)
    edges = fastconv.convolve(gray, kernels.sobel(1, 0), output="stretch", dtype=np.uint16, anchor=(1, 1))
    return sharp, edges


def like_opencv(gray: NDArray[np.uint8]) -> NDArray[Any]:
    """``filter2D`` with OpenCV's constants, writing into `dst`."""
    dst = np.empty(gray.shape, np.int16)
    return fastconv.filter2D(gray, fastconv.CV_16S, kernels.scharr(1, 0), dst, (-1, -1), 0.5,
                             fastconv.BORDER_WRAP | fastconv.BORDER_ISOLATED, threads=2)


def bank() -> dict[str, NDArray[np.float64]]:
    """Every kernel by name, and a few families."""
    named = {name: kernels.get(name) for name in kernels.names()[:7]}
    named["box"] = kernels.box(3, 5)
    named["gaussian"] = kernels.gaussian(7, 1.5)
    named["float64 sums"] = fastconv.convolve(np.ones((4, 4)), np.ones((2, 2)), output="float",
                                              accumulate="float64", flip=True, border="constant", cval=1)
    return named | kernels.tutorial_bank()


def describe() -> str:
    """The version and the configuration."""
    variants: list[str] = fastconv.config()["simd_variants_available"]
    return f"fastconv {fastconv.__version__}: {', '.join(variants)}"


if __name__ == "__main__":
    image = np.random.default_rng(0).integers(0, 256, (32, 48), dtype=np.uint8)
    sharp, edges = sharpen_and_edges(image)
    assert sharp.dtype == np.uint8 and edges.dtype == np.uint16
    assert like_opencv(image).dtype == np.int16
    assert len(bank()) == 10
    print(describe())

"""Hypothesis strategies for images and kernels; pixel data comes from a drawn seed (fast, still shrinkable)."""
import numpy as np
from hypothesis import strategies as st

# Image shapes: single pixels, single rows and columns, tall, wide and general.
shapes = st.one_of(
    st.just((1, 1)),
    st.tuples(st.just(1), st.integers(1, 64)),
    st.tuples(st.integers(1, 64), st.just(1)),
    st.tuples(st.integers(20, 90), st.integers(1, 6)),
    st.tuples(st.integers(1, 6), st.integers(20, 90)),
    st.tuples(st.integers(1, 40), st.integers(1, 40)),
)

# Kernel shapes: odd, even, rectangular, and sometimes larger than the image.
kernel_shapes = st.one_of(
    st.tuples(st.sampled_from([1, 3, 5, 7]), st.sampled_from([1, 3, 5, 7])),
    st.tuples(st.integers(1, 9), st.integers(1, 9)),
    st.tuples(st.integers(1, 25), st.integers(1, 25)),
)


@st.composite
def uint8_images(draw, shape=shapes):
    h, w = draw(shape)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    style = draw(st.sampled_from(["uniform", "dark", "bright", "binary"]))
    if style == "uniform":
        return rng.integers(0, 256, (h, w), dtype=np.uint8)
    if style == "dark":
        return rng.integers(0, 16, (h, w), dtype=np.uint8)
    if style == "bright":
        return rng.integers(240, 256, (h, w), dtype=np.uint8)
    return (rng.integers(0, 2, (h, w)) * 255).astype(np.uint8)


@st.composite
def float_images(draw, dtype=np.float32, shape=shapes):
    h, w = draw(shape)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = draw(st.sampled_from([1.0, 255.0, 1e4]))
    return (rng.standard_normal((h, w)) * scale).astype(dtype)


@st.composite
def integer_kernels(draw, shape=kernel_shapes):
    kh, kw = draw(shape)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    k = rng.integers(-5, 6, (kh, kw))
    k[rng.random((kh, kw)) < draw(st.sampled_from([0.0, 0.5]))] = 0   # sparse kernels skip zero taps
    return k


@st.composite
def float_kernels(draw, shape=kernel_shapes):
    kh, kw = draw(shape)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = draw(st.sampled_from(["normal", "positive", "normalized", "box"]))
    if kind == "normal":
        return rng.standard_normal((kh, kw)) * draw(st.sampled_from([0.1, 1.0, 10.0]))
    if kind == "positive":
        return rng.random((kh, kw))
    if kind == "normalized":
        k = rng.random((kh, kw))
        return k / k.sum()
    return np.full((kh, kw), 1.0 / (kh * kw))


any_kernels = st.one_of(integer_kernels(), float_kernels())


@st.composite
def images_of(draw, dtype, shape=shapes):
    """Images of any core dtype spanning its range (integers) or a wide range (floats)."""
    dtype = np.dtype(dtype)
    h, w = draw(shape)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        top = draw(st.sampled_from([int(info.max), 255, 15]))
        bottom = int(info.min) if draw(st.booleans()) else 0
        return rng.integers(bottom, top, (h, w), endpoint=True).astype(dtype)
    return (rng.standard_normal((h, w)) * draw(st.sampled_from([1.0, 300.0]))).astype(dtype)

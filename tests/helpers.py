"""Small helpers shared by the tests."""
import numpy as np

import fastconv


def path_of(K, image_dtype, shape=(1080, 1920), **options):
    """The path fastconv takes for kernel `K` on an image of `image_dtype` and `shape` (fastconv.explain)."""
    return fastconv.explain(np.zeros(shape, image_dtype), K, **options).path


def bits(a):
    """An array's bytes as unsigned integers: equal bits, so +0.0 and -0.0 (and NaN payloads) differ."""
    a = np.ascontiguousarray(a)
    return a.view({1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}[a.itemsize])

"""fastconv.dask: lazy results identical to the in-memory calls, over chunkings, borders, kernels, layouts, outputs
and dtypes, on the local schedulers and on a distributed cluster of worker processes."""
import doctest
import socket
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import float_kernels, integer_kernels

import fastconv
from fastconv import _dispatch, _plan
from fastconv._output import POLICY_RAW, POLICY_ROUND

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
fd = pytest.importorskip("fastconv.dask")

BORDERS = ["replicate", "reflect", "reflect101", "wrap", "constant"]
OUTPUT_DTYPES = {"floor": [None, "uint16", "int16"], "round": [None, "uint16", "int16"],
                 "float": [None, "float32", "float64"], "stretch": [None, "uint16"]}
CV_BORDERS = [fastconv.BORDER_CONSTANT, fastconv.BORDER_REPLICATE, fastconv.BORDER_REFLECT, fastconv.BORDER_WRAP,
              fastconv.BORDER_REFLECT_101, fastconv.BORDER_REFLECT_101 | fastconv.BORDER_ISOLATED]
CV_DEPTHS = {np.uint8: [-1, fastconv.CV_8U, fastconv.CV_16U, fastconv.CV_16S, fastconv.CV_32F, fastconv.CV_64F],
             np.uint16: [-1, fastconv.CV_16U, fastconv.CV_32F, fastconv.CV_64F],
             np.int16: [-1, fastconv.CV_16S, fastconv.CV_32F, fastconv.CV_64F],
             np.float32: [-1, fastconv.CV_32F], np.float64: [-1, fastconv.CV_64F]}


@pytest.fixture(autouse=True)
def synchronous():
    """The local tests run every block in the calling thread (and so on the variant under test)."""
    with dask.config.set(scheduler="synchronous"):
        yield


def equal(a, b):
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")


def agree(lazy, expected, image, kernel):
    """Identical, unless a call could take the FFT path (large kernels): its rounding noise depends on where its
    tiles fall, so blocks agree with the whole image to float rounding there (integer outputs: one level)."""
    if not equal(lazy, expected):
        K = np.asarray(kernel, np.float64)
        plans = [_plan.plan(K, image.dtype, "replicate", 0.0, dtype, policy)
                 for dtype, policy in ((lazy.dtype, POLICY_RAW), (np.dtype(np.float32), POLICY_RAW),
                                       (np.dtype(np.float64), POLICY_RAW), (np.dtype(np.uint8), POLICY_ROUND))]
        assert any("fft" in p.applicable for p in plans), "only the FFT path may differ"
        assert lazy.shape == expected.shape and lazy.dtype == expected.dtype
        assert np.array_equal(np.isnan(lazy), np.isnan(expected)) if lazy.dtype.kind == "f" else True
        difference = np.abs(lazy.astype(np.float64) - expected)[np.isfinite(expected)]
        if lazy.dtype.kind in "iu":
            assert difference.max() <= 1
        else:
            scale = np.abs(kernel).sum() * max(float(np.nanmax(np.abs(image[np.isfinite(image)]), initial=1)), 300)
            assert difference.max() <= 1e-4 * scale
    return True


@st.composite
def partitions(draw, n):
    """Chunk sizes along an axis of length `n`: single pixels, small, irregular, or one chunk."""
    style = draw(st.sampled_from(["one", "ones", "size", "irregular"]))
    if style == "one":
        return (n,)
    if style == "ones":
        return (1,) * n
    if style == "size":
        size = draw(st.integers(1, 9))
        return (size,) * (n // size) + ((n % size,) if n % size else ())
    sizes, total = [], 0
    while total < n:
        size = min(draw(st.integers(1, 9)), n - total)
        sizes.append(size)
        total += size
    return tuple(sizes)


@st.composite
def images(draw, dtypes):
    """(image, chunks, stack) in every layout: H x W, H x W x C and a stack N x H x W (x C)."""
    layout = draw(st.sampled_from(["2d", "hwc", "stack", "stack-hwc"]))
    h, w = draw(st.integers(1, 26)), draw(st.integers(1, 26))
    shape = {"2d": (h, w), "hwc": (h, w, draw(st.integers(1, 3))), "stack": (draw(st.integers(1, 3)), h, w),
             "stack-hwc": (draw(st.integers(1, 3)), h, w, 2)}[layout]
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        image = rng.integers(max(int(info.min), -1000), min(int(info.max), 1000), shape, endpoint=True).astype(dtype)
    else:
        image = (rng.standard_normal(shape) * 100).astype(dtype)
        if draw(st.booleans()):
            image[rng.random(shape) < 0.02] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    chunks = tuple(draw(partitions(n)) for n in shape)
    return image, chunks, layout.startswith("stack")


def in_memory(function, image, stack, *args, **kwargs):
    """The in-memory call: on the whole image, or frame by frame for a stack."""
    if stack:
        return np.stack([function(frame, *args, **kwargs) for frame in image])
    return function(image, *args, **kwargs)


IMAGE_DTYPES = [np.uint8, np.uint16, np.int16, np.float32, np.int8, np.float64]


@st.composite
def convolve_options(draw):
    kernel = draw(st.one_of(integer_kernels(), float_kernels()))
    kh, kw = kernel.shape
    output = draw(st.sampled_from(sorted(OUTPUT_DTYPES)))
    return kernel, {
        "border": draw(st.sampled_from(BORDERS)),
        "cval": draw(st.sampled_from([0.0, 7.5, -3.0, 300.0])),
        "output": output,
        "dtype": draw(st.sampled_from(OUTPUT_DTYPES[output])),
        "anchor": draw(st.one_of(st.none(), st.tuples(st.integers(0, kh - 1), st.integers(0, kw - 1)))),
        "flip": draw(st.booleans()),
        "accumulate": draw(st.sampled_from([None, "float32", "float64"])),
    }


def test_convolve_equals_the_in_memory_call(variant):
    @settings(max_examples=60)
    @given(images(IMAGE_DTYPES), convolve_options())
    def check(case, kernel_and_options):
        (image, chunks, stack), (kernel, options) = case, kernel_and_options
        expected = in_memory(fastconv.convolve, image, stack, kernel, **options)
        lazy = fd.convolve(da.from_array(image, chunks=chunks), kernel, stack=stack, **options)
        assert lazy.chunks == chunks
        assert agree(lazy.compute(), expected, image, kernel)

    check()


def test_filter2D_equals_the_in_memory_call(variant):
    dtypes = [np.uint8, np.uint16, np.int16, np.float32, np.float64]

    @settings(max_examples=40)
    @given(images(dtypes), st.one_of(integer_kernels(), float_kernels()), st.data())
    def check(case, kernel, data):
        image, chunks, stack = case
        depths = CV_DEPTHS[image.dtype.type]
        ddepth = data.draw(st.sampled_from(depths))
        kh, kw = kernel.shape
        anchor = data.draw(st.tuples(st.integers(-1, kw - 1), st.integers(-1, kh - 1)))
        delta = data.draw(st.sampled_from([0, 0.5, -20.0]))
        border = data.draw(st.sampled_from(CV_BORDERS))
        expected = in_memory(fastconv.filter2D, image, stack, ddepth, kernel, None, anchor, delta, border)
        lazy = fd.filter2D(da.from_array(image, chunks=chunks), ddepth, kernel, None, anchor, delta, border,
                           stack=stack)
        assert lazy.chunks == chunks
        assert agree(lazy.compute(), expected, image, kernel)

    check()


@pytest.mark.parametrize("border", BORDERS)
@pytest.mark.parametrize("chunks", [1, (5, 1), (7, 19)], ids=str)
@pytest.mark.parametrize("kshape", [(4, 6), (15, 2), (31, 31)], ids=str)
def test_chunks_smaller_than_the_kernel_reach(border, chunks, kshape):
    """One-pixel chunks and kernels reaching across many chunks (and past the whole image) at every border."""
    rng = np.random.default_rng(sum(kshape))
    image = rng.integers(0, 256, (23, 19), dtype=np.uint8)
    kernel = rng.standard_normal(kshape)
    anchor = (kshape[0] - 1, 0)
    expected = fastconv.convolve(image, kernel, border=border, cval=12.25, output="float", anchor=anchor)
    lazy = fd.convolve(da.from_array(image, chunks=chunks), kernel, border=border, cval=12.25, output="float",
                       anchor=anchor)
    assert agree(lazy.compute(), expected, image, kernel)


def test_against_scipy_ndimage_for_every_border():
    """An independent oracle as well: scipy.ndimage.correlate in float64, mode by mode."""
    ndimage = pytest.importorskip("scipy.ndimage")
    modes = {"replicate": "nearest", "reflect": "reflect", "reflect101": "mirror", "wrap": "wrap",
             "constant": "constant"}
    rng = np.random.default_rng(3)
    image = rng.standard_normal((40, 33))
    kernel = rng.standard_normal((5, 7))
    for border, mode in modes.items():
        lazy = fd.convolve(da.from_array(image, chunks=(6, 4)), kernel, border=border, cval=2.0, output="float")
        expected = ndimage.correlate(image, kernel, mode=mode, cval=2.0)
        np.testing.assert_allclose(lazy.compute(), expected, rtol=1e-12, atol=1e-12)


def test_stretch_uses_the_whole_image_range_and_each_frame_range():
    rng = np.random.default_rng(4)
    frames = rng.integers(0, 256, (3, 30, 20), dtype=np.uint8)
    frames[1] //= 8                                      # a dim frame: its own range differs from the others'
    kernel = fastconv.kernels.laplacian()
    lazy = fd.convolve(da.from_array(frames, chunks=(1, 7, 6)), kernel, output="stretch", stack=True).compute()
    for i in range(3):
        assert equal(lazy[i], fastconv.convolve(frames[i], kernel, output="stretch"))
        assert lazy[i].min() == 0 and lazy[i].max() == 255
    color = np.moveaxis(frames, 0, -1)
    lazy = fd.convolve(da.from_array(color, chunks=(7, 6, 1)), kernel, output="stretch").compute()
    assert equal(lazy, fastconv.convolve(color, kernel, output="stretch"))


@pytest.mark.parametrize("fill", [np.nan, 5.0], ids=["all-nan", "flat"])
def test_stretch_of_an_image_without_range(fill):
    image = np.full((12, 10), fill, dtype=np.float32)
    lazy = fd.convolve(da.from_array(image, chunks=4), np.ones((3, 3)), output="stretch")
    expected = fastconv.convolve(image, np.ones((3, 3)), output="stretch")
    assert equal(lazy.compute(), expected) and not expected.any()


def test_threaded_scheduler_and_threads_per_block():
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, (300, 260, 3), dtype=np.uint8)
    kernel = rng.standard_normal((7, 7))
    expected = fastconv.convolve(image, kernel, border="reflect101")
    for threads in (None, 2):
        lazy = fd.convolve(da.from_array(image, chunks=(64, 50, 3)), kernel, border="reflect101", threads=threads)
        assert equal(lazy.compute(scheduler="threads"), expected)


def test_lazy_until_computed():
    def fail(block):
        raise RuntimeError("computed")

    image = da.zeros((40, 40), dtype=np.uint8, chunks=10).map_blocks(fail, dtype=np.uint8)
    lazy = fd.convolve(image, fastconv.kernels.sharpen(), output="stretch")
    assert isinstance(lazy, da.Array) and lazy.dtype == np.uint8 and lazy.shape == (40, 40)
    with pytest.raises(RuntimeError, match="computed"):
        lazy.compute()


def test_numpy_input_is_accepted_and_never_modified():
    image = np.arange(120, dtype=np.uint8).reshape(10, 12)
    image.flags.writeable = False
    before = image.copy()
    lazy = fd.convolve(image, fastconv.kernels.sharpen(), border="wrap")
    assert equal(lazy.compute(), fastconv.convolve(before, fastconv.kernels.sharpen(), border="wrap"))
    assert equal(image, before)


def test_empty_image():
    lazy = fd.convolve(da.zeros((0, 5), dtype=np.uint8), np.ones((3, 3)), output="stretch")
    assert lazy.shape == (0, 5) and lazy.dtype == np.uint8 and lazy.compute().shape == (0, 5)


def _unknown_chunks():
    x = da.arange(40, chunks=10)
    return x[x > 3][:, None]


ERRORS = [
    (lambda: fd.convolve(da.zeros((4, 4)), np.ones((3, 3)), out=np.zeros((4, 4), np.uint8)), TypeError,
     "out must be None for a dask array"),
    (lambda: fd.filter2D(da.zeros((4, 4), dtype=np.uint8), -1, np.ones((3, 3)), np.zeros((4, 4), np.uint8)), TypeError,
     "dst must be None for a dask array"),
    (lambda: fd.convolve(da.zeros((4, 4)), np.ones((3, 3)), border="mirror"), ValueError, "border must be one of"),
    (lambda: fd.convolve(da.zeros((4, 4)), np.ones((3, 3)), output="float", dtype="uint8"), ValueError,
     "dtype for output='float'"),
    (lambda: fd.convolve(da.zeros((4, 4)), [[np.nan]]), ValueError, "K must be finite"),
    (lambda: fd.convolve(da.zeros((4, 4), dtype=bool), np.ones((3, 3))), TypeError, "real numeric dtype"),
    (lambda: fd.convolve(da.zeros((2, 4, 4, 1)), np.ones((3, 3))), ValueError, r"2-D \(H, W\) or 3-D"),
    (lambda: fd.convolve(da.zeros((4, 4)), np.ones((3, 3)), stack=True), ValueError, r"3-D \(N, H, W\)"),
    (lambda: fd.convolve(da.zeros((4, 4)), np.ones((3, 3)), threads=0), ValueError, "threads must be"),
    (lambda: fd.convolve(_unknown_chunks(), np.ones((3, 3))), ValueError, "known chunk sizes"),
    (lambda: fd.filter2D(da.zeros((4, 4), dtype=np.int8), -1, np.ones((3, 3))), TypeError, "src must be uint8"),
    (lambda: fd.filter2D(da.zeros((4, 4), dtype=np.float32), fastconv.CV_8U, np.ones((3, 3))), ValueError,
     "ddepth must be one of"),
    (lambda: fd.filter2D(da.zeros((4, 4), dtype=np.uint8), -1, np.ones((3, 3)), anchor=(3, 0)), ValueError,
     "anchor must lie inside the kernel"),
]


@pytest.mark.parametrize("call, error, message", ERRORS, ids=[m for _, _, m in ERRORS])
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_import_without_dask_names_the_extra():
    """`import fastconv` needs numpy only; `import fastconv.dask` without dask says how to install it."""
    code = ("import sys\n"
            "class Block:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name == 'dask' or name.startswith('dask.'):\n"
            "            raise ImportError('no dask here')\n"
            "sys.meta_path.insert(0, Block())\n"
            "import fastconv\n"
            "fastconv.convolve([[1, 2], [3, 4]], [[1]])\n"
            "try:\n"
            "    import fastconv.dask\n"
            "except ImportError as e:\n"
            "    print(e)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert 'pip install "fastconv[dask]"' in result.stdout


def test_distributed_cluster_of_worker_processes():
    """Worker processes on loopback filter an image spanning many chunks; the result is the in-memory one."""
    distributed = pytest.importorskip("distributed")
    rng = np.random.default_rng(7)
    image = rng.integers(0, 256, (1500, 1300), dtype=np.uint8)
    kernel = rng.standard_normal((9, 6))
    frames = rng.standard_normal((4, 200, 150)).astype(np.float32)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, silence_logs=50) as cluster, \
            distributed.Client(cluster) as client:
        x = da.from_array(image, chunks=(128, 100))
        lazy = fd.convolve(x, kernel, border="wrap", output="round", anchor=(1, 5))
        result = client.compute(lazy).result()
        stack = fd.filter2D(da.from_array(frames, chunks=(1, 64, 64)), -1, kernel, None, (-1, -1), 1.5,
                            fastconv.BORDER_REFLECT_101, stack=True)
        stack_result = client.compute(stack).result()
        addresses = [cluster.scheduler_address, *client.scheduler_info()["workers"]]
    assert x.numblocks == (12, 13) and len(addresses) == 3
    for address in addresses:                       # scheduler and workers gone: nothing listens any more
        host, port = address.removeprefix("tcp://").rsplit(":", 1)
        with pytest.raises(OSError):
            socket.create_connection((host, int(port)), timeout=2).close()
    assert equal(result, fastconv.convolve(image, kernel, border="wrap", output="round", anchor=(1, 5)))
    expected = np.stack([fastconv.filter2D(f, -1, kernel, None, (-1, -1), 1.5) for f in frames])
    assert equal(stack_result, expected)


def test_docstring_examples():
    result = doctest.testmod(fd, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
    for function in (fd.convolve, fd.filter2D):
        for section in ("Parameters", "Returns", "Raises", "Examples"):
            assert f"{section}\n    ---" in function.__doc__, (function.__name__, section)


def test_variant_fixture_reaches_the_blocks(variant):
    """The local tests run blocks in this thread: the variant under test is the one filtering them."""
    seen = []
    image = da.zeros((8, 8), dtype=np.uint8, chunks=4).map_blocks(
        lambda b: seen.append(_dispatch.core().__name__) or b, dtype=np.uint8)
    fd.convolve(image, np.ones((3, 3))).compute()
    assert seen and all(variant in name for name in seen)


@pytest.mark.parametrize("border", ["replicate", "wrap", "constant", "reflect101"])
@pytest.mark.parametrize("output", [None, "round", "float", "stretch"])
def test_omit_and_masks_equal_the_in_memory_call(border, output):
    """nan_policy='omit' (normalized convolution) across chunks: the same pixels as in memory, with NaN in a
    float image, a mask on an integer colour image, and preserve_nan."""
    rng = np.random.default_rng(11)
    K = fastconv.kernels.gaussian(7, 1.5)
    floats = rng.standard_normal((90, 130))
    floats[rng.random(floats.shape) < 0.1] = np.nan
    floats[30:40, 60:75] = np.nan
    colour = rng.integers(0, 256, (90, 130, 3), dtype=np.uint8)
    mask = rng.random((90, 130)) < 0.1
    for image, kwargs in ((floats, {"preserve_nan": True}), (floats, {}), (colour, {"mask": mask}),
                          (colour, {"mask": np.repeat(mask[..., None], 3, axis=2)})):
        expected = fastconv.convolve(image, K, border=border, cval=9.0, output=output, nan_policy="omit", **kwargs)
        chunks = (25, 33) if image.ndim == 2 else (25, 33, 3)
        lazy = fd.convolve(da.from_array(image, chunks=chunks), K, border=border, cval=9.0, output=output,
                           nan_policy="omit", **kwargs)
        assert equal(lazy.compute(), expected)


def test_a_mask_of_frames_and_its_errors():
    rng = np.random.default_rng(12)
    frames = rng.integers(0, 256, (4, 40, 50), dtype=np.uint16)
    mask = rng.random((40, 50)) < 0.2
    lazy = fd.convolve(da.from_array(frames, chunks=(2, 20, 25)), np.ones((3, 3)), nan_policy="omit", mask=mask,
                       stack=True)
    for i in range(4):
        assert equal(lazy[i].compute(), fastconv.convolve(frames[i], np.ones((3, 3)), nan_policy="omit", mask=mask))
    with pytest.raises(ValueError, match="mask and preserve_nan need nan_policy='omit'"):
        fd.convolve(da.from_array(frames[0]), np.ones((3, 3)), mask=mask)
    with pytest.raises(ValueError, match="mask must have the image's shape"):
        fd.convolve(da.from_array(frames[0]), np.ones((3, 3)), nan_policy="omit", mask=mask[:10])


def test_banks_and_stacks_equal_the_in_memory_call():
    rng = np.random.default_rng(3)
    frames = rng.integers(0, 256, (5, 70, 90), dtype=np.uint8)
    bank = np.stack([fastconv.kernels.sharpen(), fastconv.kernels.gaussian(3, 0.8), rng.uniform(-1, 1, (3, 3))])
    lazy = fastconv.dask.convolve(da.from_array(frames, chunks=(2, 32, 40)), bank, stack=True, border="wrap")
    assert lazy.shape == (5, 70, 90, 3) and lazy.chunks[:3] == ((2, 2, 1), (32, 32, 6), (40, 40, 10))
    np.testing.assert_array_equal(lazy.compute(), fastconv.convolve(frames, bank, stack=True, border="wrap"))
    image = rng.standard_normal((60, 50)).astype(np.float32)
    image[10:13, 20:24] = np.nan
    lazy = fastconv.dask.convolve(da.from_array(image, chunks=16), list(bank[1:]), nan_policy="omit")
    np.testing.assert_array_equal(lazy.compute(), fastconv.convolve(image, list(bank[1:]), nan_policy="omit"))
    with pytest.raises(ValueError, match="K: the kernels of a bank must have one shape"):
        fastconv.dask.convolve(da.from_array(image), [np.ones((3, 3)), np.ones((5, 5))])


def test_one_frame_mask_of_a_cube_and_the_stack_flag():
    """A stack whose frame count equals its height and width: a 2-D mask is one frame's, for every frame."""
    image = np.random.default_rng(5).random((8, 8, 8)).astype(np.float32)
    mask = np.zeros((8, 8), bool)
    mask[2, 5] = True
    lazy = fd.convolve(da.from_array(image, chunks=4), np.ones((3, 3)), stack=True, nan_policy="omit", mask=mask)
    expected = fastconv.convolve(image, np.ones((3, 3)), stack=True, nan_policy="omit",
                                 mask=np.broadcast_to(mask, image.shape))
    np.testing.assert_array_equal(lazy.compute(), expected)
    colour = np.random.default_rng(6).random((4, 4, 4, 4)).astype(np.float32)
    frames_mask = np.zeros((4, 4, 4), bool)
    frames_mask[1, 2, 3] = True        # (N, H, W): the in-memory call's reading, without the channel axis
    lazy = fd.convolve(da.from_array(colour, chunks=2), np.ones((3, 3)), stack=True, nan_policy="omit",
                       mask=frames_mask)
    np.testing.assert_array_equal(lazy.compute(), fastconv.convolve(colour, np.ones((3, 3)), stack=True,
                                                                    nan_policy="omit", mask=frames_mask))
    for bad in ("no", 1, np.array([0])):
        with pytest.raises(TypeError, match="stack must be True or False"):
            fd.convolve(da.from_array(image), np.ones((3, 3)), stack=bad)
        with pytest.raises(TypeError, match="stack must be True or False"):
            fd.filter2D(da.from_array(image), -1, np.ones((3, 3)), stack=bad)

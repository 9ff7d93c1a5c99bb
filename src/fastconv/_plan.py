"""Which loop runs: the one place that decides a call's path, accumulator, threads and pieces.

- ``direct``: every non-zero tap, register-blocked (any kernel).
- ``integer``: the direct path in exact int16 arithmetic, for uint8 images and integer-valued kernels whose sums
  cannot leave int16 (the tutorial's sharpen, Laplacian, Sobel, emboss): twice the lanes of float32, exact.
- ``separable``: kernels within rounding of an outer product ``outer(v, h)`` (Gaussians, also built in float32),
  a horizontal then a vertical 1-D pass: kh + kw taps per pixel instead of kh * kw.
- ``lowrank``: kernels within the bound of a sum of two or three outer products (a Laplacian of Gaussian, a
  difference of Gaussians, a Gabor kernel): one horizontal pass per term, one vertical pass over all of them, on
  integer images (a float image's NaN and inf would spread through the terms' taps, not the kernel's).
- ``box``: kernels whose taps are all equal, on integer images: exact integer sums, O(1) per pixel.
- ``fft``: large dense kernels, by overlap-save on small square tiles; never integer-valued kernels on integer
  images (the other paths sum those exactly). Tiles whose samples the transform cannot be trusted with (not
  finite, too large, or too wide a range of magnitudes for the bound) are computed by the direct path.

A path and its accumulator are taken only where the path's rigorous error bound is within the documented one
(fastconv._bounds); among those, the cheapest by a cost model measured on this project's machine. A `Plan` holds
the decision for one kernel and kind of call (cached by bytes: `PLAN_CACHE_BYTES`); `Plan.resolve` adds what
depends on the image's size (the FFT path's waste on small images, and the threads and pieces that
fastconv._schedule cuts the call into), and `Plan.run` runs it.

``force(path)`` (private, for tests and benchmarks) makes every call take `path` where it applies and raise
``ValueError`` where it does not.
"""
import math
from contextlib import contextmanager
from typing import NamedTuple

import numpy as np

from fastconv import _dispatch, _runtime, _schedule
from fastconv._bounds import EPSILON, UNIT, chunked_bound, fft_bound, low_rank_bound, separable_bound
from fastconv._cache import ByteCache
from fastconv._output import POLICY_RAW, POLICY_ROUND
from fastconv._schedule import ceil_div
from fastconv._taps import direct_taps, fft_spectrum, low_rank, mean_reciprocal, rank1, row_taps, separable_taps

PATHS = ("direct", "separable", "lowrank", "box", "integer", "fft")
_INT_IMAGES = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.int16))
_F32_MAX = float(np.finfo(np.float32).max)
_F32_TINY = float(np.finfo(np.float32).smallest_normal)
_forced = None

#: uint8 images take the box path rows first (window sums of each row in uint16, then sliding column sums);
#: other images, kernels wider than 257 and border values outside 0..255 take the column sums first, in int32.
#: Both are exact: tests switch this off to compare them.
BOX_ROWS_FIRST = True

#: Side lengths the FFT path's square tiles may have, and the bytes one thread's tile (two planes) may take.
FFT_SIZES = (16, 32, 64, 128, 256)
FFT_TILE_BYTES = 128 * 1024

#: The FFT path declines taps and constant borders beyond this magnitude.
_FFT_REACH = 1e18

#: Largest sum magnitude the integer path allows, leaving room for an integer delta of up to 255.
_INT16_ROOM = 32767 - 255

#: Cost model behind the choice between the direct and FFT paths, keyed by accumulator size: nanoseconds per
#: multiply-add of the direct path, and per output pixel of the FFT path (per unit of `_fft_cost_per_pixel`,
#: plus a fixed part for loading, checking and storing). Measured with bench/bench.py; the ratios matter.
DIRECT_NS_PER_TAP = {4: 0.019, 8: 0.037}
FFT_NS_PER_UNIT = {4: 0.065, 8: 0.12}
FFT_NS_PER_PIXEL = {4: 0.8, 8: 0.85}

#: The low-rank path's cost per term beyond its taps, in taps: its ring row's store and reload.
LOW_RANK_TAPS_PER_TERM = 3

#: Bytes of plans kept for reuse (their taps, factors and spectra), least recently used dropped first.
PLAN_CACHE_BYTES = 32 * 2**20


@contextmanager
def force(path):
    """Take `path` for every call inside the block (not thread-safe; for tests and benchmarks)."""
    global _forced
    if path not in PATHS:
        raise ValueError(f"path must be one of {PATHS}; got {path!r}")
    previous, _forced = _forced, path
    try:
        yield
    finally:
        _forced = previous


class Border(NamedTuple):
    """The border as the core reads it: padded row/column -> source row/column (-1: `cval`)."""
    rows: np.ndarray
    cols: np.ndarray
    ax: int
    cval: float


class Output(NamedTuple):
    """How sums become output pixels: policy (fastconv._output), delta added, integer limits."""
    policy: int
    delta: float
    lo: float
    hi: float


class Run(NamedTuple):
    """What one call runs: the path, its accumulator, the core function and the records it reads."""
    path: str
    accumulator: np.dtype
    function: str
    records: tuple
    schedule: _schedule.Schedule


class Plan:
    """How one kernel is computed for one kind of call: the path, its accumulator and its prepared records.

    A kind of call is the image dtype, the border (and constant), the output dtype, policy and delta, and the
    `accumulate` option: whatever decides which loop may run and with which error bound.
    """

    def __init__(self, kernel, image_dtype, border, cval, out_dtype, policy, delta, accumulate, forced):
        self.kernel = kernel
        self.image_dtype = image_dtype
        self.border = border
        self.cval = cval
        self.out_dtype = out_dtype
        self.policy = policy
        self.delta = delta
        self.integer_image = image_dtype.kind in "iu"
        self.integer_output = policy != POLICY_RAW
        self.nonzero = int(np.count_nonzero(kernel))
        with np.errstate(over="ignore"):      # vast taps: an infinite sum, so float64 and no FFT
            self.l1 = float(np.abs(kernel).sum())
        self.peak = _peak(image_dtype, cval)
        self.image_peak = _peak(image_dtype, 0.0)     # without the border value: what the FFT's tiles mostly hold
        self.int_kernel = bool(np.array_equal(kernel, np.round(kernel)))
        self.accumulate = accumulate
        self.reasons = {}           # path -> why it was not taken (for explain)
        self._runs = {}
        with np.errstate(over="ignore", invalid="ignore", under="ignore", divide="ignore"):
            self._decide(forced)

    # -- deciding -------------------------------------------------------------------------------------------

    def _decide(self, forced):
        options = {}
        for path in PATHS:
            option = getattr(self, f"_{path}")()
            if isinstance(option, str):
                self.reasons[path] = option
            else:
                options[path] = option
        if forced is not None:
            if forced not in options:
                raise ValueError(f"the {forced!r} path does not apply to this kernel and call: "
                                 f"{self.reasons[forced]}")
            chosen = forced
        else:
            chosen = min(options, key=lambda p: options[p]["cost"])
            for path, option in options.items():
                if path != chosen:
                    self.reasons[path] = f"costlier ({option['cost']:.3g} ns per pixel against " \
                                         f"{options[chosen]['cost']:.3g})"
        self.applicable = frozenset(options)
        self.path = chosen
        self.option = options[chosen]
        self.accumulator = self.option["acc"]
        self.bound = self.option["bound"]
        self.fallback = options["direct"]       # the FFT path's choice on small images
        self.nbytes = self.kernel.nbytes + sum(_nbytes(r) for o in (self.option, self.fallback)
                                                for r in o["records"])

    def _float_fits(self, coefficient):
        """Whether a path whose error is `coefficient` * sum|K| * (the window's largest sample) keeps the
        documented bound of this call's output (for integer outputs of float images, that of the image's own
        float dtype; integer images' integer outputs are held to half a level instead)."""
        if self.integer_output:
            if self.integer_image:
                return True
            return coefficient <= EPSILON[max(4, self.image_dtype.itemsize)] * self.l1
        if self.integer_image and self.out_dtype.itemsize == 4 and coefficient * self.peak > _F32_MAX * 2.0**-25:
            return False        # an error that large could carry a sum within float32's range beyond it (inf)
        return coefficient <= EPSILON[self.out_dtype.itemsize] * self.l1

    def _integer_fits(self, error):
        """Whether an absolute worst-case error (integer images' samples) keeps integer outputs within a level."""
        return not (self.integer_output and self.integer_image) or error < 0.5

    def _accumulator(self, bound, approximate=False):
        """The cheapest accumulator (float32, else float64) that keeps the documented bound, given `bound(u)`:
        (error for integer outputs of integer images, coefficient for float outputs) in unit round-off u. None if
        neither does. `accumulate` overrides; but a path that computes another kernel or in another order than
        the direct path's (`approximate`: the separable and low-rank paths' factors) is taken with the given
        accumulator only where its whole bound in it keeps the promise."""
        if self.accumulate is not None:
            if not approximate:
                return self.accumulate
            absolute, coefficient = bound(UNIT[self.accumulate.itemsize])
            return self.accumulate if self._integer_fits(absolute) and self._float_fits(coefficient) else None
        if self.image_dtype == np.float64 or (not self.integer_output and self.out_dtype.itemsize == 8):
            candidates = (np.dtype(np.float64),)
        else:
            candidates = (np.dtype(np.float32), np.dtype(np.float64))
        for acc in candidates:
            if acc.itemsize == 4 and not self._float32_range():
                continue
            absolute, coefficient = bound(UNIT[acc.itemsize])
            if self._integer_fits(absolute) and self._float_fits(coefficient):
                return acc
        return None

    def _float32_range(self):
        """Whether taps, border value and integer images' sums stay within float32's normal range."""
        taps = np.abs(self.kernel)
        if taps.max() > _F32_MAX or taps[taps > 0].min(initial=np.inf) < _F32_TINY or abs(self.cval) > _F32_MAX:
            return False
        return not (self.integer_image and self.l1 * self.peak > _F32_MAX)

    def _direct_bound(self, u):
        taps = row_taps(self.kernel)
        absolute = chunked_bound(taps, -self.peak, self.peak, u) if self.integer_image else math.inf
        return absolute, chunked_bound(taps, -1.0, 1.0, u)

    def _direct(self):
        acc = self._accumulator(self._direct_bound) or np.dtype(np.float64)
        taps = direct_taps(self.kernel, acc)
        return {"acc": acc, "cost": self.nonzero * DIRECT_NS_PER_TAP[acc.itemsize], "records": (taps,),
                "bound": self._direct_bound(UNIT[acc.itemsize])}

    def _integer(self):
        if self.image_dtype != np.uint8 or not self.int_kernel:
            return "needs a uint8 image and an integer-valued kernel"
        if self.border == "constant" and not (self.cval.is_integer() and 0 <= self.cval <= 255):
            return "the constant border is not an integer within 0..255"
        if self.l1 * 255 > _INT16_ROOM:
            return "the kernel's sums could leave int16"
        if not (abs(self.delta) <= 255 and float(self.delta).is_integer()):
            return "delta is not an integer within -255..255"
        taps = direct_taps(self.kernel, np.int16, chunk=2**62)
        return {"acc": np.dtype(np.int16), "cost": max(1, self.nonzero) * DIRECT_NS_PER_TAP[4] / 2,
                "records": (taps,), "bound": (0.0, 0.0)}

    def _box(self):
        k = self.kernel
        value = float(k.flat[0])
        if self.image_dtype not in _INT_IMAGES or not (k == value).all() or value == 0:
            return "needs an integer image and equal non-zero taps"
        if k.size < 4 and _forced != "box":
            return "fewer than four taps"
        if self.border == "constant" and not self.cval.is_integer():
            return "the constant border is not an integer"
        if k.size * self.peak >= 2**31:
            return "the window sums could leave int32"
        n = k.size
        divide = value == 1.0 / n
        exact32 = n * self.peak < 2**24 and abs(value) <= _F32_MAX
        wide = (self.accumulate == np.float64 or not exact32
                or (not self.integer_output and self.out_dtype.itemsize == 8))
        scale = float(n) if divide else value
        unsigned = self.image_dtype.kind == "u" and self.cval >= 0
        if divide and not wide and self.delta == 0 and unsigned and self.integer_output:
            reciprocal = mean_reciprocal(n, self.peak, self.policy == POLICY_ROUND)
            if reciprocal is not None:      # a multiplication instead of a division: the same integer outputs
                scale, divide = reciprocal, False
        rows_first = (BOX_ROWS_FIRST and self.image_dtype == np.uint8 and k.shape[1] * 255 <= 65535
                      and 0 <= self.cval <= 255)
        acc = np.dtype(np.float64 if wide else np.float32)
        record = (k.shape[0], k.shape[1], scale, divide, wide, rows_first)
        u = UNIT[acc.itemsize]
        return {"acc": acc, "cost": 4 * DIRECT_NS_PER_TAP[4], "records": (record,), "bound": (0.0, 2 * u * self.l1)}

    def _separable(self):
        factors = rank1(self.kernel)
        if factors is None or factors[2] > 1e-3:
            return "not an outer product"
        v, h, residual = factors

        def bound(u):
            absolute = separable_bound(v, h, residual, -self.peak, self.peak, u) if self.integer_image else math.inf
            if self.int_kernel and residual != 0 and self.integer_output and self.integer_image:
                absolute = math.inf     # integer kernels stay exact: only exact integer factors
            return absolute, separable_bound(v, h, residual, -1.0, 1.0, u)

        acc = self._accumulator(bound, approximate=True)
        if acc is None:
            return f"its factors are {residual:.2g} from the kernel (relative): beyond the bound"
        cost = (np.count_nonzero(v) + np.count_nonzero(h) + 3) * DIRECT_NS_PER_TAP[acc.itemsize]
        horizontal, vertical = separable_taps([v], [h], acc)
        return {"acc": acc, "cost": cost, "records": (horizontal, vertical), "bound": bound(UNIT[acc.itemsize]),
                "factors": ([v], [h])}

    def _lowrank(self):
        if not self.integer_image or not math.isfinite(self.cval):
            return "needs an integer image and a finite border value (a float image's NaN and inf would spread " \
                   "through the terms' taps, not the kernel's)"
        exact = self.int_kernel and self.integer_output
        splits = low_rank(self.kernel, integer=True) if self.int_kernel else []
        if not splits and not exact:
            splits = low_rank(self.kernel, integer=False)
        if not splits:
            return "no exact split into 2 or 3 integer terms" if exact else "not a sum of 2 or 3 outer products"
        for vs, hs, residual in splits:
            def bound(u, vs=vs, hs=hs, residual=residual):
                return (low_rank_bound(vs, hs, residual, -self.peak, self.peak, u),
                        low_rank_bound(vs, hs, residual, -1.0, 1.0, u))

            acc = self._accumulator(bound, approximate=True)
            if acc is not None:
                break
        else:
            return f"the error bound of its {len(splits[-1][0])} terms (their departure from the kernel: " \
                   f"{splits[-1][2] / max(self.l1, 1e-300):.2g} of sum|K|; and their rounding) is beyond the bound"
        taps = sum(np.count_nonzero(h) for h in hs) + sum(np.count_nonzero(v) for v in vs)
        cost = (taps + LOW_RANK_TAPS_PER_TERM * len(vs)) * DIRECT_NS_PER_TAP[acc.itemsize]
        horizontal, vertical = separable_taps(vs, hs, acc)
        return {"acc": acc, "cost": cost, "records": (horizontal, vertical), "bound": bound(UNIT[acc.itemsize]),
                "factors": (vs, hs)}

    def _fft(self):
        kh, kw = self.kernel.shape
        if self.integer_image and self.int_kernel:
            return "integer-valued kernels on integer images are exact on the other paths"
        if max(kh, kw) > FFT_SIZES[-1] // 2:
            return f"kernels beyond {FFT_SIZES[-1] // 2} taps a side"
        if max(np.abs(self.kernel).max(), abs(self.cval) if np.isfinite(self.cval) else 0) > _FFT_REACH:
            return "taps or border value beyond its reach"
        if self.accumulate is not None:
            candidates = (self.accumulate,)
        elif self.image_dtype.kind == "f" or not self.integer_output:
            candidates = (np.dtype(np.float64),)        # float32 transforms are too coarse for either bound
        else:
            candidates = (np.dtype(np.float32), np.dtype(np.float64))
        found = None
        for acc in candidates:
            u = UNIT[acc.itemsize]
            direct_abs, direct_coef = self._direct_bound(u)
            for n in fft_tiles((kh, kw), acc.itemsize):         # cheapest first
                per_peak = fft_bound(self.kernel, n, 1.0, u)
                if self.integer_output:      # (tiles holding a larger border value are checked and summed directly)
                    fits = not self.integer_image or (per_peak * self.image_peak < 0.5 and direct_abs < 0.5)
                else:
                    fits = self._float_fits(max(per_peak, direct_coef)) or self.accumulate is not None
                if fits:
                    found = acc, n, per_peak
                    break
            if found:
                break
        if found is None:
            return "its float64 error bound is beyond the documented one"
        acc, n, per_peak = found
        check = self._fft_check(n, acc, per_peak)
        spectrum = fft_spectrum(self.kernel, n, acc)
        taps = direct_taps(self.kernel, acc)
        cost = _fft_ns_per_pixel(n, kh, kw, acc.itemsize)
        bound = (per_peak * self.image_peak if self.integer_image else math.inf, per_peak)
        return {"acc": acc, "cost": cost, "records": (spectrum + (check,), taps), "bound": bound, "tile": n}

    def _fft_check(self, n, acc, per_peak):
        """The FFT path's per-tile check (see _core_fft.pxi): (check, relative, limit, coef_big, coef_small,
        floor)."""
        limit = float(np.finfo(acc).max) / (16.0 * n * n * max(1.0, self.l1))
        relative = not self.integer_output
        epsilon = EPSILON[self.out_dtype.itemsize] if relative else 0.0
        floor = epsilon * self.l1 if self.integer_image else 0.0
        if self.integer_output and per_peak > 0:
            limit = min(limit, 0.5 / per_peak * (1 - 2**-20))
        safe = (self.integer_image and np.isfinite(self.cval) and self.peak <= limit
                and (self.integer_output or per_peak * self.peak <= floor))
        return (not safe, relative, limit, per_peak, epsilon * self.l1, floor)

    # -- running --------------------------------------------------------------------------------------------

    def resolve(self, shape, threads, planes=1):
        """The Run for `planes` planes of `shape` (H, W) with at most `threads` threads (-1: the budget); the last
        few are kept (calls on images of one size resolve alike)."""
        key = (shape, threads, planes, _runtime.budget() if threads != 1 else 1, _schedule.settings(), _forced)
        run = self._runs.get(key)
        if run is None:
            if len(self._runs) >= 16:
                self._runs.clear()
            run = self._runs[key] = self._resolve(shape, threads, planes)
        return run

    def _resolve(self, shape, threads, planes):
        path, option = self.path, self.option
        if path == "fft" and _forced != "fft" and self._fft_wastes(shape):
            path, option = "direct", self.fallback
        records = option["records"]
        paired = path in ("separable", "lowrank") or (path in ("direct", "integer") and records[0].paired)
        schedule = _schedule.schedule(path, shape, self.kernel.shape, option["acc"],
                                      shape[0] * shape[1] * self._taps_per_pixel(path, option), threads,
                                      paired=paired, rows_first=path == "box" and records[0][5], planes=planes,
                                      terms=len(records[0]) if path in ("separable", "lowrank") else 1)
        function = {"direct": "prepare_correlate", "integer": "prepare_correlate",
                    "separable": "prepare_separable", "lowrank": "prepare_separable", "box": "prepare_box",
                    "fft": "correlate_fft"}[path]
        return Run(path, option["acc"], function, records, schedule)

    def run(self, src, out, border, output, threads):
        """Filter `src` into `out` (same shape, any strides): (H, W), or planes (P, H, W) or (P0, P1, H, W).
        Returns the core's job, prepared for arrays of this shape and kind (None on the FFT path)."""
        run = self.resolve(src.shape[-2:], threads, math.prod(src.shape[:-2]))
        if run.path == "fft":
            _dispatch.core().correlate_fft(src, out, *run.records, border, output, run.schedule)
            return None
        prepared = getattr(_dispatch.core(), run.function)(src, out, *run.records, border, output, run.schedule)
        prepared.run(src, out)
        return prepared

    def _taps_per_pixel(self, path, option):
        """Multiply-adds per output pixel on `path`, roughly (the integer path's int16 lanes count half)."""
        if path == "box":
            return 4
        if path == "fft":
            return 64
        if path in ("separable", "lowrank"):
            vs, hs = option["factors"]
            return int(sum(np.count_nonzero(v) + np.count_nonzero(h) for v, h in zip(vs, hs)))
        return max(1, self.nonzero // 2) if path == "integer" else max(1, self.nonzero)

    def _fft_wastes(self, shape):
        """True when an image is so small against the FFT path's tiles that the direct path is cheaper."""
        n, (kh, kw) = self.option["tile"], self.kernel.shape
        itemsize = self.accumulator.itemsize
        tiles = ceil_div(shape[0], n - kh + 1) * ceil_div(shape[1], 2 * (n - kw + 1)) * 2
        fft = tiles * _fft_ns_per_pixel(n, kh, kw, itemsize) * (n - kh + 1) * (n - kw + 1)
        return fft >= shape[0] * shape[1] * self.fallback["cost"]

    def noise(self, magnitude):
        """The largest error of this plan's raw sums for samples up to `magnitude`: what `stretch` treats as
        flat."""
        absolute, coefficient = self.bound
        if self.path == "fft" and not self.integer_output:
            coefficient = EPSILON[self.out_dtype.itemsize] * self.l1
        return coefficient * max(magnitude, 1.0 if self.integer_image else 0.0)


def _nbytes(record):
    if isinstance(record, np.ndarray):
        return record.nbytes
    if isinstance(record, tuple):
        return sum(_nbytes(r) for r in record)
    return 0


def _peak(image_dtype, cval):
    """Largest magnitude a sample can have (image values or a finite constant border) where rounding bounds are
    concerned: a NaN or inf border value follows the NaN rule instead (and never enters the FFT path's
    transforms, which check each tile)."""
    if image_dtype.kind not in "iu":
        return math.inf
    info = np.iinfo(image_dtype)
    top = max(abs(int(info.min)), int(info.max))
    return max(top, abs(cval)) if math.isfinite(cval) else top


def fft_tiles(shape, itemsize):
    """Tile sides of the FFT path for a kernel of `shape`, cheapest per output pixel first: those within
    FFT_TILE_BYTES, or for kernels too large for that budget the smallest tile twice their size."""
    kh, kw = shape
    sides = [n for n in FFT_SIZES if n > max(kh, kw) and 2 * n * n * itemsize <= FFT_TILE_BYTES]
    if not sides:
        sides = [min(n for n in FFT_SIZES if n >= 2 * max(kh, kw))]
    return sorted(sides, key=lambda n: _fft_cost_per_pixel(n, kh, kw))


def _fft_cost_per_pixel(n, kh, kw):
    """Points x radix-2 stages of a forward and an inverse 2-D transform per output pixel, for one real tile."""
    return 2 * (n * n / 2) * 2 * np.log2(n) / ((n - kh + 1) * (n - kw + 1))


def _fft_ns_per_pixel(n, kh, kw, itemsize):
    return _fft_cost_per_pixel(n, kh, kw) * FFT_NS_PER_UNIT[itemsize] + FFT_NS_PER_PIXEL[itemsize]


_plans = ByteCache(PLAN_CACHE_BYTES)

#: Prepared jobs of calls whose every argument the full path has checked (fastconv._api's fast path): a key of
#: those arguments -> (the core's Prepared job, the output dtype). At most FAST_CALLS entries, then emptied; each
#: holds its taps and border maps (for images of at most 4096 rows plus columns: the core's `serve`).
fast_calls = {}
FAST_CALLS = 64


def remember(key, prepared, out_dtype):
    """Keep `prepared` for calls with `key` (fastconv._api.serve)."""
    if len(fast_calls) >= FAST_CALLS:
        fast_calls.clear()
    fast_calls[key] = (prepared, out_dtype)


def clear():
    """Forget every plan and prepared call (after changing what a plan decides, e.g. BOX_ROWS_FIRST)."""
    _plans.clear()
    fast_calls.clear()


def plan(kernel, image_dtype, border, cval, out_dtype, policy, delta=0.0, accumulate=None):
    """The (cached) Plan for a float64 kernel and a kind of call."""
    key = (kernel.tobytes(), kernel.shape, np.dtype(image_dtype), border, float(cval), np.dtype(out_dtype), policy,
           float(delta), accumulate, _forced)
    found = _plans.get(key)
    if found is None:
        found = Plan(kernel, np.dtype(image_dtype), border, float(cval), np.dtype(out_dtype), policy, float(delta),
                     accumulate, _forced)
        _plans.put(key, found, found.nbytes + len(key[0]))
    return found

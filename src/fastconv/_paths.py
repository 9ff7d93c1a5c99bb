"""Path choice: which compiled routine computes a correlation, and the kernel data it needs.

- ``direct``: every non-zero tap, register-blocked (any kernel).
- ``separable``: rank-1 kernels ``K = outer(v, h)``, a horizontal then a vertical 1-D pass: kh + kw taps per
  pixel instead of kh * kw. Taken only when the factors reproduce K to float64 rounding (exactly, for
  integer-valued kernels), so results differ from the direct path by float32 summation order alone.
- ``box``: kernels whose taps are all equal, on integer images: exact integer running sums, O(1) per pixel
  whatever the size.
- ``integer``: the direct path in exact int16 arithmetic, for uint8 images and integer-valued kernels whose
  sums cannot leave int16 (the tutorial's sharpen, Laplacian, Sobel, emboss): twice the lanes of float32, no
  conversions, no rounding at all.
- ``fft``: large dense kernels, by overlap-save on small square tiles (``FFT_TILE_BYTES`` per thread): a cost
  that grows with log(tile) instead of with the taps. Not for integer-valued kernels on integer images (an FFT
  cannot give their exact sums) nor for non-finite taps or border values; a float image with a non-finite (or
  vast) sample falls back to the direct path, since one such sample would spoil a whole tile. Its float32
  accumulator is used only where a rigorous error bound of the transform allows (see `fft_bound`), else float64.
  Rounding noise depends on where the tiles fall: results agree with the direct path within float rounding, but
  unlike the other paths a pixel's last bits can depend on the image's size.

``force(path)`` (private, for tests and benchmarks) makes every call take `path` where it applies and raise
``ValueError`` where it does not.
"""
import functools
from contextlib import contextmanager

import numpy as np

from fastconv import _dispatch
from fastconv._output import POLICY_FLOOR, POLICY_ROUND, accumulator_dtype, chunked_sum_bound, partial_sum_bound

PATHS = ("direct", "separable", "box", "integer", "fft")
_F64_EPS = np.finfo(np.float64).eps
_U32 = 2.0 ** -24
_INT_IMAGES = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.int16))
_forced = None


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


def rank1_factors(kernel):
    """(v, h) with ``outer(v, h) == kernel`` (to float64 rounding; exactly and both integer for integer kernels),
    or None."""
    peak = np.unravel_index(np.argmax(np.abs(kernel)), kernel.shape)
    pivot = kernel[peak]
    if pivot == 0:
        return None
    v, h = kernel[:, peak[1]] / pivot, kernel[peak[0], :].copy()
    if np.array_equal(kernel, np.round(kernel)) and abs(pivot) < 2**53:
        # integer kernels: integer factors (the row over its gcd), so integer images give exact sums
        gcd = np.gcd.reduce(kernel[peak[0], :].astype(np.int64))
        v, h = np.round(kernel[:, peak[1]] * (gcd / pivot)), kernel[peak[0], :] / gcd
        return (v, h) if np.array_equal(np.outer(v, h), kernel) else None
    residual = np.abs(np.outer(v, h) - kernel).max()
    return (v, h) if residual <= 4 * _F64_EPS * abs(pivot) else None


def _peak(image_dtype, cval):
    """Largest magnitude a sample can have (image values or the constant border)."""
    if image_dtype.kind not in "iu":
        return np.inf
    info = np.iinfo(image_dtype)
    return max(abs(int(info.min)), int(info.max), abs(cval))


def _box_fits(kernel, image_dtype, border, cval):
    if image_dtype not in _INT_IMAGES or not (kernel == kernel.flat[0]).all() or kernel.flat[0] == 0:
        return False
    if border == "constant" and cval != np.round(cval):
        return False
    return kernel.size * _peak(image_dtype, cval if border == "constant" else 0) < 2**31


#: Largest sum magnitude the integer path allows, leaving room for an integer delta of up to 255.
_INT16_ROOM = 32767 - 255


def _integer_fits(kernel, image_dtype, border, cval):
    if image_dtype != np.uint8 or not np.array_equal(kernel, np.round(kernel)):
        return False
    if border == "constant" and not (cval == np.round(cval) and 0 <= cval <= 255):
        return False
    return np.abs(kernel).sum() * 255 <= _INT16_ROOM


def _fft_fits(kernel, image_dtype, cval):
    integer_sums = image_dtype.kind in "iu" and np.array_equal(kernel, np.round(kernel))
    reach = max(np.abs(kernel).max(), abs(cval))
    return not integer_sums and max(kernel.shape) <= FFT_SIZES[-1] // 2 and reach <= _FFT_REACH


def _choose(kernel, image_dtype, border, cval, forced):
    """(path, rank-1 factors or None): the forced path, or the cheapest that applies. The FFT path is weighed
    against the direct path later (Plan), where the accumulators are known."""
    factors = rank1_factors(kernel) if min(kernel.shape) > 1 else None
    candidates = {"direct": True, "separable": factors is not None,
                  "box": _box_fits(kernel, image_dtype, border, cval),
                  "integer": _integer_fits(kernel, image_dtype, border, cval),
                  "fft": _fft_fits(kernel, image_dtype, cval)}
    if forced is not None:
        if not candidates[forced]:
            raise ValueError(f"the {forced!r} path does not apply to this kernel and image")
        return forced, factors
    if candidates["box"] and kernel.size >= 4:
        return "box", factors
    if candidates["integer"]:
        return "integer", factors
    if candidates["separable"]:
        direct_cost = np.count_nonzero(kernel)
        separable_cost = np.count_nonzero(factors[0]) + np.count_nonzero(factors[1]) + 3   # + a second pass
        if separable_cost < direct_cost:
            return "separable", factors
    return "direct", factors


#: The direct path sums each output row's taps in chunks of this many, then the chunk totals: float32 rounding
#: then grows with the chunk, not with the kernel (see partial_sum_bound).
CHUNK = 64

#: The direct path sums two output rows per pass from this many non-zero taps on (fewer loads per tap); smaller
#: kernels go one row at a time, where a second row's bookkeeping costs more than the loads it saves.
PAIR_FROM_TAPS = 16


def direct_groups(kernel, paired=None):
    """The direct path's taps: ``(paired, groups)``.

    Paired, two output rows y and y + 1 read padded rows y .. y + kh: entry (d, j) of padded row y + d, column
    offset j, carries c0 = K[d, j] for row y and c1 = K[d - 1, j] for row y + 1. Three groups in row-major
    (d, j) order: both coefficients non-zero, c0 only, c1 only. Row y sums "both" (c0) then "c0 only"; row y + 1
    sums "both" (c1) then "c1 only". Unpaired, every non-zero tap is in "c0 only", in row-major order. Zero
    coefficients never multiply a pixel, so NaN and inf spread through the non-zero taps alone. `paired` defaults
    to the direct path's choice (from PAIR_FROM_TAPS non-zero taps on); the separable path's vertical pass passes
    its own.
    """
    kh, kw = kernel.shape
    if paired is None:
        paired = np.count_nonzero(kernel) >= PAIR_FROM_TAPS
    paired = bool(paired) and kh > 1
    if not paired:
        d, j = np.nonzero(kernel)
        empty = np.zeros(0, np.int64)
        return False, {"both": (empty, empty, empty, empty), "c0": (d, j, kernel[d, j]), "c1": (empty, empty, empty)}
    zeros = np.zeros((1, kw))
    c0, c1 = np.vstack([kernel, zeros]), np.vstack([zeros, kernel])
    d, j = np.mgrid[0:kh + 1, 0:kw]
    both, only0, only1 = (c0 != 0) & (c1 != 0), (c0 != 0) & (c1 == 0), (c0 == 0) & (c1 != 0)
    return True, {
        "both": (d[both], j[both], c0[both], c1[both]),
        "c0": (d[only0], j[only0], c0[only0]),
        "c1": (d[only1], j[only1], c1[only1]),
    }


def _row_sum_bound(groups, lo, hi):
    """Worst-case float32 error of either output row's sum over `groups` (direct_groups' order, chunked)."""
    row0 = (groups["both"][2], groups["c0"][2])
    row1 = (groups["both"][3], groups["c1"][2])
    return max(chunked_sum_bound(row0, CHUNK, lo, hi), chunked_sum_bound(row1, CHUNK, lo, hi))


#: The separable path's vertical pass sums two output rows per pass from this many non-zero taps of v on.
SEPARABLE_PAIR_FROM_TAPS = 2


#: Bytes of the separable path's ring of filtered rows: strips of columns narrow enough keep it in the
#: first-level data cache (32 KiB and up on current x86-64), with room for the padded row and the output.
SEPARABLE_RING_BYTES = 16 * 1024

#: Bytes of the direct and integer paths' ring of padded rows, per thread: wider images go in strips of columns,
#: so the extra memory stays bounded (and within the second-level cache) whatever the image width.
DIRECT_RING_BYTES = 128 * 1024


#: Multiply-adds (output pixels x taps) a thread should get before a call is split across threads: about a
#: hundred microseconds of work. Below it, waking a second thread costs more than it saves, and on a busy machine the
#: call would wait for that thread to be scheduled. Results do not depend on the thread count.
WORK_PER_THREAD = 2**20


def _strip(width, ring_rows, itemsize, halo, budget):
    """Output columns per strip of an image `width` wide when a ring of `ring_rows` rows of strip + `halo`
    columns should get about `budget` bytes: the image split into equal strips, each a multiple of 256 columns
    (whole register blocks: a partial block is slow), or the whole width."""
    widest = max(256, budget // (ring_rows * itemsize) - halo)
    nstrips = _ceil_div(width, widest)
    return min(width, _ceil_div(_ceil_div(width, nstrips), 256) * 256)


def _ceil_div(a, b):
    return -(-a // b)


def separable_strip(width, kh, acc):
    """Output columns per strip of the separable path (its ring holds kh + 1 filtered rows)."""
    return _strip(width, kh + 1, np.dtype(acc).itemsize, 0, SEPARABLE_RING_BYTES)


def direct_strip(width, kh, kw, acc):
    """Output columns per strip of the direct and integer paths (a ring of kh + 1 padded rows)."""
    return _strip(width, kh + 1, np.dtype(acc).itemsize, kw - 1, DIRECT_RING_BYTES)


#: Side lengths the FFT path's square tiles may have, and the bytes one thread's tile (two planes) may take: a
#: tile stays in the second-level cache and the extra memory stays small whatever the image size.
FFT_SIZES = (16, 32, 64, 128, 256)
FFT_TILE_BYTES = 128 * 1024

#: The FFT path declines taps and constant borders beyond this magnitude (the transform's sums would overflow
#: float32 long before the direct path's).
_FFT_REACH = 1e18

#: Cost model behind the choice between the direct and FFT paths, measured on the machine the bench ran on
#: (bench/results.md; the ratios are what matter), keyed by accumulator size: nanoseconds per multiply-add of the
#: direct path, and per output pixel of the FFT path: per unit of `_fft_cost_per_pixel` plus a fixed part
#: (loading and storing).
DIRECT_NS_PER_TAP = {4: 0.019, 8: 0.037}
FFT_NS_PER_UNIT = {4: 0.065, 8: 0.12}
FFT_NS_PER_PIXEL = {4: 0.7, 8: 0.75}


def fft_tile(shape, itemsize, accept=None):
    """Tile side of the FFT path for a kernel of `shape`: the cheapest per output pixel within FFT_TILE_BYTES
    (and, given `accept`, among the sides it accepts when there are any)."""
    kh, kw = shape
    sides = [n for n in FFT_SIZES if n > max(kh, kw) and 2 * n * n * itemsize <= FFT_TILE_BYTES]
    if not sides:       # kernels too large for the budget: the smallest tile twice their size
        sides = [min(n for n in FFT_SIZES if n >= 2 * max(kh, kw))]
    if accept is not None and any(accept(n) for n in sides):
        sides = [n for n in sides if accept(n)]
    return min(sides, key=lambda n: _fft_cost_per_pixel(n, kh, kw))


def _fft_cost_per_pixel(n, kh, kw):
    """Points x radix-2 stages of a forward and an inverse 2-D transform per output pixel, for one real tile."""
    return 2 * (n * n / 2) * 2 * np.log2(n) / ((n - kh + 1) * (n - kw + 1))


def _fft_ns_per_pixel(n, kh, kw, itemsize):
    return _fft_cost_per_pixel(n, kh, kw) * FFT_NS_PER_UNIT[itemsize] + FFT_NS_PER_PIXEL[itemsize]


def fft_bound(kernel, n, peak):
    """Worst-case float32 error of one output of the FFT path on n x n tiles, samples within +-`peak`.

    Higham (Accuracy and Stability of Numerical Algorithms, 2nd ed., thm. 24.2): t radix-2 stages with twiddles
    accurate to mu give ||fl(FFT x) - FFT x||_2 <= ((1 + eta)**t - 1) ||FFT x||_2, eta = mu + gamma_4 (sqrt(2) +
    mu). A 2-D transform is t = 2 log2(n) stages; ||FFT x||_2 = n ||x||_2 with ||x||_2 <= sqrt(2) n peak for the
    two real tiles packed as one complex tile; the pointwise product with the kernel's spectrum (stored rounded)
    multiplies by at most g = max |spectrum| and adds a few roundings; the inverse repeats the forward's error.
    One output's error is at most the error vector's 2-norm; the largest sum's rounding covers adding a delta.
    """
    u = _U32
    g = float(np.abs(np.fft.fft2(kernel, (n, n))).max())
    gamma4 = 4 * u / (1 - 4 * u)
    mu = 2 * u
    eta = mu + gamma4 * (np.sqrt(2) + mu)
    e1 = (1 + eta) ** (2 * np.log2(n)) - 1
    x = np.sqrt(2) * n * peak
    product = 4 * u + 2 * u * (1 + e1)
    total = g * x * (e1 + product + e1 * (1 + e1) * (1 + product))
    return 1.01 * total + 2 * u * np.abs(kernel).sum() * peak


def fft_spectrum(kernel, n, acc):
    """(spec_re, spec_im, tw_re, tw_im) for the core's FFT path: the spectrum of the kernel as a correlation
    (conj-flipped), scaled by 1 / n**2, bit-reversed on both axes and transposed (the order the forward transform
    leaves a tile in), and the twiddles exp(-2 pi i k / n), k < n / 2."""
    kh, kw = kernel.shape
    g = np.zeros((n, n))
    g[np.ix_(-np.arange(kh) % n, -np.arange(kw) % n)] = kernel
    spectrum = np.fft.fft2(g) / (n * n)
    bits = int(np.log2(n))
    rev = np.array([int(format(i, f"0{bits}b")[::-1], 2) for i in range(n)])
    spectrum = spectrum[np.ix_(rev, rev)].T
    twiddles = np.exp(-2j * np.pi * np.arange(n // 2) / n)
    return tuple(np.ascontiguousarray(a, dtype=acc) for a in (spectrum.real, spectrum.imag, twiddles.real,
                                                               twiddles.imag))


#: uint8 images take the box path rows first: window sums of each row in uint16 (twice int32's lanes), then
#: sliding column sums; other images (and kernels wider than 257, or border values outside 0..255) take the
#: column sums first, in int32. Both are exact: tests switch this off to compare them.
BOX_ROWS_FIRST = True

#: Bytes of the rows-first box path's ring of kh rows of window sums, per thread: wider images go in strips.
BOX_RING_BYTES = 128 * 1024


@functools.lru_cache(maxsize=64)
def mean_reciprocal(n, peak, policy):
    """A float32 r such that rounding (`policy` POLICY_ROUND) or flooring (POLICY_FLOOR) fl(S * r) gives the same
    integer as S / n exactly, for every integer window sum S in [0, n * peak]; None where none is known to.

    fl(S * r) is within a few float32 roundings of S / n (relative error at most 6u, u = 2**-24). A mean S / n
    that is not an integer lies at least 1 / n from the next integer and 1 / (2n) from a half-integer, unless it
    is a half-integer itself, which odd n (and powers of two, whose reciprocal is exact) rule out. So where
    6u * peak < 1 / (2n): rounding needs r = fl(1 / n) and no tie; flooring needs r >= (1 / n)(1 + 2u), so that
    an exact integer mean is never computed just below itself."""
    u = _U32
    if policy not in (POLICY_FLOOR, POLICY_ROUND) or 12 * u * peak * n >= 1:
        return None
    exact = 1.0 / n
    r = np.float32(exact)
    if policy == POLICY_ROUND:
        return np.array([r], np.float32) if n % 2 or (n & (n - 1)) == 0 else None
    while float(r) < exact * (1 + 2 * u):
        r = np.nextafter(r, np.float32(np.inf))
    return np.array([r], np.float32)


def _vertical_groups(v):
    """direct_groups of the separable path's vertical pass: the kh x 1 kernel v."""
    return direct_groups(v.reshape(-1, 1), paired=np.count_nonzero(v) >= SEPARABLE_PAIR_FROM_TAPS)


class Plan:
    """How one kernel is computed on images of one dtype and border: the path and its prepared taps.

    Plans are cached (`plan`), so repeated calls with the same kernel skip the analysis.
    """

    def __init__(self, kernel, image_dtype, border, cval, forced):
        self.kernel = kernel
        with np.errstate(over="ignore", invalid="ignore"):   # huge taps: sums become inf, no path fits but direct
            self.path, self.factors = _choose(kernel, image_dtype, border, cval, forced)
        self.image_dtype = image_dtype
        self.peak = _peak(image_dtype, cval)
        self._nonzero = int(np.count_nonzero(kernel))
        self._separable_taps = 0 if self.factors is None else sum(int(np.count_nonzero(f)) for f in self.factors)
        self._args = {}
        self._bounds = {}
        self._accumulators = {}
        self.fft_sides = None   # FFT tile side per accumulator itemsize, for kernels the FFT path may take
        self._fft_limits = {}
        with np.errstate(over="ignore"):
            self._l1 = float(np.abs(kernel).sum())      # inf for vast taps: then no FFT sample is small enough
        if self.path == "fft" or (self.path == "direct" and forced is None and _fft_fits(kernel, image_dtype, cval)):
            self._prefer_fft(forced == "fft")

    def _prefer_fft(self, forced):
        """Take the FFT path (if `forced`, or if cheaper than the direct path by the cost model), and pick its
        float32 tile: one whose rigorous error bound keeps integer outputs of integer images within half a level
        where possible."""
        kh, kw = self.kernel.shape
        peak = self.peak
        accept = None
        if self.image_dtype.kind in "iu":
            direct = _row_sum_bound(direct_groups(self.kernel)[1], -peak, peak)
            accept = lambda n: max(fft_bound(self.kernel, n, peak), direct) < 0.5    # noqa: E731
        self.fft_sides = {4: fft_tile((kh, kw), 4, accept), 8: fft_tile((kh, kw), 8)}
        if forced:
            self.path = "fft"
            return
        itemsizes = {}
        for path in ("fft", "direct"):      # the accumulators each path would take for integer outputs
            self.path = path
            itemsizes[path] = self.accumulator(True, 0.0).itemsize
            self._bounds.clear()
            self._accumulators.clear()
        fft_acc, direct_acc = itemsizes["fft"], itemsizes["direct"]
        fft_cost = _fft_ns_per_pixel(self.fft_sides[fft_acc], kh, kw, fft_acc)
        if fft_cost < self._nonzero * DIRECT_NS_PER_TAP[direct_acc]:
            self.path = "fft"

    def accumulator(self, integer_output, cval):
        """The accumulator dtype (fastconv._output.accumulator_dtype) for this kernel and image dtype, cached."""
        key = (integer_output, cval)
        if key not in self._accumulators:
            self._accumulators[key] = accumulator_dtype(self.image_dtype, integer_output, self.error_bound,
                                                        self.kernel, cval)
        return self._accumulators[key]

    def error_bound(self, lo, hi):
        """Worst-case float32 error of this path's sums for pixels in [lo, hi]."""
        key = (lo, hi)
        if key not in self._bounds:
            with np.errstate(over="ignore"):    # huge taps: an infinite bound, so float64 sums
                self._bounds[key] = self._error_bound(lo, hi)
        return self._bounds[key]

    def _error_bound(self, lo, hi):
        if self.path in ("box", "integer"):
            return 0.0          # exact integer sums
        if self.path == "separable":
            v, h = self.factors
            h = h[h != 0]
            top = np.abs(h).sum() * max(abs(lo), abs(hi))
            return np.abs(v).sum() * partial_sum_bound(h, lo, hi) + _row_sum_bound(_vertical_groups(v)[1], -top, top)
        direct = _row_sum_bound(direct_groups(self.kernel)[1], lo, hi)
        if self.path == "fft":  # the FFT's bound, and the direct path's, which a float image may fall back to
            return max(fft_bound(self.kernel, self.fft_sides[4], max(abs(lo), abs(hi))), direct)
        return direct

    def _kernel_args(self, path, acc):
        key = (path, acc)
        if key in self._args:
            return self._args[key]
        kh, kw = self.kernel.shape
        i64 = np.int64
        if path == "integer":
            acc = np.int16
        if path == "fft":
            args = fft_spectrum(self.kernel, self.fft_sides[np.dtype(acc).itemsize], acc)
        elif path == "box":
            n, value = self.kernel.size, float(self.kernel.flat[0])
            divide = value == 1.0 / n
            # float32 arithmetic when every window sum is exact in float32 (then an exact mean stays exact) and the
            # tap value fits float32
            exact32 = n * self.peak < 2**24 and abs(value) <= float(np.finfo(np.float32).max)
            scale = np.array([n if divide else value], dtype=np.float32 if exact32 else np.float64)
            args = (kh, kw, scale, divide)
        elif path == "separable":
            v, h = self.factors
            hi_ = np.flatnonzero(h).astype(i64)
            paired, g = _vertical_groups(v)
            args = (kh, kw, hi_, np.ascontiguousarray(h[hi_], dtype=acc),
                    *(np.ascontiguousarray(a, dtype=t) for a, t in zip(g["both"][::2] + g["both"][3:],
                                                                          (i64, acc, acc))),
                    *(np.ascontiguousarray(a, dtype=t) for a, t in zip(g["c0"][::2], (i64, acc))),
                    *(np.ascontiguousarray(a, dtype=t) for a, t in zip(g["c1"][::2], (i64, acc))),
                    paired, CHUNK)
        else:
            paired, g = direct_groups(self.kernel)
            args = (kh, kw,
                    *(np.ascontiguousarray(a, dtype=t) for a, t in zip(g["both"], (i64, i64, acc, acc))),
                    *(np.ascontiguousarray(a, dtype=t) for a, t in zip(g["c0"], (i64, i64, acc))),
                    *(np.ascontiguousarray(a, dtype=t) for a, t in zip(g["c1"], (i64, i64, acc))),
                    paired, CHUNK if path == "direct" else 2**62)   # int16 sums are exact: no chunks
        self._args[key] = args
        return args

    def _taps_per_pixel(self, path):
        """Multiply-adds per output pixel on `path`, roughly (the integer path's int16 lanes count half)."""
        if path == "box":
            return 4
        if path == "fft":
            return 64
        if path == "separable":
            return self._separable_taps
        return max(1, self._nonzero // 2) if path == "integer" else max(1, self._nonzero)

    def _fft_limit(self, acc):
        """Largest sample magnitude the FFT path takes in accumulator `acc`: far from overflow in its sums."""
        itemsize = np.dtype(acc).itemsize
        if itemsize not in self._fft_limits:
            n = self.fft_sides[itemsize]
            self._fft_limits[itemsize] = float(np.finfo(acc).max) / (16.0 * n * n * max(1.0, self._l1))
        return self._fft_limits[itemsize]

    def _fft_wastes(self, shape, acc):
        """True when an image is so small against the FFT path's tiles that the direct path is cheaper."""
        itemsize = np.dtype(acc).itemsize
        n, (kh, kw) = self.fft_sides[itemsize], self.kernel.shape
        tiles = _ceil_div(shape[0], n - kh + 1) * _ceil_div(shape[1], 2 * (n - kw + 1)) * 2
        fft = tiles * _fft_ns_per_pixel(n, kh, kw, itemsize) * (n - kh + 1) * (n - kw + 1)
        return fft >= shape[0] * shape[1] * self._nonzero * DIRECT_NS_PER_TAP[itemsize]

    def threads(self, path, pixels, nthreads):
        """Threads for `pixels` output pixels on `path`: at most `nthreads`, one per WORK_PER_THREAD of work."""
        return min(nthreads, max(1, pixels * self._taps_per_pixel(path) // WORK_PER_THREAD))

    def run(self, plane, rows, cols, ax, cval, out, policy, delta, lo, hi, acc, nthreads):
        """Correlate one C-contiguous plane into the C-contiguous 2-D `out`."""
        core = _dispatch.core()
        path = self.path
        if path == "integer" and not (abs(delta) <= 255 and float(delta).is_integer()):
            path = "direct"     # a fractional, large or non-finite delta leaves int16: the float direct path takes it
        args = self._kernel_args(path, acc)
        kh, kw = self.kernel.shape
        width = plane.shape[1]
        nthreads = self.threads(path, plane.size, nthreads)
        if path == "integer":
            core.correlate_small_int(plane, *args, rows, cols, ax, int(cval), out, policy, delta, lo, hi, nthreads,
                                     direct_strip(width, kh, kw, np.int16))
        elif path == "box":
            _, _, scale, divide = args
            if divide and delta == 0 and lo >= 0 and cval >= 0 and self.image_dtype.kind == "u":
                reciprocal = mean_reciprocal(self.kernel.size, self.peak, policy)
                if reciprocal is not None:      # a multiplication instead of a division: same integer outputs
                    scale, divide = reciprocal, False
            if BOX_ROWS_FIRST and plane.dtype == np.uint8 and kw * 255 <= 65535 and 0 <= cval <= 255:
                core.box_filter_u8(plane, kh, kw, rows, cols, ax, int(cval), scale, divide, out, policy, delta, lo,
                                   hi, nthreads, _strip(width, kh, 2, 0, BOX_RING_BYTES))
            else:
                core.box_filter(plane, kh, kw, rows, cols, ax, int(cval), scale, divide, out, policy, delta, lo, hi,
                                nthreads)
        elif path == "fft":
            limit = self._fft_limit(acc)
            vast = abs(cval) > limit or (self.image_dtype.kind in "iu" and self.peak > limit)
            if not vast and (_forced == "fft" or not self._fft_wastes(plane.shape, acc)):
                if core.correlate_fft(plane, kh, kw, *args, rows, cols, ax, cval, out, policy, delta, lo, hi,
                                      limit, nthreads):
                    return
            path = "direct"     # a small image, or a non-finite or vast sample (it would spoil a whole tile)
            core.correlate(plane, *self._kernel_args(path, acc), rows, cols, ax, cval, out, policy, delta, lo, hi,
                           self.threads(path, plane.size, nthreads), direct_strip(width, kh, kw, acc))
        elif path == "separable":
            core.correlate_separable(plane, *args, rows, cols, ax, cval, out, policy, delta, lo, hi, nthreads,
                                     separable_strip(width, kh, acc))
        else:
            core.correlate(plane, *args, rows, cols, ax, cval, out, policy, delta, lo, hi, nthreads,
                           direct_strip(width, kh, kw, acc))


@functools.lru_cache(maxsize=256)
def _cached_plan(kernel_bytes, shape, image_dtype, border, cval, forced):
    kernel = np.frombuffer(kernel_bytes, dtype=np.float64).reshape(shape)
    return Plan(kernel, image_dtype, border, cval, forced)


def plan(kernel, image_dtype, border, cval):
    """The (cached) Plan for a float64 kernel on images of `image_dtype` with this border."""
    return _cached_plan(kernel.tobytes(), kernel.shape, np.dtype(image_dtype), border, float(cval), _forced)


def choose(kernel, image_dtype, border, cval):
    """(path, factors) that `plan` takes for this kernel and image."""
    p = plan(kernel, image_dtype, border, cval)
    return p.path, p.factors

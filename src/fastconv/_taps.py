"""Kernel preparation: the records the core's paths read (taps, factors, spectra, box scales).

Every record is built once per plan (fastconv._plan) and read by the core as it is.
"""
import functools
from typing import NamedTuple

import numpy as np

from fastconv._bounds import CHUNK

# Segment kinds and flags of the direct path's taps (mirrored by _core_direct.pxi).
SEG_BOTH, SEG_ROW0, SEG_ROW1 = 0, 1, 2
INIT0, INIT1, FOLD0, FOLD1, FIRST0, FIRST1 = 1, 2, 4, 8, 16, 32

#: The direct path sums two output rows per pass from this many non-zero taps on (fewer loads per tap); smaller
#: kernels go one row at a time, where a second row's bookkeeping costs more than the loads it saves.
PAIR_FROM_TAPS = 16

#: The separable path's vertical pass sums two output rows per pass from this many non-zero taps of v on.
SEPARABLE_PAIR_FROM_TAPS = 2


class Taps(NamedTuple):
    """The direct path's taps (see _core_direct.pxi): entry t reads padded row y + offsets[t, 0], column
    x + offsets[t, 1], with coefficient coef[t, 0] for row y and coef[t, 1] for row y + 1."""
    kh: int
    kw: int
    offsets: np.ndarray     # (E, 2) int64
    coef: np.ndarray        # (E, 2), the accumulator's dtype
    segments: np.ndarray    # (S, 4) int64: start, stop, kind, flags
    paired: bool


def row_taps(kernel):
    """A row's taps in the order every path sums them: the non-zero taps, row-major."""
    return kernel[kernel != 0]


def direct_taps(kernel, acc, paired=None, chunk=CHUNK):
    """The direct path's taps of `kernel` in accumulator dtype `acc`, each row's sum in chunks of `chunk`.

    Paired, two output rows y and y + 1 read padded rows y .. y + kh: entry (d, j) carries K[d, j] for row y and
    K[d - 1, j] for row y + 1, so both rows meet their taps in row-major order. `paired` defaults to the direct
    path's choice (from PAIR_FROM_TAPS non-zero taps on).
    """
    kh, kw = kernel.shape
    if paired is None:
        paired = np.count_nonzero(kernel) >= PAIR_FROM_TAPS
    paired = bool(paired) and kh > 1
    if paired:
        zeros = np.zeros((1, kw))
        c0, c1 = np.vstack([kernel, zeros]), np.vstack([zeros, kernel])
    else:
        c0, c1 = kernel, np.zeros_like(kernel)
    has0, has1 = c0 != 0, c1 != 0
    d, j = np.nonzero(has0 | has1)
    c0, c1, has0, has1 = c0[d, j], c1[d, j], has0[d, j], has1[d, j]
    init0, fold0, first0 = _chunk_marks(has0, chunk)
    init1, fold1, first1 = _chunk_marks(has1, chunk)
    kind = np.where(has0 & has1, SEG_BOTH, np.where(has0, SEG_ROW0, SEG_ROW1))
    n = kind.size
    starts = np.ones(n, bool)
    if n:
        folded = fold0 | fold1
        starts[1:] = (kind[1:] != kind[:-1]) | init0[1:] | init1[1:] | folded[:-1]
    first = np.flatnonzero(starts)
    last = np.append(first[1:], n)[:first.size] - 1
    flags = (init0[first] * INIT0 | init1[first] * INIT1 | fold0[last] * FOLD0 | fold1[last] * FOLD1
             | first0[last] * FIRST0 | first1[last] * FIRST1)
    segments = np.stack([first, last + 1, kind[first], flags], axis=1).astype(np.int64).reshape(-1, 4)
    return Taps(kh, kw, np.ascontiguousarray(np.stack([d, j], axis=1), dtype=np.int64).reshape(-1, 2),
                np.ascontiguousarray(np.stack([c0, c1], axis=1), dtype=acc).reshape(-1, 2),
                np.ascontiguousarray(segments), paired)


def _chunk_marks(has, chunk):
    """For the entries of one row (`has`): where its chunks start, where they end (are folded into the row's
    total), and whether that fold is the first."""
    index = np.cumsum(has) - 1
    total = int(has.sum())
    init = has & (index % chunk == 0)
    fold = has & ((index % chunk == chunk - 1) | (index == total - 1))
    return init, fold, fold & (index < chunk)


def rank1(kernel):
    """(v, h, residual) with outer(v, h) close to `kernel`, or None: `residual` is the largest relative difference
    |v_i h_j - K_ij| / |K_ij| over the non-zero taps, and the zero taps are exactly the zeros of outer(v, h) (so
    NaN and inf spread through the same taps). Integer-valued kernels get integer factors when they are exactly
    rank 1 (residual 0); otherwise the factors come from the largest tap's row and column."""
    nonzero = kernel != 0
    if min(kernel.shape) < 2 or not nonzero.any():
        return None
    rows, cols = nonzero.any(axis=1), nonzero.any(axis=0)
    if not np.array_equal(nonzero, np.outer(rows, cols)):
        return None
    peak = np.unravel_index(np.argmax(np.abs(kernel)), kernel.shape)
    pivot = kernel[peak]
    if np.array_equal(kernel, np.round(kernel)) and np.abs(kernel).max() < 2**31:
        gcd = np.gcd.reduce(kernel[peak[0], :].astype(np.int64))
        v, h = np.round(kernel[:, peak[1]] * (gcd / pivot)), kernel[peak[0], :] / gcd
        if np.array_equal(np.outer(v, h), kernel):
            return v, h, 0.0
    v, h = kernel[:, peak[1]] / pivot, kernel[peak[0], :].copy()
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        product = np.outer(v, h)
        residual = float(np.max(np.abs(product[nonzero] - kernel[nonzero]) / np.abs(kernel[nonzero])))
    if not np.isfinite(residual) or not np.array_equal(product != 0, nonzero):
        return None
    return v, h, residual


def separable_taps(vs, hs, acc):
    """The separable and low-rank paths' records for the kernel sum over k of outer(vs[k], hs[k]): each h_k's
    non-zero entries (indices, values, kw), and the direct taps of the kh x r kernel whose column k is v_k."""
    horizontal = []
    for h in hs:
        index = np.flatnonzero(h).astype(np.int64)
        horizontal.append((index, np.ascontiguousarray(h[index], dtype=acc), h.size))
    columns = np.stack(vs, axis=1)
    vertical = direct_taps(columns, acc, paired=np.count_nonzero(columns) >= SEPARABLE_PAIR_FROM_TAPS)
    return tuple(horizontal), vertical


#: Most terms the low-rank path sums, and the largest integer taps it splits exactly.
MAX_TERMS = 3
_INTEGER_SPLIT_REACH = 2**20

#: The longest kernel side the low-rank path looks at: finding a split grows with the cube of the side (an SVD
#: of a 64 x 64 kernel takes about a millisecond, of 256 x 256 from tens of milliseconds to a second with a
#: threaded BLAS on a busy machine); larger dense kernels are the FFT path's.
LOW_RANK_SIDE = 64


def low_rank(kernel, integer):
    """Ways to write `kernel` as a sum of 2 or 3 outer products, fewest terms first: a list of (vs, hs, residual),
    `residual` bounding sum |K - sum_k outer(v_k, h_k)| over the taps (per unit sample).

    `integer`: only exact splits into integer factors (integer-valued kernels on integer images stay exact),
    found by cross (skeleton) elimination: a pivot tap p = R[i, j] of what is left, R, gives the term
    outer(R[:, j], R[i, :]) / p, which leaves row i and column j at zero and the rank one lower; a pivot is taken
    only where the term's factors can be integers. Otherwise the singular value decomposition's leading terms."""
    if min(kernel.shape) < 2 or max(kernel.shape) > LOW_RANK_SIDE or not np.isfinite(kernel).all():
        return []
    if integer:
        terms = _integer_terms(kernel)
        return [terms] if terms is not None and len(terms[0]) >= 2 else []
    u, s, vt = np.linalg.svd(kernel)
    found = []
    for r in range(2, min(MAX_TERMS, *kernel.shape) + 1):
        root = np.sqrt(s[:r])
        if s[r - 1] == 0:       # rank below r: the fewer terms already found (rank 1: the separable path's)
            break
        vs = [u[:, k] * root[k] for k in range(r)]
        hs = [vt[k] * root[k] for k in range(r)]
        product = sum(np.outer(v, h) for v, h in zip(vs, hs))
        size = sum(np.outer(np.abs(v), np.abs(h)) for v, h in zip(vs, hs))
        # |K - product| as computed, plus the rounding of computing it (r products and r + 1 sums per tap)
        residual = float(np.abs(kernel - product).sum() + 2.0 ** -50 * (r + 2) * (size.sum() + np.abs(kernel).sum()))
        found.append((vs, hs, residual))
    return found


def _integer_terms(kernel):
    """An exact split of an integer-valued kernel into at most MAX_TERMS outer products of integer vectors,
    (vs, hs, 0.0), or None. Each term lowers the rank by one, so a kernel of rank r gets r terms; where one
    pivot's remainder has no integer split, other pivots are tried, _INTEGER_SPLIT_TRIES candidate pivots in all
    (the search stays within milliseconds, whatever the kernel)."""
    if np.abs(kernel).max() >= _INTEGER_SPLIT_REACH or np.linalg.matrix_rank(kernel) > MAX_TERMS:
        return None
    terms = _integer_split(kernel.astype(np.int64), [_INTEGER_SPLIT_TRIES])
    if terms is None:
        return None
    return [v.astype(np.float64) for v, h in terms], [h.astype(np.float64) for v, h in terms], 0.0


#: Candidate pivots the integer split may examine in all, and the largest magnitude of a term's products (beyond
#: it no term is of use: its rounding alone would exceed every bound).
_INTEGER_SPLIT_TRIES = 2000
_INTEGER_TERM_REACH = 2**52


def _integer_split(rest, tries):
    """Integer terms (v, h) summing to `rest` (whose rank is at most MAX_TERMS), or None; `tries[0]` candidate
    pivots may still be examined."""
    if not rest.any():
        return []
    for v, h in _integer_pivots(rest, tries):
        more = _integer_split(rest - np.outer(v, h), tries)
        if more is not None:
            return [(v, h)] + more
    return None


def _integer_pivots(rest, tries):
    """Integer (v, h) with outer(v, h) = outer(rest[:, j], rest[i, :]) / rest[i, j], for each pivot (i, j) that
    gives integer factors with products within _INTEGER_TERM_REACH, smallest pivots first, while `tries[0]`
    allows. Every product is checked in Python's integers before numpy's int64 computes it."""
    rows, cols = np.nonzero(rest)
    for t in np.argsort(np.abs(rest[rows, cols]), kind="stable"):
        tries[0] -= 1
        if tries[0] < 0:
            return
        i, j = rows[t], cols[t]
        p, column, row = int(rest[i, j]), rest[:, j], rest[i, :]
        top_column, top_row = int(np.abs(column).max()), int(np.abs(row).max())
        if top_column * top_row >= 2**62 or top_column * top_row // abs(p) >= _INTEGER_TERM_REACH:
            continue
        g = int(np.gcd.reduce(column))
        if (row * g % p == 0).all():
            yield column // g, row * g // p
            continue
        g = int(np.gcd.reduce(row))
        if (column * g % p == 0).all():
            yield column * g // p, row // g


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


@functools.lru_cache(maxsize=64)
def mean_reciprocal(n, peak, rounding):
    """A float32 r such that rounding (`rounding` True) or flooring fl(S * r) gives the same integer as S / n
    exactly, for every integer window sum S in [0, n * peak]; None where none is known to.

    fl(S * r) is within a few float32 roundings of S / n (relative error at most 6u, u = 2**-24). A mean S / n
    that is not an integer lies at least 1 / n from the next integer and 1 / (2n) from a half-integer, unless it
    is a half-integer itself, which odd n (and powers of two, whose reciprocal is exact) rule out. So where
    6u * peak < 1 / (2n): rounding needs r = fl(1 / n) and no tie; flooring needs r >= (1 / n)(1 + 2u), so that
    an exact integer mean is never computed just below itself."""
    u = 2.0 ** -24
    if 12 * u * peak * n >= 1:
        return None
    exact = 1.0 / n
    r = np.float32(exact)
    if rounding:
        return float(r) if n % 2 or (n & (n - 1)) == 0 else None
    while float(r) < exact * (1 + 2 * u):
        r = np.nextafter(r, np.float32(np.inf))
    return float(r)

"""How a call is cut up: the threads it may use and the pieces (bands of rows x strips of columns) they claim.

A call with little work stays on fewer threads; a call on several threads is cut into several pieces per thread,
claimed dynamically, so a thread that gets less of a core (a busy machine) takes fewer; no piece is so long that a
call on the main thread waits long to run Python's signal handlers (Ctrl-C). Strips of columns bound each path's
ring of rows, so memory beyond the output stays small whatever the image size. Results do not depend on any of it.
"""
from typing import NamedTuple

import numpy as np

from fastconv import _runtime

#: Multiply-adds (output pixels x taps) a thread should get before a call is split across threads: about a
#: hundred microseconds of work. Below it, waking a helper costs more than it saves.
WORK_PER_THREAD = 2**20

#: Most multiply-adds in one piece: a few milliseconds, so a call on the main thread runs Python's signal handlers
#: (Ctrl-C) often enough, and a piece left to a helper that lost its core is short.
PIECE_WORK = 2**24

#: Pieces per thread of a call split across threads: claimed dynamically, so a thread that gets less of a core
#: (a busy machine) takes fewer, and the threads end within about a piece of each other...
PIECES_PER_THREAD = 8

#: ... but a piece has at least this many multiply-adds (some tens of microseconds): each costs a claim, and a
#: band re-reads the rows above it.
MIN_PIECE_WORK = 2**17

#: Bytes of the direct path's ring of padded rows, per thread: wider images go in strips of columns, so the extra
#: memory stays bounded (and within the second-level cache) whatever the image width.
DIRECT_RING_BYTES = 128 * 1024

#: Bytes of the separable path's ring of filtered rows, per thread: within the second-level cache. (A ring sized
#: for the first-level cache cut 1080p into strips of 256 columns, whose row set-ups and re-read halos cost the
#: second thread a quarter of its gain.)
SEPARABLE_RING_BYTES = 128 * 1024

#: Bytes of the rows-first box path's ring of kh rows of window sums, per thread.
BOX_RING_BYTES = 128 * 1024

#: The rows-first box path's fixed cost per row of a piece (its calls and loop set-ups), in pixels' worth of work:
#: measured with bench/bench.py's large_blur at strips from 256 columns to the whole width.
BOX_ROW_OVERHEAD = 160


class Schedule(NamedTuple):
    """How a call is cut up: at most `threads` threads (-1: the budget), pieces of `band` rows x `strip` columns."""
    threads: int
    band: int
    strip: int


def settings():
    """The tunables above, as they are now (tests change them): part of what a resolved call depends on."""
    return (WORK_PER_THREAD, PIECE_WORK, PIECES_PER_THREAD, MIN_PIECE_WORK, DIRECT_RING_BYTES, SEPARABLE_RING_BYTES,
            BOX_RING_BYTES, BOX_ROW_OVERHEAD)


def schedule(path, shape, kshape, acc, work, threads, paired, rows_first, planes=1, terms=1):
    """The Schedule of a call on `path` over `planes` planes of `shape` (channels, frames) with a kernel of
    `kshape`, `work` multiply-adds per plane, at most `threads` threads (-1: the budget); `paired`: rows go in
    pairs; `rows_first`: the box path's uint8 variant; `terms`: the separable and low-rank paths' outer
    products. Each plane gets its share of the call's pieces (at least one: many small planes are pieces
    enough)."""
    h, w = shape
    kh, kw = kshape
    if not h or not w:
        return Schedule(1, 1, 1)        # nothing to filter
    planes = max(1, planes)
    cap = max(1, work * planes // WORK_PER_THREAD)      # small calls stay on fewer threads
    if threads > 0:
        threads = min(threads, cap)
    elif cap < _runtime.budget():
        threads = cap
    if path in ("direct", "integer"):
        strip = direct_strip(w, kh, kw, acc)
        return Schedule(threads, band(h, w, strip, work, threads, paired=paired, planes=planes), strip)
    if path in ("separable", "lowrank"):
        strip = separable_strip(w, kh, acc, terms)
        return Schedule(threads, band(h, w, strip, work, threads, paired=True, planes=planes), strip)
    if path == "box":
        if rows_first:
            rows, strip = box_pieces(h, w, kh, kw, threads, _strip(w, kh, 2, 0, BOX_RING_BYTES), planes)
            return Schedule(threads, rows, strip)
        return Schedule(threads, band(h, w, w, work, threads, paired=False, reach=kh, planes=planes), w)
    return Schedule(threads, 0, 0)        # the FFT path's pieces are its tiles


def pieces(work, threads):
    """How many pieces a call of `work` multiply-adds on `threads` threads is cut into: enough for the threads
    (PIECES_PER_THREAD each, none under MIN_PIECE_WORK) and none over PIECE_WORK."""
    count = max(1, ceil_div(work, PIECE_WORK))
    if threads != 1:
        wanted = PIECES_PER_THREAD * (threads if threads > 0 else _runtime.budget())
        count = max(count, min(wanted, work // MIN_PIECE_WORK))
    return count


def box_pieces(h, w, kh, kw, threads, widest, planes=1):
    """(band rows, strip columns) of the rows-first box path's pieces. A band sums kh - 1 padded rows above its
    first output row and a strip kw - 1 padded columns beyond its last, and every row of a piece has a fixed
    cost: so few pieces (two per thread, where more than one thread may run, shared by `planes` planes), strips
    at most `widest` wide, cut where the extra work is least."""
    count = 1 if threads == 1 else ceil_div(2 * (threads if threads > 0 else _runtime.budget()), planes)
    best = None
    for nbands in range(1, min(count, h) + 1):
        nstrips = max(ceil_div(count, nbands), ceil_div(w, widest))
        strip = ceil_div(ceil_div(w, nstrips), 32) * 32
        rows = ceil_div(h, nbands)
        work = nbands * ceil_div(w, strip) * (rows + kh - 1) * (strip + kw - 1 + BOX_ROW_OVERHEAD)
        if best is None or work < best[0]:
            best = (work, rows, strip)
    return best[1], best[2]


def band(h, w, strip, work, threads, paired, reach=0, planes=1):
    """Rows per piece: enough pieces for `threads` (`pieces` of the work of `planes` planes of `work`, shared
    among them), but bands of at least 4 * `reach` rows (a band re-reads `reach` - 1 rows above it); even when
    rows are paired."""
    nbands = max(1, ceil_div(pieces(work * planes, threads), planes * max(1, ceil_div(w, max(1, strip)))))
    rows = max(ceil_div(h, nbands), 4 * reach, 1)
    return rows + rows % 2 if paired else rows


def _strip(width, ring_rows, itemsize, halo, budget):
    """Output columns per strip of an image `width` wide when a ring of `ring_rows` rows of strip + `halo`
    columns should get about `budget` bytes: the image split into equal strips, each a multiple of 256 columns
    (whole register blocks), or the whole width."""
    widest = max(256, budget // (ring_rows * itemsize) - halo)
    nstrips = ceil_div(width, widest)
    return min(width, ceil_div(ceil_div(width, nstrips), 256) * 256)


def ceil_div(a, b):
    return -(-a // b)


def separable_strip(width, kh, acc, terms=1):
    """Output columns per strip of the separable and low-rank paths (kh + 1 filtered rows for each of `terms`)."""
    return _strip(width, terms * (kh + 1), np.dtype(acc).itemsize, 0, SEPARABLE_RING_BYTES)


def direct_strip(width, kh, kw, acc):
    """Output columns per strip of the direct and integer paths (a ring of kh + 1 padded rows)."""
    return _strip(width, kh + 1, np.dtype(acc).itemsize, kw - 1, DIRECT_RING_BYTES)

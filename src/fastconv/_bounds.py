"""Error bounds: what each path guarantees, and the documented bound every path is held to.

The promise (README, "Accuracy"): for each output pixel with exact value S (the real sum of K times the samples
under it, plus delta) and scale A = sum|K| * (the largest sample magnitude in the pixel's own window; at least one
level for integer images),

- integer outputs of integer images: the value before rounding is within half a level of S, so the result is at
  most one level from the exact one, and exactly it for integer-valued kernels (every path but the FFT, which
  never takes them);
- float outputs: |result - S| <= EPSILON[dtype] * A;
- integer outputs of float images: the value before rounding as for float outputs of the image's own dtype (its
  samples have no bound a level could be measured against), then the output policy.

A path (and its accumulator) is chosen only where its bound, computed for the kernel and, for the FFT path, for
each tile's samples, is within that promise. All bounds are rigorous worst cases (Higham, "Accuracy and Stability of
Numerical Algorithms", 2nd ed.): every multiply-add in the core is a multiply then an add, each rounded once.
"""
import numpy as np

#: Unit round-off of each accumulator.
UNIT = {4: 2.0 ** -24, 8: 2.0 ** -53}

#: The documented bound for float outputs, per output itemsize: |error| <= EPSILON * A (see the module docstring).
EPSILON = {4: 2.0 ** -16, 8: 2.0 ** -32}

#: The direct path sums each output row's taps in chunks of this many, then the chunk totals: rounding then grows
#: with the chunk, not with the kernel.
CHUNK = 64


def _partials(k, lo, hi):
    """Largest magnitude of each prefix sum of ``k[t] * sample`` for samples in [lo, hi]."""
    if lo >= 0:     # unsigned samples: a partial sum is largest when all positive or all negative taps see `hi`
        return hi * np.maximum(np.cumsum(np.maximum(k, 0)), np.cumsum(np.maximum(-k, 0)))
    return max(abs(lo), abs(hi)) * np.cumsum(np.abs(k))


def sum_bound(taps, lo, hi, u):
    """Worst-case error of summing ``taps[t] * sample`` in the given order (the first product starts the sum),
    samples in [lo, hi], unit round-off `u`: u times every partial sum's magnitude, plus the rounding of each
    product and of each tap to the accumulator's type."""
    k = np.asarray(taps, dtype=np.float64)
    magnitude = max(abs(lo), abs(hi)) * np.abs(k).sum()
    return u * (_partials(k, lo, hi).sum() + 2 * magnitude)


def chunked_bound(taps, lo, hi, u, chunk=CHUNK):
    """As `sum_bound` for the direct path's order: the taps summed in chunks of `chunk`, the chunk totals added in
    order."""
    k = np.asarray(taps, dtype=np.float64)
    if not k.size:
        return 0.0
    chunks = [k[i:i + chunk] for i in range(0, k.size, chunk)]
    within = sum(u * _partials(c, lo, hi).sum() for c in chunks)
    ends = np.cumsum([c.size for c in chunks]) - 1
    running = _partials(k, lo, hi)[ends].sum()
    magnitude = max(abs(lo), abs(hi)) * np.abs(k).sum()
    return within + u * (running + 2 * magnitude)


def separable_bound(v, h, residual, lo, hi, u):
    """Worst-case error of the separable path, samples in [lo, hi]: the horizontal pass with h, the vertical pass
    with v over its results, and the factors' own departure from the kernel (`residual`: the largest relative
    difference |v_i h_j - K_ij| / |K_ij|)."""
    h = h[h != 0]
    v = v[v != 0]
    peak = max(abs(lo), abs(hi))
    top = np.abs(h).sum() * peak
    rounding = np.abs(v).sum() * sum_bound(h, lo, hi, u) + chunked_bound(v, -top, top, u)
    return rounding + residual * np.abs(v).sum() * np.abs(h).sum() * peak


def low_rank_bound(vs, hs, residual, lo, hi, u):
    """Worst-case error of the low-rank path, samples in [lo, hi]: a horizontal pass with each h_k, then one
    vertical pass summing the taps of the kh x r kernel V (column k: v_k) row-major over the r filtered rows, whose
    magnitudes are at most sum|h_k| * the largest sample; plus the terms' own departure from the kernel
    (`residual`: sum |K - sum_k outer(v_k, h_k)| over the taps, per unit sample)."""
    peak = max(abs(lo), abs(hi))
    tops = np.array([np.abs(h).sum() * peak for h in hs])
    columns = np.stack(vs, axis=1)
    scaled = (columns * tops)[columns != 0]         # row-major, as the vertical pass sums them
    horizontal = sum(np.abs(v).sum() * sum_bound(h[h != 0], lo, hi, u) for v, h in zip(vs, hs))
    return horizontal + chunked_bound(scaled, -1.0, 1.0, u) + residual * peak


def fft_bound(kernel, n, peak, u):
    """Worst-case error of one output of the FFT path on n x n tiles whose samples are within +-`peak`.

    Higham thm. 24.2: t radix-2 stages with twiddles accurate to mu give ||fl(FFT x) - FFT x||_2 <= ((1 + eta)**t
    - 1) ||FFT x||_2, eta = mu + gamma_4 (sqrt(2) + mu). A 2-D transform is t = 2 log2(n) stages; ||FFT x||_2 =
    n ||x||_2 with ||x||_2 <= sqrt(2) n peak for the two real tiles packed as one complex tile; the pointwise
    product with the kernel's spectrum (stored rounded) multiplies by at most g = max |spectrum| and adds a few
    roundings; the inverse repeats the forward's error. One output's error is at most the error vector's 2-norm;
    the largest sum's rounding covers adding a delta.
    """
    g = float(np.abs(np.fft.fft2(kernel, (n, n))).max())
    gamma4 = 4 * u / (1 - 4 * u)
    mu = 2 * u
    eta = mu + gamma4 * (np.sqrt(2) + mu)
    e1 = (1 + eta) ** (2 * np.log2(n)) - 1
    x = np.sqrt(2) * n * peak
    product = 4 * u + 2 * u * (1 + e1)
    total = g * x * (e1 + product + e1 * (1 + e1) * (1 + product))
    return 1.01 * total + 2 * u * np.abs(kernel).sum() * peak

"""Slow, obviously-correct pure-numpy twins of what fastconv computes: the oracles of the test suite."""
import numpy as np
from skimage.exposure import rescale_intensity

_NUMPY_PAD = {"replicate": "edge", "reflect": "symmetric", "reflect101": "reflect", "wrap": "wrap"}


def pad(image, kshape, border="replicate", cval=0.0):
    """Pad so that window (y, x) of shape `kshape` is anchored at (kh // 2, kw // 2) like cv2.filter2D."""
    (kh, kw) = kshape
    widths = ((kh // 2, kh - 1 - kh // 2), (kw // 2, kw - 1 - kw // 2))
    if border == "constant":
        return np.pad(image, widths, mode="constant", constant_values=cval)
    return np.pad(image, widths, mode=_NUMPY_PAD[border])


def tutorial_convolve(image, K):
    """The tutorial's convolve, faithfully: float64 window-times-kernel sums, rescale_intensity, astype uint8.

    Generalised only where the tutorial crashes: the padding follows cv2's anchor for even and non-square kernels.
    """
    K = np.asarray(K, dtype=np.float64)
    padded = pad(image, K.shape, "replicate")
    h, w = image.shape
    kh, kw = K.shape
    out = np.zeros((h, w), dtype="float")
    for y in range(h):
        for x in range(w):
            roi = padded[y:y + kh, x:x + kw]
            out[y, x] = (roi * K).sum()
    out = rescale_intensity(out, in_range=(0, 255))
    return (out * 255).astype("uint8")


def correlate_float64(image, K, border="replicate", cval=0.0):
    """Exact-as-float64 correlation: one shifted slice per tap, summed in float64."""
    K = np.asarray(K, dtype=np.float64)
    padded = pad(np.asarray(image, dtype=np.float64), K.shape, border, cval)
    h, w = np.shape(image)
    out = np.zeros((h, w))
    for i in range(K.shape[0]):
        for j in range(K.shape[1]):
            if K[i, j] != 0:
                out += K[i, j] * padded[i:i + h, j:j + w]
    return out


def correlate_nan_rule(image, K, border="replicate", cval=0.0):
    """The documented NaN/inf rule: a pixel's sum is NaN/inf exactly when a non-zero tap meets NaN/inf.

    Plain float64 arithmetic over the non-zero taps gives that (0 * NaN never happens: zero taps are skipped).
    """
    with np.errstate(invalid="ignore", over="ignore"):
        return correlate_float64(image, K, border, cval)


def near_tie(exact, tol):
    """Where an exact sum lies within `tol` of a rounding tie (k + 0.5): there, any correctly rounded float32 sum
    may land on either side, so two correct implementations can differ by one level."""
    return np.abs(np.abs(exact - np.floor(exact)) - 0.5) <= tol

"""Image files through OpenCV: reading with bits, channels and alpha kept, writing only what a format can hold."""
import contextlib
import os
import sys

import numpy as np

# What `fastconv apply` finds in folders (case-insensitive); all are formats OpenCV reads.
SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".jp2", ".pgm", ".ppm", ".pnm")
# Pixel types each format stores without loss; every format stores uint8.
_DEEPER = {np.dtype(np.uint16): (".png", ".tif", ".tiff", ".jp2", ".pgm", ".ppm", ".pnm"),
           np.dtype(np.int16): (".tif", ".tiff"),
           np.dtype(np.float32): (".tif", ".tiff")}
_BITS = {np.dtype(np.uint16): "16-bit", np.dtype(np.int16): "signed 16-bit", np.dtype(np.float32): "float32"}


class ImageError(Exception):
    """A file that cannot be read or written as an image; the message says why."""


@contextlib.contextmanager
def quiet_decoders(cv2):
    """Keep what OpenCV and its image libraries print about damaged files off the terminal, for the duration.

    The commands warn about such a file themselves, in one line naming it. OpenCV's own log (``[ WARN:0@0.01]
    global grfmt_png.cpp ...``) is silenced through its log level; libpng writes straight to file descriptor 2
    (``libpng error: IDAT: invalid bit length repeat``), so that descriptor points at the null device meanwhile,
    while ``sys.stderr`` writes to a copy of the original: messages printed from Python, by any thread, still
    reach the terminal. Both are restored on leaving.
    """
    level = _set_log_level(cv2, None)
    if sys.stderr is not None:
        sys.stderr.flush()
    try:
        terminal = os.dup(2)
    except OSError:             # no stderr to protect
        terminal = None
    python_stderr = sys.stderr
    if terminal is not None:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 2)
        os.close(null)
        if _fileno(python_stderr) == 2:
            sys.stderr = open(terminal, "w", buffering=1, encoding=python_stderr.encoding,
                              errors=python_stderr.errors, closefd=False)
    try:
        yield
    finally:
        if sys.stderr is not python_stderr:
            sys.stderr.close()
            sys.stderr = python_stderr
        if terminal is not None:
            os.dup2(terminal, 2)
            os.close(terminal)
        if level is not None:
            _set_log_level(cv2, level)


def _set_log_level(cv2, level):
    """Set OpenCV's log level (None: silent) and return the one it had; None where this OpenCV has no setter."""
    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if hasattr(logging, "setLogLevel"):
        return logging.setLogLevel(logging.LOG_LEVEL_SILENT if level is None else level)
    if hasattr(cv2, "setLogLevel"):      # older builds: 0 is silent
        return cv2.setLogLevel(0 if level is None else level)
    return None


def _fileno(stream):
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None


def read(cv2, path, flags=None):
    """The image in `path` as OpenCV decodes it (IMREAD_UNCHANGED by default: bits, channels and alpha kept)."""
    try:
        data = np.fromfile(path, np.uint8)
    except OSError as e:
        raise ImageError(f"cannot read the file: {e.strerror or e}") from e
    try:
        image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED if flags is None else flags) if data.size else None
    except cv2.error:
        image = None
    if image is None:
        raise ImageError("not an image OpenCV can decode (damaged, empty or an unsupported format)")
    return image


def check_storable(dtype, suffix):
    """Raise ImageError unless a `suffix` file stores `dtype` pixels exactly (OpenCV would silently cut to 8 bits)."""
    dtype = np.dtype(dtype)
    if dtype != np.uint8 and suffix.lower() not in _DEEPER.get(dtype, ()):
        kinds = " or ".join(s.lstrip(".") for s in _DEEPER.get(dtype, (".tiff",))[:2])
        raise ImageError(f"a {_BITS.get(dtype, str(dtype))} image cannot be stored as {suffix} without losing "
                         f"bits: use --format {kinds}")


def write(cv2, path, image):
    """Write `image` to `path` (the suffix picks the format), creating folders as needed."""
    suffix = os.path.splitext(path)[1]
    check_storable(image.dtype, suffix)
    try:
        ok, data = cv2.imencode(suffix, image)
    except cv2.error as e:
        raise ImageError(f"OpenCV cannot encode this image as {suffix}: {str(e).strip().splitlines()[-1]}") from e
    if not ok:
        raise ImageError(f"OpenCV cannot encode this image as {suffix}")
    try:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        data.tofile(path)
    except OSError as e:
        raise ImageError(f"cannot write {path}: {e.strerror or e}") from e


def labelled(cv2, image, label, size):
    """A uint8 panel: `image` scaled to fit a `size` x `size` box (never enlarged), `label` in a strip above."""
    h, w = image.shape[:2]
    scale = min(1.0, size / max(h, w))
    if scale < 1:
        image = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    strip = np.full((32, image.shape[1], 3), 40, np.uint8)
    cv2.putText(strip, label, (8, 23), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
    return np.vstack([strip, image])


def grid(panels, columns, gap=4):
    """Equal-sized BGR panels in rows of `columns`, separated by `gap` white pixels."""
    h, w = panels[0].shape[:2]
    rows = -(-len(panels) // columns)
    canvas = np.full((rows * (h + gap) + gap, columns * (w + gap) + gap, 3), 255, np.uint8)
    for i, panel in enumerate(panels):
        y, x = gap + (i // columns) * (h + gap), gap + (i % columns) * (w + gap)
        canvas[y:y + h, x:x + w] = panel
    return canvas

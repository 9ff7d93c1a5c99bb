"""What the commands share: their error type, the OpenCV requirement, interrupts, timing and the bank table."""
import os
import signal
import sys
import threading
import time
from functools import partial

import numpy as np

import fastconv

INSTALL_OPENCV = 'pip install "fastconv[opencv]"'


class CommandError(Exception):
    """A problem the user can fix (bad option, missing file, missing OpenCV): printed without a traceback."""

    def __init__(self, message, code=2):
        super().__init__(message)
        self.code = code


def require_cv2(command):
    """The cv2 module, or a CommandError saying how to install it."""
    try:
        import cv2
    except ImportError as e:
        raise CommandError(f"'fastconv {command}' reads and writes images with OpenCV, which is not installed: "
                           f"{INSTALL_OPENCV}") from e
    return cv2


INTERRUPTED = 130  # the exit status of a command ended by Ctrl-C (128 + SIGINT), as shells report it


def stop_at_next_interrupt(command, consequence):
    """Make the next Ctrl-C end the process at once with exit status 130, saying `consequence` in one line.

    For a command winding down after a first Ctrl-C: the second must not wait, and must not print a traceback
    from wherever it lands (waiting for worker threads, or Python's exit). ``os._exit`` ends the process without
    joining the threads still running compiled code. Only the main thread may set signal handlers; elsewhere this
    does nothing. ``main`` puts the previous handler back when the command returns.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    message = f"fastconv {command}: interrupted again: stopped at once; {consequence}\n".encode()

    def stop(signum, frame):
        try:
            os.write(sys.stderr.fileno(), message)
        except (AttributeError, OSError, ValueError):
            pass
        os._exit(INTERRUPTED)

    signal.signal(signal.SIGINT, stop)


def median_ms(fn, repeat):
    """Median milliseconds of `repeat` calls, after 100 ms of warm-up (thread pools wake up slowly when idle)."""
    start = time.perf_counter()
    while time.perf_counter() - start < 0.1:
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times))


def compare_bank(image, cv2, repeat):
    """The tutorial's bank on a uint8 image with fastconv and (when `cv2` is not None) cv2.filter2D.

    Both round like cv2.filter2D and replicate the border, so they should agree pixel for pixel.

    Returns
    -------
    list of dict
        Per kernel: ``name``, ``fastconv`` and ``cv2`` images (``cv2`` None without OpenCV), ``max_diff``,
        ``identical`` (percent of pixels), ``fastconv_ms``, ``cv2_ms``.
    """
    rows = []
    for name, K in fastconv.kernels.tutorial_bank().items():
        ours = partial(fastconv.convolve, image, K, output="round")
        row = {"name": name, "fastconv": ours(), "fastconv_ms": median_ms(ours, repeat), "cv2": None}
        if cv2 is not None:
            theirs = partial(cv2.filter2D, image, -1, K, borderType=cv2.BORDER_REPLICATE)
            row["cv2"], row["cv2_ms"] = theirs(), median_ms(theirs, repeat)
            diff = np.abs(row["fastconv"].astype(np.int16) - row["cv2"])
            row["max_diff"], row["identical"] = int(diff.max()), 100 * float(np.mean(diff == 0))
        rows.append(row)
    return rows


def print_table(rows):
    """The `compare_bank` rows as a Markdown table: agreement with cv2.filter2D, times and speed-up."""
    print("| kernel | max diff vs cv2 | identical | fastconv ms | cv2 ms | speed-up |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows:
        if row["cv2"] is None:
            print(f"| {row['name']} | - | - | {row['fastconv_ms']:.2f} | - | - |")
        else:
            print(f"| {row['name']} | {row['max_diff']} | {row['identical']:.3f}% | {row['fastconv_ms']:.2f} | "
                  f"{row['cv2_ms']:.2f} | {row['cv2_ms'] / row['fastconv_ms']:.2f}x |")


def header(image, what):
    """One line naming the fastconv build and the image the table is about."""
    cfg = fastconv.config()
    return (f"fastconv {cfg['fastconv']} ({cfg['simd_variant']}, {cfg['threads']} threads) on {what}, "
            f"{image.shape[0]}x{image.shape[1]} uint8")

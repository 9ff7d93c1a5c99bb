"""Time fastconv against its peers on the tutorial's kernel bank and write bench/results.md.

Peers: cv2.filter2D (replicated border, same thread count), scipy.ndimage.correlate (single-threaded) and the
tutorial's per-pixel Python loop (timed on a small crop and reported per megapixel). Every repetition runs each
contender once in turn (interleaved), and the table reports medians, so machine noise hits all of them alike.

    python bench/bench.py              # 1080x1920, 1 thread and all cores
    python bench/bench.py --quick      # fewer repetitions
"""
import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import fastconv
from fastconv._scene import test_scene

try:
    import cv2
except ImportError:
    cv2 = None
try:
    from scipy import ndimage
except ImportError:
    ndimage = None


def tutorial_loop(image, K):
    """The tutorial's algorithm as it is: replicate padding, a Python loop over pixels, clip and truncate."""
    kh, kw = K.shape
    padded = np.pad(image, ((kh // 2, kh - 1 - kh // 2), (kw // 2, kw - 1 - kw // 2)), mode="edge")
    out = np.zeros(image.shape, dtype=np.float64)
    for y in range(image.shape[0]):
        for x in range(image.shape[1]):
            out[y, x] = (padded[y:y + kh, x:x + kw] * K).sum()
    return (np.clip(out, 0, 255) / 255 * 255).astype(np.uint8)


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def interleaved(contenders, repeat):
    """Median seconds of each contender, running them in turn `repeat` times after one warm-up each."""
    for fn in contenders.values():
        fn()
    times = {name: [] for name in contenders}
    for _ in range(repeat):
        for name, fn in contenders.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}


def run(threads_list, repeat, ndimage_repeat, crop):
    image = test_scene(1080, 1920)
    mpix = image.size / 1e6
    rows = []
    for threads in threads_list:
        if cv2 is not None:
            cv2.setNumThreads(threads)
        for name, K in fastconv.kernels.tutorial_bank().items():
            contenders = {"fastconv": lambda K=K: fastconv.convolve(image, K, output="round", threads=threads)}
            if cv2 is not None:
                contenders["cv2.filter2D"] = lambda K=K: cv2.filter2D(image, -1, K, borderType=cv2.BORDER_REPLICATE)
            t = interleaved(contenders, repeat)
            if ndimage is not None and threads == 1:
                t.update(interleaved({"ndimage": lambda K=K: ndimage.correlate(image, K, mode="nearest")},
                                     ndimage_repeat))
            if crop and threads == 1:
                small = image[:crop, :crop]
                t0 = time.perf_counter()
                tutorial_loop(small, K)
                t["tutorial"] = (time.perf_counter() - t0) * mpix / (small.size / 1e6)
            rows.append((threads, name, t))
            print(f"  {threads}t {name}: " + ", ".join(f"{k} {1e3 * v:.2f} ms" for k, v in t.items()), flush=True)
    return rows


def table(rows):
    lines = [
        "| threads | kernel | fastconv ms | cv2.filter2D ms | ratio vs cv2 | ndimage ms | ratio vs ndimage "
        "| tutorial loop ms (per 1080p) | speed-up vs tutorial |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def cell(t, peer):
        if peer not in t:
            return "-", "-"
        return f"{1e3 * t[peer]:.2f}", f"{t['fastconv'] / t[peer]:.3f}"

    for threads, name, t in rows:
        cv, cv_ratio = cell(t, "cv2.filter2D")
        nd, nd_ratio = cell(t, "ndimage")
        tut = f"{1e3 * t['tutorial']:.0f}" if "tutorial" in t else "-"
        speedup = f"{t['tutorial'] / t['fastconv']:.0f}x" if "tutorial" in t else "-"
        lines.append(f"| {threads} | {name} | {1e3 * t['fastconv']:.2f} | {cv} | {cv_ratio} | {nd} | {nd_ratio} "
                     f"| {tut} | {speedup} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, no tutorial loop")
    parser.add_argument("--out", default=str(Path(__file__).with_name("results.md")), help="markdown file to write")
    args = parser.parse_args(argv)
    cores = fastconv.config()["default_threads"]
    threads_list = sorted({1, cores})
    repeat, ndimage_repeat, crop = (5, 1, 0) if args.quick else (15, 3, 64)
    cfg = fastconv.config()
    header = [
        "# fastconv benchmark",
        "",
        f"- machine: {cpu_model()}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.machine()}",
        f"- fastconv {cfg['fastconv']}, SIMD variant `{cfg['simd_variant']}`, OpenMP {cfg['openmp']}",
        f"- python {platform.python_version()}, numpy {np.__version__}"
        + (f", opencv {cv2.__version__}" if cv2 is not None else "")
        + (f", scipy {__import__('scipy').__version__}" if ndimage is not None else ""),
        "- image: 1080x1920 uint8 generated scene; uint8 -> uint8, replicated border; fastconv output='round' "
        "(cv2's rounding)",
        f"- medians of {repeat} interleaved runs (ndimage: {ndimage_repeat}); ratio = fastconv time / peer time "
        "(below 1: fastconv is faster); ndimage is single-threaded and compared at 1 thread",
        f"- tutorial loop: timed on a {crop}x{crop} crop, scaled to the full image" if crop else "",
        "",
    ]
    print("\n".join(header))
    rows = run(threads_list, repeat, ndimage_repeat, crop)
    text = "\n".join(header) + "\n" + table(rows) + "\n"
    Path(args.out).write_text(text)
    print("\n" + table(rows))
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

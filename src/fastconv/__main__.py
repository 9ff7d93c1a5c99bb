"""``python -m fastconv``: apply the tutorial's kernel bank to a test scene, compare with OpenCV, time both."""
import argparse
import sys
import time

import numpy as np

import fastconv
from fastconv._scene import test_scene


def _median_ms(fn, repeat):
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


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m fastconv",
        description="Apply the tutorial's seven kernels to a generated test scene; print agreement with "
                    "cv2.filter2D (replicated border) and timings.",
    )
    parser.add_argument("--height", type=int, default=1080, help="scene height in pixels (default 1080)")
    parser.add_argument("--width", type=int, default=1920, help="scene width in pixels (default 1920)")
    parser.add_argument("--repeat", type=int, default=11, help="timed runs per kernel (median; default 11)")
    parser.add_argument("--version", action="version", version=f"fastconv {fastconv.__version__}")
    args = parser.parse_args(argv)
    if args.height < 1 or args.width < 1 or args.repeat < 1:
        parser.error("--height, --width and --repeat must be positive")

    try:
        import cv2
    except ImportError:
        cv2 = None
        print("OpenCV is not installed (pip install 'fastconv[opencv]'): timing fastconv alone.\n")
    else:
        cv2.setNumThreads(fastconv.config()["default_threads"])

    image = test_scene(args.height, args.width)
    cfg = fastconv.config()
    print(f"fastconv {cfg['fastconv']} ({cfg['simd_variant']}, {cfg['default_threads']} threads) on a "
          f"{args.height}x{args.width} uint8 test scene\n")
    print("| kernel | max diff vs cv2 | identical | fastconv ms | cv2 ms | speed-up |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, K in fastconv.kernels.tutorial_bank().items():
        ours = fastconv.convolve(image, K, output="round")
        t_ours = _median_ms(lambda: fastconv.convolve(image, K, output="round"), args.repeat)
        if cv2 is None:
            print(f"| {name} | - | - | {t_ours:.2f} | - | - |")
            continue
        theirs = cv2.filter2D(image, -1, K, borderType=cv2.BORDER_REPLICATE)
        t_cv2 = _median_ms(lambda: cv2.filter2D(image, -1, K, borderType=cv2.BORDER_REPLICATE), args.repeat)
        diff = np.abs(ours.astype(np.int16) - theirs)
        print(f"| {name} | {diff.max()} | {100 * np.mean(diff == 0):.3f}% | {t_ours:.2f} | {t_cv2:.2f} | "
              f"{t_cv2 / t_ours:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

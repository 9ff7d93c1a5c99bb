"""Low-rank kernels and small images, against cv2.filter2D and fastconv's own direct path.

Low rank: 1080p uint8 -> uint8, replicated border, one thread; a 9x9 Laplacian of Gaussian, a difference of
Gaussians, a Gabor kernel and a random rank-2 kernel. Goal: the automatic choice (the low-rank path) >= 1.8x
faster than the direct path on the same kernel.
Small images: the 3x3 sharpen kernel, uint8 -> uint8, one thread, 32x32 to 256x256 and a 1x1 image (the per-call
overhead). Goals: 64x64 <= 1.2x cv2.filter2D, 256x256 <= 0.6x cv2.filter2D, 1x1 <= 3 us.
Interleaved, each contender twice in its turn with the second call timed, medians.

    python bench/bench_lowrank.py          # writes bench/results_lowrank.md (bench/bench.py folds it in)
"""
import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np

import fastconv
from bench_runtime import interleaved, table      # interleaved: each contender twice in its turn, the second timed
from fastconv import _dispatch, _plan
from fastconv._scene import test_scene

try:
    import cv2
except ImportError:         # pragma: no cover - the opencv extra
    cv2 = None

HERE = Path(__file__).resolve().parent


def _grid(size):
    r = np.arange(size) - size // 2
    return np.meshgrid(r, r)


def laplacian_of_gaussian(size, sigma):
    x, y = _grid(size)
    q = (x**2 + y**2) / (2 * sigma**2)
    return -(1 - q) * np.exp(-q) / (np.pi * sigma**4)


def gabor(size, sigma, theta, wavelength):
    x, y = _grid(size)
    along = x * np.cos(theta) + y * np.sin(theta)
    return np.exp(-(x**2 + y**2) / (2 * sigma**2)) * np.cos(2 * np.pi * along / wavelength)


def low_rank_kernels():
    rng = np.random.default_rng(0)
    return [("9x9 Laplacian of Gaussian", laplacian_of_gaussian(9, 1.4)),
            ("9x9 difference of Gaussians",
             fastconv.kernels.gaussian(9, 1.0) - fastconv.kernels.gaussian(9, 1.6)),
            ("9x9 Gabor", gabor(9, 2.0, 0.6, 4.0)),
            ("9x9 random rank 2", sum(np.outer(rng.uniform(-1, 1, 9), rng.uniform(-1, 1, 9)) for _ in range(2)))]


def forced(path, image, K):
    def call():
        with _plan.force(path):
            return fastconv.convolve(image, K, output="round", threads=1)
    return call


def cv2_call(image, K):
    K32 = np.asarray(K, np.float32)

    def call():
        cv2.setNumThreads(1)
        return cv2.filter2D(image, -1, K32, borderType=cv2.BORDER_REPLICATE)
    return call


def low_rank(rounds):
    image = test_scene(1080, 1920)
    rows = []
    for name, K in low_rank_kernels():
        path = fastconv.explain(image, K, output="round").path
        contenders = {"fastconv": lambda K=K: fastconv.convolve(image, K, output="round", threads=1),
                      "fastconv direct": forced("direct", image, K)}
        if cv2 is not None:
            contenders["cv2.filter2D"] = cv2_call(image, K)
        t = interleaved(contenders, rounds)
        gain = t["fastconv direct"] / t["fastconv"]
        rows.append((name, path, f"{1e3 * t['fastconv']:.2f}", f"{1e3 * t['fastconv direct']:.2f}",
                     f"{1e3 * t['cv2.filter2D']:.2f}" if "cv2.filter2D" in t else "-", f"{gain:.2f}x",
                     f"{t['fastconv'] / t['cv2.filter2D']:.2f}" if "cv2.filter2D" in t else "-",
                     "met" if gain >= 1.8 else "**not met**"))
        print(rows[-1], flush=True)
    return rows


def small_images(rounds):
    K = fastconv.kernels.sharpen()
    rng = np.random.default_rng(1)
    goals = {(1, 1): ("us", 3e-6), (64, 64): ("ratio", 1.2), (256, 256): ("ratio", 0.6)}
    rows = []
    for h, w in ((1, 1), (32, 32), (64, 64), (128, 128), (256, 256)):
        image = rng.integers(0, 256, (h, w), dtype=np.uint8)
        contenders = {"fastconv": lambda image=image: fastconv.convolve(image, K, output="round", threads=1),
                      "fastconv direct": forced("direct", image, K)}
        if cv2 is not None:
            contenders["cv2.filter2D"] = cv2_call(image, K)
        t = interleaved(contenders, rounds)
        ratio = t["fastconv"] / t["cv2.filter2D"] if "cv2.filter2D" in t else float("nan")
        kind, goal = goals.get((h, w), (None, None))
        if kind == "us":
            verdict = f"{1e6 * t['fastconv']:.1f} us (goal <= {1e6 * goal:.0f} us)"
            met = t["fastconv"] <= goal
        elif kind == "ratio":
            verdict = f"ratio {ratio:.2f} (goal <= {goal})"
            met = ratio <= goal
        else:
            verdict, met = "-", None
        rows.append((f"{h}x{w}", fastconv.explain(image, K, output="round").path, f"{1e6 * t['fastconv']:.1f}",
                     f"{1e6 * t['fastconv direct']:.1f}",
                     f"{1e6 * t['cv2.filter2D']:.1f}" if "cv2.filter2D" in t else "-", f"{ratio:.2f}", verdict,
                     "" if met is None else "met" if met else "**not met**"))
        print(rows[-1], flush=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--out", default=str(HERE / "results_lowrank.md"))
    args = parser.parse_args(argv)
    rank_rows = low_rank(args.rounds)
    small_rows = small_images(10 * args.rounds)
    versions = [f"fastconv {fastconv.__version__} ({_dispatch.active_variant()})", f"numpy {np.__version__}"]
    if cv2 is not None:
        versions.append(f"OpenCV {cv2.__version__}")
    lines = ["## Low-rank kernels and small images", "",
             f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs; {', '.join(versions)}; "
             f"{time.strftime('%Y-%m-%d')}. One thread, uint8 -> uint8 (rounded), replicated border; medians of "
             "interleaved rounds (each contender twice in its turn, the second call timed). 'fastconv direct' is "
             "the same call forced onto the direct path.", "",
             "Low-rank kernels, 1080x1920 (ms); gain = direct / automatic (goal >= 1.8x):", ""]
    lines += table(["kernel", "fastconv path", "fastconv", "fastconv direct", "cv2.filter2D", "gain", "ratio to cv2",
                    "goal"], rank_rows)
    lines += ["Small images, 3x3 sharpen (us per call):", ""]
    lines += table(["image", "fastconv path", "fastconv", "fastconv direct", "cv2.filter2D", "ratio to cv2",
                    "measure", "goal"], small_rows)
    Path(args.out).write_text("\n".join(lines))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()

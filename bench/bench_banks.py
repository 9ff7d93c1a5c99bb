"""Banks of kernels and stacks of frames against the honest alternatives: a loop of fastconv calls, a loop of
cv2.filter2D, and torch.nn.functional.conv2d on the CPU (where torch is installed).

Banks: 1080p uint8 -> uint8, replicated border, one thread, 8 random kernels of one size. Goals: a bank of 8 3x3
kernels in <= 3x the time of one 3x3 kernel; a bank of 8 7x7 kernels in <= 0.6x a loop of 8 fastconv calls.
Stacks: 1000 frames of 64x64 uint8, the 3x3 sharpen kernel, default threads. Goal: >= 5x faster than a Python
loop of cv2.filter2D. torch computes in float32 from a float32 copy and returns float32 (its conversions are
timed with it); cv2 and fastconv return uint8, rounded (cv2's rounding). Interleaved, each contender twice in its
turn with the second call timed, medians.

    python bench/bench_banks.py            # writes bench/results_banks.md (bench/bench.py folds it in)
"""
import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np

import fastconv
from bench_runtime import interleaved      # each contender twice in its turn, the second call timed
from fastconv import _dispatch
from fastconv._scene import test_scene

try:
    import cv2
except ImportError:         # pragma: no cover - the opencv extra
    cv2 = None
try:
    import torch
    import torch.nn.functional as F
except ImportError:
    torch = None

HERE = Path(__file__).resolve().parent


def torch_bank(image, bank, threads):
    """conv2d of one image with n kernels (cross-correlation, as fastconv), replicated border, float32."""
    kh, kw = bank.shape[1:]
    weight = torch.from_numpy(bank.astype(np.float32)[:, None])

    def call():
        torch.set_num_threads(threads)
        x = torch.from_numpy(image.astype(np.float32))[None, None]
        x = F.pad(x, (kw // 2, kw - 1 - kw // 2, kh // 2, kh - 1 - kh // 2), mode="replicate")
        return F.conv2d(x, weight)
    return call


def torch_stack(frames, K, threads):
    kh, kw = K.shape
    weight = torch.from_numpy(K.astype(np.float32)[None, None])

    def call():
        torch.set_num_threads(threads)
        x = torch.from_numpy(frames.astype(np.float32))[:, None]
        x = F.pad(x, (kw // 2, kw - 1 - kw // 2, kh // 2, kh - 1 - kh // 2), mode="replicate")
        return F.conv2d(x, weight)
    return call


def cv2_loop(images, kernels, threads):
    kernels = [np.asarray(k, np.float32) for k in kernels]

    def call():
        cv2.setNumThreads(threads)
        for image in images:
            for k in kernels:
                cv2.filter2D(image, -1, k, borderType=cv2.BORDER_REPLICATE)
    return call


def banks(rounds):
    image = test_scene(1080, 1920)
    rng = np.random.default_rng(0)
    rows = []
    for size in (3, 7):
        bank = rng.uniform(-1, 1, (8, size, size))
        contenders = {
            "fastconv one kernel": lambda b=bank: fastconv.convolve(image, b[0], output="round", threads=1),
            "fastconv bank": lambda b=bank: fastconv.convolve(image, b, output="round", threads=1),
            "fastconv loop": lambda b=bank: [fastconv.convolve(image, k, output="round", threads=1) for k in b],
        }
        if cv2 is not None:
            contenders["cv2.filter2D loop"] = cv2_loop([image], bank, 1)
        if torch is not None:
            contenders["torch conv2d"] = torch_bank(image, bank, 1)
        t = interleaved(contenders, rounds)
        one, together, loop = t["fastconv one kernel"], t["fastconv bank"], t["fastconv loop"]
        if size == 3:
            goal = f"bank / one kernel = {together / one:.2f} (goal <= 3)"
            met = together / one <= 3
        else:
            goal = f"bank / loop = {together / loop:.2f} (goal <= 0.6)"
            met = together / loop <= 0.6
        rows.append((f"8 random {size}x{size}", f"{1e3 * one:.2f}", f"{1e3 * together:.2f}", f"{1e3 * loop:.2f}",
                     f"{1e3 * t['cv2.filter2D loop']:.2f}" if "cv2.filter2D loop" in t else "-",
                     f"{1e3 * t['torch conv2d']:.2f}" if "torch conv2d" in t else "-", goal,
                     "met" if met else "**not met**"))
        print(rows[-1], flush=True)
    return rows


def stacks(rounds):
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, (1000, 64, 64), dtype=np.uint8)
    K = fastconv.kernels.sharpen()
    threads = fastconv.get_threads()
    contenders = {
        "fastconv stack": lambda: fastconv.convolve(frames, K, output="round", stack=True),
        "fastconv loop": lambda: [fastconv.convolve(f, K, output="round") for f in frames],
    }
    if cv2 is not None:
        contenders["cv2.filter2D loop"] = cv2_loop(frames, [K], threads)
    if torch is not None:
        contenders["torch conv2d"] = torch_stack(frames, K, threads)
    t = interleaved(contenders, rounds)
    ratio = t["cv2.filter2D loop"] / t["fastconv stack"] if "cv2.filter2D loop" in t else float("nan")
    row = ("1000 x 64x64 uint8, 3x3 sharpen", str(threads), f"{1e3 * t['fastconv stack']:.2f}",
           f"{1e3 * t['fastconv loop']:.2f}",
           f"{1e3 * t['cv2.filter2D loop']:.2f}" if "cv2.filter2D loop" in t else "-",
           f"{1e3 * t['torch conv2d']:.2f}" if "torch conv2d" in t else "-", f"{ratio:.1f}x",
           "met" if ratio >= 5 else "**not met**")
    print(row, flush=True)
    return [row]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--out", default=str(HERE / "results_banks.md"))
    args = parser.parse_args(argv)
    bank_rows = banks(args.rounds)
    stack_rows = stacks(args.rounds)
    versions = [f"fastconv {fastconv.__version__} ({_dispatch.active_variant()})", f"numpy {np.__version__}"]
    if cv2 is not None:
        versions.append(f"OpenCV {cv2.__version__}")
    versions.append(f"torch {torch.__version__} (CPU)" if torch is not None else "torch not installed")
    lines = ["## Banks of kernels and stacks of frames", "",
             f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs; {', '.join(versions)}; "
             f"{time.strftime('%Y-%m-%d')}. Medians of {args.rounds} interleaved rounds (each contender twice in "
             "its turn, the second call timed). fastconv and cv2 return uint8 (rounded); torch float32 from a float32 "
             "copy, padded by replication (its conversions timed with it).", "",
             "Banks: 1080x1920 uint8, one thread (ms):", "",
             "| bank | one kernel | bank in one call | loop of fastconv calls | loop of cv2.filter2D | torch conv2d | "
             "ratio | goal |",
             "|---|---|---|---|---|---|---|---|"]
    lines += ["| " + " | ".join(r) + " |" for r in bank_rows]
    lines += ["", "Stacks: default threads (ms); speed-up = the cv2.filter2D loop's time / the stack call's "
                  "(goal >= 5x):", "",
              "| frames | threads | fastconv stack=True | loop of fastconv calls | loop of cv2.filter2D | "
              "torch conv2d | speed-up | goal |",
              "|---|---|---|---|---|---|---|---|"]
    lines += ["| " + " | ".join(r) + " |" for r in stack_rows]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()

"""fastconv's measuring instrument: times against its peers, writes bench/results.md and bench/kernel_sizes.png.

Peers: cv2.filter2D; cv2.sepFilter2D and cv2.blur where they apply; scipy.ndimage.correlate (single-threaded, so
compared at one thread); the tutorial's per-pixel Python loop (timed on a crop, scaled per image). Every
repetition runs each contender in turn (interleaved; see `interleaved` for how a turn is timed) and tables report
medians, so machine noise hits all of them alike; cv2 and fastconv always use the same thread count. Ratios are
fastconv time / peer time: below 1, fastconv is faster.

    python bench/bench.py            # the full run (a few minutes)
    python bench/bench.py --quick    # fewer repetitions and sizes
"""
import argparse
import os
import platform
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

import fastconv
from fastconv import _runtime
from fastconv._scene import test_scene

try:
    import cv2
except ImportError:
    sys.exit("bench needs OpenCV: pip install opencv-python-headless")
try:
    import scipy
    from scipy import ndimage
except ImportError:
    scipy = ndimage = None

HERE = Path(__file__).resolve().parent
CORES = fastconv.get_threads()
REPLICATE = cv2.BORDER_REPLICATE


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def interleaved(contenders, repeat):
    """Median seconds of each contender over `repeat` rounds; each round runs every contender in turn.

    Within its turn a contender runs twice and the second call is timed: the first absorbs what the previous
    contender left behind (thread pools still spinning on the cores, caches), so one library's idle threads are
    never timed against the other. A warm-up of at least 100 ms per contender (or one call, if longer) comes
    first: the first calls after an idle spell also wake the thread pools and the virtual CPUs they run on.
    """
    for fn in contenders.values():
        start, calls = time.perf_counter(), 0
        while calls == 0 or (time.perf_counter() - start < 0.1 and calls < 200):
            fn()
            calls += 1
    times = {name: [] for name in contenders}
    for _ in range(repeat):
        for name, fn in contenders.items():
            fn()
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}


def tutorial_loop(image, K):
    """The tutorial's algorithm as it is: replicate padding, a Python loop over pixels, clip and truncate."""
    kh, kw = K.shape
    padded = np.pad(image, ((kh // 2, kh - 1 - kh // 2), (kw // 2, kw - 1 - kw // 2)), mode="edge")
    out = np.zeros(image.shape, dtype=np.float64)
    for y in range(image.shape[0]):
        for x in range(image.shape[1]):
            out[y, x] = (padded[y:y + kh, x:x + kw] * K).sum()
    return np.clip(out, 0, 255).astype(np.uint8)


def random_kernel(kh, kw, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (kh, kw))


def gaussian_1d(size, sigma):
    g = cv2.getGaussianKernel(size, sigma, ktype=cv2.CV_64F)
    return g, g


def ours(image, K, threads, **kw):
    return lambda: fastconv.convolve(image, K, output="round", threads=threads, **kw)


def theirs(image, K):
    return lambda: cv2.filter2D(image, -1, K, borderType=REPLICATE)


def set_threads(threads):
    cv2.setNumThreads(threads)


class Report:
    def __init__(self):
        self.lines = []

    def add(self, text=""):
        print(text, flush=True)
        self.lines.append(text)

    def table(self, header, rows):
        self.add("| " + " | ".join(header) + " |")
        self.add("|" + "|".join("---" for _ in header) + "|")
        for row in rows:
            self.add("| " + " | ".join(str(c) for c in row) + " |")
        self.add()


def ms(t):
    return f"{1e3 * t:.2f}" if t < 1 else f"{1e3 * t:.0f}"


def goals(report, image, repeat):
    """The performance goals at 1080p, uint8 -> uint8, replicated border, at 1 thread and at all cores."""
    bank = fastconv.kernels.tutorial_bank()
    gauss9 = fastconv.kernels.gaussian(9, 2.0)
    sobel_kx, sobel_ky = cv2.getDerivKernels(1, 0, 3, ktype=cv2.CV_64F)
    gx, gy = gaussian_1d(9, 2.0)
    rows = []
    for threads in sorted({1, CORES}):
        set_threads(threads)
        cases = []
        for name in ("sharpen", "laplacian", "sobel_x", "sobel_y", "emboss"):
            cases.append((f"3x3 {name}", bank[name], {"cv2.filter2D": theirs(image, bank[name])}, 0.8))
        for size, goal in ((7, 0.6), (21, 0.5)):
            K = random_kernel(size, size)
            cases.append((f"random {size}x{size}", K, {"cv2.filter2D": theirs(image, K)}, goal))
        for name, size, goal in (("small_blur", 7, 0.25), ("large_blur", 21, 0.06)):
            K = bank[name]
            cases.append((name, K, {"cv2.filter2D": theirs(image, K),
                                    "cv2.blur": lambda s=size: cv2.blur(image, (s, s), borderType=REPLICATE)},
                          (goal, 1.0)))
        cases.append(("gaussian 9x9 (rank 1)", gauss9,
                      {"cv2.sepFilter2D": lambda: cv2.sepFilter2D(image, -1, gx, gy, borderType=REPLICATE)}, 1.0))
        cases.append(("sobel_x (rank 1)", bank["sobel_x"],
                      {"cv2.sepFilter2D": lambda: cv2.sepFilter2D(image, -1, sobel_kx, sobel_ky,
                                                                  borderType=REPLICATE)}, 1.0))
        for label, K, peers, goal in cases:
            t = interleaved({"fastconv": ours(image, K, threads), **peers}, repeat)
            goal_list = goal if isinstance(goal, tuple) else (goal,)
            for (peer, t_peer), g in zip(peers.items(), goal_list):
                ratio = t["fastconv"] / t[peer]
                rows.append((threads, label, fastconv.explain(image, K, output="round").path,
                             ms(t["fastconv"]), peer, ms(t[peer]), f"{ratio:.3f}", f"<= {g}",
                             "met" if ratio <= g else "**not met**"))
    report.add("## Goals: 1080x1920 uint8 -> uint8, replicated border")
    report.add()
    report.table(["threads", "case", "fastconv path", "fastconv ms", "peer", "peer ms", "ratio", "goal", ""],
                 rows)


def ndimage_ratios(report, image, repeat):
    """Any kernel <= 0.05 x scipy.ndimage.correlate (1 thread; ndimage has no threads)."""
    if ndimage is None:
        return
    set_threads(1)
    rows = []
    kernels = dict(fastconv.kernels.tutorial_bank())
    kernels.update({f"random {s}x{s}": random_kernel(s, s) for s in (5, 11)})
    for name, K in kernels.items():
        t = interleaved({"fastconv": ours(image, K, 1),
                         "ndimage": lambda K=K: ndimage.correlate(image, K, mode="nearest")}, repeat)
        ratio = t["fastconv"] / t["ndimage"]
        rows.append((name, ms(t["fastconv"]), ms(t["ndimage"]), f"{ratio:.4f}",
                     "met" if ratio <= 0.05 else "**not met**"))
    report.add("## Against scipy.ndimage.correlate: 1080x1920 uint8, 1 thread (goal <= 0.05)")
    report.add()
    report.table(["kernel", "fastconv ms", "ndimage ms", "ratio", ""], rows)


def kernel_sizes(report, image, repeat, sizes):
    """Time against kernel size (square random dense), both thread counts, and the plot."""
    series = {}
    rows = []
    for threads in sorted({1, CORES}):
        set_threads(threads)
        for s in sizes:
            K = random_kernel(s, s, seed=s)
            t = interleaved({"fastconv": ours(image, K, threads), "cv2.filter2D": theirs(image, K)}, repeat)
            series.setdefault(("fastconv", threads), []).append(t["fastconv"])
            series.setdefault(("cv2.filter2D", threads), []).append(t["cv2.filter2D"])
            rows.append((threads, f"{s}x{s}", ms(t["fastconv"]), ms(t["cv2.filter2D"]),
                         f"{t['fastconv'] / t['cv2.filter2D']:.3f}"))
        # cv2's cliff: 11x11 (121 taps, spatial) against 11x12 (132 taps, DFT)
        for kh, kw in ((11, 11), (11, 12)):
            K = random_kernel(kh, kw, seed=99)
            t = interleaved({"fastconv": ours(image, K, threads), "cv2.filter2D": theirs(image, K)}, repeat)
            rows.append((threads, f"{kh}x{kw}", ms(t["fastconv"]), ms(t["cv2.filter2D"]),
                         f"{t['fastconv'] / t['cv2.filter2D']:.3f}"))
    nd = []
    if ndimage is not None:
        for s in sizes[: max(1, len(sizes) // 2)]:
            K = random_kernel(s, s, seed=s)
            nd.append(interleaved({"nd": lambda K=K: ndimage.correlate(image, K, mode="nearest")}, 1)["nd"])
    report.add("## Kernel size: 1080x1920 uint8 -> uint8, random dense kernels")
    report.add()
    report.table(["threads", "kernel", "fastconv ms", "cv2.filter2D ms", "ratio"], rows)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        report.add("(matplotlib is not installed: no plot)")
        return
    fig, ax = plt.subplots(figsize=(8, 5))
    for (name, threads), values in series.items():
        ax.plot(sizes, [1e3 * v for v in values], marker="o" if name == "fastconv" else "s",
                linestyle="-" if name == "fastconv" else "--", label=f"{name}, {threads} thread(s)")
    if nd:
        ax.plot(sizes[:len(nd)], [1e3 * v for v in nd], marker="^", linestyle=":",
                label="scipy.ndimage.correlate, 1 thread")
    ax.set_yscale("log")
    ax.set_xlabel("kernel size (k x k, random dense)")
    ax.set_ylabel("time per 1080x1920 uint8 image (ms, log scale)")
    ax.set_title(f"fastconv {fastconv.__version__} ({fastconv.config()['simd_variant']}) vs peers")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(HERE / "kernel_sizes.png", dpi=110)
    report.add("![time against kernel size](kernel_sizes.png)")
    report.add()


def image_sizes(report, repeat, sizes):
    rows = []
    set_threads(CORES)
    for h, w in sizes:
        image = test_scene(h, w)
        r = max(3, int(repeat * min(1.0, 2e6 / image.size)))
        for name, K in fastconv.kernels.tutorial_bank().items():
            t = interleaved({"fastconv": ours(image, K, CORES), "cv2.filter2D": theirs(image, K)}, r)
            rows.append((f"{h}x{w}", name, ms(t["fastconv"]), ms(t["cv2.filter2D"]),
                         f"{t['fastconv'] / t['cv2.filter2D']:.3f}"))
    report.add(f"## Image sizes: the tutorial's bank, uint8 -> uint8, {CORES} threads")
    report.add()
    report.table(["image", "kernel", "fastconv ms", "cv2.filter2D ms", "ratio"], rows)


def float_outputs(report, image, repeat):
    """float32 output: the peer is the faster of cv2's 8U -> 32F path and filtering a float32 copy."""
    rows = []
    image32 = image.astype(np.float32)
    for threads in sorted({1, CORES}):
        set_threads(threads)
        for name, K in (("sharpen", fastconv.kernels.sharpen()), ("random 7x7", random_kernel(7, 7)),
                        ("random 15x15", random_kernel(15, 15)), ("gaussian 9x9", fastconv.kernels.gaussian(9, 2))):
            t = interleaved({
                "fastconv u8": lambda K=K: fastconv.convolve(image, K, output="float", threads=threads),
                "fastconv f32": lambda K=K: fastconv.convolve(image32, K, output="float", threads=threads),
                "cv2 8U->32F": lambda K=K: cv2.filter2D(image, cv2.CV_32F, K, borderType=REPLICATE),
                "cv2 astype f32": lambda K=K: cv2.filter2D(image.astype(np.float32), -1, K, borderType=REPLICATE),
                "cv2 f32": lambda K=K: cv2.filter2D(image32, -1, K, borderType=REPLICATE),
            }, repeat)
            peer = min(t["cv2 8U->32F"], t["cv2 astype f32"])
            ratio = t["fastconv u8"] / peer
            rows.append((threads, name, ms(t["fastconv u8"]), ms(t["cv2 8U->32F"]), ms(t["cv2 astype f32"]),
                         f"{ratio:.3f}", "met" if ratio <= 1.0 else "**not met**", ms(t["fastconv f32"]),
                         ms(t["cv2 f32"]), f"{t['fastconv f32'] / t['cv2 f32']:.3f}"))
    report.add("## float32 outputs, 1080x1920 (goal: uint8 -> float32 <= 1.0 x the faster cv2 route)")
    report.add()
    report.table(["threads", "kernel", "fastconv u8->f32 ms", "cv2 8U->32F ms", "cv2 astype+f32 ms", "ratio", "",
                  "fastconv f32->f32 ms", "cv2 f32->f32 ms", "ratio f32"], rows)


def threads_scaling(report, image, repeat):
    rows = []
    if CORES < 2:
        return
    for name, K in (("sharpen", fastconv.kernels.sharpen()), ("random 7x7", random_kernel(7, 7)),
                    ("random 21x21", random_kernel(21, 21)), ("gaussian 9x9", fastconv.kernels.gaussian(9, 2)),
                    ("large_blur", fastconv.kernels.large_blur())):
        # short calls (0.2-0.3 ms at two threads) feel every hiccup of a shared machine: three times the rounds
        t = interleaved({"1": ours(image, K, 1), "all": ours(image, K, CORES)}, 3 * repeat)
        speedup = t["1"] / t["all"]
        rows.append((name, ms(t["1"]), ms(t["all"]), f"{speedup:.2f}x",
                     "met" if speedup >= 1.8 else "**not met**"))
    report.add(f"## Threads: 1 -> {CORES} at 1080p (goal >= 1.8x throughput; medians of {3 * repeat} rounds)")
    report.add()
    report.table(["kernel", "1 thread ms", f"{CORES} threads ms", "speed-up", ""], rows)


def memory(report, sizes):
    """Peak allocation during one call beyond the output array, against the input's bytes: what tracemalloc sees
    (numpy's and Python's allocations) plus the thread pool's per-thread scratch buffers at their most (malloc'd in
    C, where tracemalloc does not look: fastconv._runtime.stats counts them)."""
    rows = []
    for h, w in sizes:
        image = test_scene(h, w)
        for name, K in (("sharpen", fastconv.kernels.sharpen()), ("random 21x21", random_kernel(21, 21)),
                        ("random 31x31", random_kernel(31, 31)), ("gaussian 9x9", fastconv.kernels.gaussian(9, 2)),
                        ("large_blur", fastconv.kernels.large_blur())):
            fastconv.convolve(image, K, output="round")       # plans and caches first
            _runtime.stats(reset_peak=True)
            tracemalloc.start()
            out = fastconv.convolve(image, K, output="round")
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            scratch = _runtime.stats()["scratch_peak"]
            extra = peak - out.nbytes + scratch
            share = extra / image.nbytes
            rows.append((f"{h}x{w}", name, f"{extra / 1024:.0f} KiB", f"{100 * share:.1f}%",
                         "met" if share <= 0.25 else "**not met**"))
    report.add(f"## Memory: peak allocation beyond the output, {CORES} threads (goal <= 25% of the input)")
    report.add()
    report.table(["image", "kernel", "extra", "of input bytes", ""], rows)


def tutorial(report, image):
    crop = image[:48, :48]
    rows = []
    for name, K in fastconv.kernels.tutorial_bank().items():
        t0 = time.perf_counter()
        tutorial_loop(crop, K)
        per_image = (time.perf_counter() - t0) * image.size / crop.size
        t = interleaved({"fastconv": ours(image, K, CORES)}, 5)["fastconv"]
        rows.append((name, f"{per_image:.1f} s", ms(t), f"{per_image / t:,.0f}x"))
    report.add("## The tutorial's Python loop (timed on a 48x48 crop, scaled to 1080x1920)")
    report.add()
    report.table(["kernel", "tutorial loop", "fastconv ms", "speed-up"], rows)


def fold_in(report):
    """Append the tables the other bench scripts wrote (bench/results_*.md: dask scaling, Python threads), each
    from that script's own run, so bench/results.md holds every measurement."""
    for fragment in sorted(HERE.glob("results_*.md")):
        report.add(f"<!-- from bench/{fragment.name}, written by its own script -->")
        for line in fragment.read_text().rstrip("\n").split("\n"):
            report.add(line)
        report.add()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and sizes")
    parser.add_argument("--out", default=str(HERE / "results.md"), help="markdown file to write")
    args = parser.parse_args(argv)
    repeat = 5 if args.quick else 11
    cfg = fastconv.config()
    report = Report()
    report.add("# fastconv benchmark")
    report.add()
    report.add(f"- machine: {cpu_model()}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.machine()}")
    report.add(f"- fastconv {cfg['fastconv']}, SIMD variant `{cfg['simd_variant']}` (available: "
               f"{', '.join(cfg['simd_variants_available'])}), {cfg['threads']} threads, paths "
               f"{', '.join(cfg['paths'])}")
    report.add(f"- python {platform.python_version()}, numpy {np.__version__}, opencv {cv2.__version__}"
               + (f", scipy {scipy.__version__}" if scipy else ""))
    report.add(f"- medians of {repeat} interleaved runs; fastconv output='round' (cv2's rounding); ratio = "
               "fastconv time / peer time, below 1 is faster; the same thread count for both")
    report.add(f"- date: {time.strftime('%Y-%m-%d')}")
    report.add()
    image = test_scene(1080, 1920)
    goals(report, image, repeat)
    ndimage_ratios(report, image, max(3, repeat // 3))
    threads_scaling(report, image, repeat)
    float_outputs(report, image, repeat)
    sizes = [3, 5, 7, 9, 11, 15, 21, 25, 31] if not args.quick else [3, 7, 15, 31]
    kernel_sizes(report, image, max(3, repeat // 2), sizes)
    image_sizes(report, repeat, [(256, 256), (1080, 1920), (2160, 3840)] if not args.quick else [(256, 256)])
    memory(report, [(1080, 1920), (2160, 3840)])
    tutorial(report, image)
    fold_in(report)
    Path(args.out).write_text("\n".join(report.lines) + "\n")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

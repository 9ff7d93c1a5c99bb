"""Scaling benchmark: a 20000 x 20000 uint8 image through dask, fastconv.dask against dask-image, writes
bench/results_dask.md.

Both contenders filter the same lazily generated image (each block a seeded random tile, rolled by its block
index, so the whole image never exists in memory), with the same chunks and the same scheduler (dask's threads,
2 workers), the replicated border (dask-image: mode='nearest'); each output block is reduced to its sum as soon as
it is computed, so the timings cover generating, filtering and reading every block. Each contender runs in a
fresh process, so its peak resident memory (the kernel's high-water mark, VmHWM) is its own; the tables report
the median of the timed runs. A second table checks, on a crop, that the two agree where they should (the exact
sum within 0..255, where dask-image's unsaturated uint8 output is defined); a third compares every border on a
small image with the whole-image references (fastconv in memory, scipy.ndimage).

    python bench/bench_dask.py                 # the full run (20000 x 20000, several minutes)
    python bench/bench_dask.py --size 4096     # a quick look
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
WORKERS = 2


def kernels():
    rng = np.random.default_rng(7)
    return {
        "3x3 sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=np.float64),
        "7x7 box": np.ones((7, 7)) / 49,
        "random 7x7": rng.random((7, 7)) / 12,
    }


def lazy_image(size, chunk):
    """A size x size uint8 dask array whose blocks are a random tile rolled by their block index."""
    import dask.array as da

    tile = np.random.default_rng(0).integers(0, 256, (chunk, chunk), dtype=np.uint8)

    def block(zeros, block_info=None):
        i, j = block_info[0]["chunk-location"]
        h, w = zeros.shape
        return np.roll(tile, (97 * i + 13 * j, 31 * i + 89 * j), axis=(0, 1))[:h, :w]

    return da.zeros((size, size), dtype=np.uint8, chunks=chunk).map_blocks(block, dtype=np.uint8)


def filtered(contender, image, kernel):
    if contender == "fastconv.dask":
        import fastconv.dask
        return fastconv.dask.convolve(image, kernel, border="replicate")
    from dask_image import ndfilters
    return ndfilters.correlate(image, kernel, mode="nearest")


def block_sums(result):
    return result.map_blocks(lambda b: np.full((1, 1), b.sum(dtype=np.uint64)), chunks=(1, 1), dtype=np.uint64)


def rss_mib(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def child(contender, kernel_name, size, chunk, repeat):
    """One contender in this fresh process: median seconds, memory before and at peak, block sums."""
    import dask

    kernel = kernels()[kernel_name]
    with dask.config.set(scheduler="threads", num_workers=WORKERS):
        block_sums(filtered(contender, lazy_image(2 * chunk, chunk), kernel)).compute()    # imports, plans
        sums = block_sums(filtered(contender, lazy_image(size, chunk), kernel))
        before = rss_mib("VmRSS")
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            total = sums.compute()
            times.append(time.perf_counter() - start)
    return {"seconds": statistics.median(times), "times": times, "before_mib": before,
            "peak_mib": rss_mib("VmHWM"), "checksum": int(total.sum())}


def run_child(contender, kernel_name, size, chunk, repeat):
    command = [sys.executable, __file__, "--child", contender, "--kernel", kernel_name, "--size", str(size),
               "--chunk", str(chunk), "--repeat", str(repeat)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def agreement(kernel, size, chunk):
    """(pixels compared, pixels that differ, largest difference) between the two contenders on a crop, where the
    exact float64 sum lies within 0..255."""
    import dask
    from scipy import ndimage

    with dask.config.set(scheduler="threads", num_workers=WORKERS):
        image = lazy_image(size, chunk)
        ours = filtered("fastconv.dask", image, kernel).compute()
        theirs = filtered("dask-image", image, kernel).compute()
        exact = ndimage.correlate(image.compute().astype(np.float64), kernel, mode="nearest")
    defined = (exact >= 0) & (exact < 256)
    diff = np.abs(ours[defined].astype(int) - theirs[defined].astype(int))
    return int(defined.sum()), int(np.count_nonzero(diff)), int(diff.max(initial=0))


def borders():
    """Rows of (border, kernel, chunks, fastconv.dask pixels differing from fastconv in memory, dask-image pixels
    differing from scipy.ndimage by more than 1e-9) on a small float64 image."""
    import dask
    import dask.array as da
    from dask_image import ndfilters
    from scipy import ndimage

    import fastconv
    import fastconv.dask

    modes = {"replicate": "nearest", "reflect": "reflect", "reflect101": "mirror", "wrap": "wrap",
             "constant": "constant"}
    rng = np.random.default_rng(1)
    image = rng.standard_normal((600, 500))
    rows = []
    with dask.config.set(scheduler="threads", num_workers=WORKERS):
        for kshape, chunks in [((7, 7), 128), ((41, 41), 16)]:
            kernel = rng.standard_normal(kshape)
            x = da.from_array(image, chunks=chunks)
            for border, mode in modes.items():
                ours = fastconv.dask.convolve(x, kernel, border=border, output="float").compute()
                mine = np.count_nonzero(ours != fastconv.convolve(image, kernel, border=border, output="float"))
                theirs = ndfilters.correlate(x, kernel, mode=mode).compute()
                peer = np.count_nonzero(np.abs(theirs - ndimage.correlate(image, kernel, mode=mode)) > 1e-9)
                rows.append((border, f"{kshape[0]}x{kshape[1]}", chunks, mine, peer))
    return rows


def versions():
    import fastconv
    variant = fastconv.config()["simd_variant"]
    others = ", ".join(f"{name} {metadata.version(name)}" for name in ("dask", "dask-image", "scipy", "numpy"))
    return f"fastconv {fastconv.__version__} (SIMD variant `{variant}`), {others}, python {platform.python_version()}"



def cpu_model():
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def report(size, chunk, repeat, timings, agreements, border_rows):
    gib = size * size / 2**30
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    lines = [
        "# fastconv.dask against dask-image: a large image through dask",
        "",
        (f"- image: {size} x {size} uint8 ({gib:.2f} GiB), chunks {chunk} x {chunk}, generated block by block; "
         "each output block reduced to its sum"),
        (f"- scheduler: dask threads, {WORKERS} workers, for both; fastconv one thread per block; replicated border "
         "(dask-image mode='nearest'); fastconv output 'floor' (clip, round down), dask-image scipy.ndimage's uint8"),
        f"- machine: {cpu_model()}, {os.cpu_count()} logical CPUs, {memory:.0f} GiB",
        f"- {versions()}",
        (f"- time: median of {repeat} runs in a fresh process per contender; memory: resident set before computing "
         "(imports and graph) and its peak (VmHWM)"),
        f"- date: {time.strftime('%Y-%m-%d')}",
        "",
        "| kernel | contender | seconds | Mpixel/s | RSS before MiB | peak RSS MiB | time ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, runs in timings.items():
        ours = runs["fastconv.dask"]["seconds"]
        for contender, run in runs.items():
            ratio = f"{ours / run['seconds']:.3f}" if contender != "fastconv.dask" else ""
            lines.append(f"| {name} | {contender} | {run['seconds']:.2f} | {size * size / run['seconds'] / 1e6:.0f} "
                         f"| {run['before_mib']:.0f} | {run['peak_mib']:.0f} | {ratio} |")
    lines += ["", "Time ratio = fastconv.dask time / dask-image time: below 1, fastconv.dask is faster.", "",
              "Agreement on a crop (same generator and chunks), where the exact sum lies within 0..255:", "",
              "| kernel | pixels compared | pixels differing | largest difference |", "|---|---|---|---|"]
    for name, (compared, differ, largest) in agreements.items():
        lines.append(f"| {name} | {compared} | {differ} | {largest} |")
    lines += ["", ("Every border on a 600 x 500 float64 image: pixels where fastconv.dask differs from fastconv in "
                   "memory at all, and where dask-image differs from scipy.ndimage on the whole image by more than "
                   "1e-9:"),
              "", "| border | kernel | chunks | fastconv.dask vs in memory | dask-image vs scipy.ndimage |",
              "|---|---|---|---|---|"]
    for border, kernel, chunks, mine, peer in border_rows:
        lines.append(f"| {border} | {kernel} | {chunks} | {mine} | {peer} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=20000)
    parser.add_argument("--chunk", type=int, default=2048)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--crop", type=int, default=4096, help="side of the image the agreement is checked on")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--kernel", help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, default=HERE / "results_dask.md")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.kernel, args.size, args.chunk, args.repeat)))
        return
    timings, agreements = {}, {}
    for name, kernel in kernels().items():
        timings[name] = {c: run_child(c, name, args.size, args.chunk, args.repeat)
                         for c in ("fastconv.dask", "dask-image")}
        agreements[name] = agreement(kernel, min(args.crop, args.size), args.chunk)
        print(name, {c: round(r["seconds"], 2) for c, r in timings[name].items()}, flush=True)
    text = report(args.size, args.chunk, args.repeat, timings, agreements, borders())
    args.output.write_text(text)
    print(text)


if __name__ == "__main__":
    main()

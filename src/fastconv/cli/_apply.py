"""``fastconv apply``: filter image files and folders into an output folder, in parallel, with progress."""
import os
import re
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed

import numpy as np

import fastconv
from fastconv._runtime import available_cores
from fastconv.cli import _images
from fastconv.cli._common import INTERRUPTED, CommandError, require_cv2, stop_at_next_interrupt

PROGRESS_FROM = 10  # files; fewer finish too soon for a progress bar to help
_TIFF = (".tif", ".tiff")


def output_dtype(dtype, policy):
    """The pixel type `fastconv apply` writes for `dtype` pixels: the input's depth, float32 for 'float'."""
    dtype = np.dtype(dtype)
    if policy == "float":
        return np.dtype(np.float32)
    if policy == "stretch":
        return np.dtype(np.uint8 if dtype == np.uint8 else np.uint16)
    if dtype.kind == "f":
        raise _images.ImageError(f"a {dtype} image has no integer range to {policy}: use --output-policy float "
                                 "(float32 TIFF) or stretch")
    return dtype


def filter_image(image, kernel, border, policy, threads=None):
    """`image` as `fastconv apply` filters it: every colour channel with `kernel`, the alpha channel copied.

    Images with 2 or 4 channels (gray + alpha, BGRA) keep their last channel unfiltered: filtering transparency
    with an edge or sharpening kernel would punch holes into it. The result is ``fastconv.convolve(colour, kernel,
    border=border, output=policy, dtype=output_dtype(...))`` with the alpha channel stacked back on.
    """
    dtype = output_dtype(image.dtype, policy)
    has_alpha = image.ndim == 3 and image.shape[2] in (2, 4)
    colour = image[..., :-1] if has_alpha else image
    result = fastconv.convolve(colour, kernel, border=border, output=policy, dtype=dtype, threads=threads)
    if not has_alpha:
        return result
    return np.concatenate([result.reshape(colour.shape), image[..., -1:].astype(dtype)], axis=2)


def plan(inputs, outdir, fmt, overwrite=False, names=None):
    """(source, destinations) for every image in `inputs`, checked before anything is written: one destination,
    or with kernel `names` one per kernel (NAME.KERNEL.EXT).

    A file lands in `outdir` under its name; a folder's images (searched recursively by suffix) under their path
    inside it. A file named more than once (again, inside a folder also given, or spelled another way) is filtered
    once, where it is first named. `fmt` (a suffix without the dot, or None to keep each file's) sets the
    destinations' suffix. Folders inside `outdir` are not searched, so outputs are never read as inputs.
    Destinations that exist already are refused unless `overwrite`; those that are this run's inputs always; so is
    an `outdir` that is a file or looks like an image's name.
    """
    _check_outdir(outdir)
    out_root = os.path.realpath(outdir)
    pairs, seen = [], set()
    for given in inputs:
        if os.path.isdir(given):
            if os.path.realpath(given) == out_root:
                raise CommandError(f"-o {outdir!r} is the INPUT folder {given!r}: the outputs would overwrite or mix "
                                   f"with the inputs; choose another folder")
            found = [(src, os.path.join(outdir, os.path.relpath(src, given))) for src in _images_in(given, out_root)]
        elif os.path.isfile(given):
            found = [(given, os.path.join(outdir, os.path.basename(given)))]
        else:
            raise CommandError(f"INPUT {given!r} does not exist")
        for src, dst in found:
            real = os.path.realpath(src)
            if real not in seen:
                seen.add(real)
                pairs.append((src, dst))
    if not pairs:
        raise CommandError(f"no image files ({', '.join(_images.SUFFIXES)}) found in {', '.join(inputs)}")
    if fmt is not None:
        pairs = [(src, os.path.splitext(dst)[0] + "." + fmt) for src, dst in pairs]
    if names is None:
        pairs = [(src, [dst]) for src, dst in pairs]
    else:
        pairs = [(src, [f"{os.path.splitext(dst)[0]}.{name}{os.path.splitext(dst)[1]}" for name in names])
                 for src, dst in pairs]
    _check_destinations([(src, dst) for src, dsts in pairs for dst in dsts], overwrite)
    return pairs


def _check_outdir(outdir):
    """Refuse an -o that is a file, or names one by an image suffix: -o takes the folder the outputs go into."""
    if os.path.isdir(outdir):
        return
    if os.path.lexists(outdir):
        what = "is a file"
    elif outdir.lower().endswith(_images.SUFFIXES):
        what = "looks like an image file's name (end it with / if it is meant as a folder)"
    else:
        return
    raise CommandError(f"-o takes a folder, in which each output keeps its input's name; {outdir!r} {what}")


def _inside(path, folder):
    """Whether real path `path` is `folder` or lies somewhere below it."""
    return os.path.commonpath([path, folder]) == folder


def _images_in(folder, out_root):
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not _inside(os.path.realpath(os.path.join(root, d)), out_root))
        yield from (os.path.join(root, f) for f in sorted(files) if f.lower().endswith(_images.SUFFIXES))


def _check_destinations(pairs, overwrite):
    sources = {os.path.realpath(src): src for src, _ in pairs}
    seen = {}
    for src, dst in pairs:
        real = os.path.realpath(dst)
        if real in sources:
            raise CommandError(f"{src!r} would be written over the input {sources[real]!r}: choose another -o")
        if real in seen:
            raise CommandError(f"{seen[real]!r} and {src!r} would both be written to {dst!r}: filter them in separate "
                               f"runs or into separate folders")
        seen[real] = src
    existing = [dst for _, dst in pairs if os.path.lexists(dst)]
    if existing and not overwrite:
        raise CommandError(f"{len(existing)} of the outputs exist already (e.g. {existing[0]!r}): add --overwrite to "
                           f"replace them, or choose another -o")


def kernel_names(specs):
    """The name each kernel's outputs carry when several are given: a kernel name with ':' as '-' (gaussian:7:1.5
    -> gaussian-7-1.5), a file's stem, else k<position> (1-based); a name given twice gets its position too."""
    names = []
    for i, spec in enumerate(specs, start=1):
        text = os.fspath(spec)
        if os.path.isfile(text):
            name = os.path.splitext(os.path.basename(text))[0]
        elif re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*(:[0-9.eE+-]+)*", text.strip()):
            name = text.strip().replace(":", "-")
        else:
            name = f"k{i}"
        names.append(name if name not in names else f"{name}-k{i}")
    return names


def run(bank, inputs, outdir, border, policy, fmt, jobs, quiet, overwrite):
    """Filter every image in `inputs` with every kernel of `bank` ((spec, kernel) pairs) into `outdir`; 0 if all
    were written, 1 if any failed (each one warned). With one kernel each output keeps its input's name; with
    several each image gives one file per kernel, NAME.KERNEL.EXT (`kernel_names`)."""
    cv2 = require_cv2("apply")
    if jobs is not None and jobs < 1:
        raise CommandError(f"--jobs must be a positive int; got {jobs}")
    names = kernel_names([spec for spec, _ in bank]) if len(bank) > 1 else None
    kernels = [kernel for _, kernel in bank]
    pairs = plan(inputs, outdir, fmt, overwrite, names)
    not_tiff = [dst for _, dsts in pairs for dst in dsts if not dst.lower().endswith(_TIFF)]
    if policy == "float" and not_tiff:
        raise CommandError(f"--output-policy float writes float32 pixels, which only TIFF stores ({not_tiff[0]!r} "
                           f"is not a TIFF): add --format tiff")
    jobs = min(jobs or available_cores(), len(pairs))
    threads = 1 if jobs > 1 else None  # several files at once: one core each; one file: every core on it

    def one(src, dsts):
        image = _images.read(cv2, src)
        for kernel, dst in zip(kernels, dsts):
            _images.write(cv2, dst, filter_image(image, kernel, border, policy, threads))

    failed = 0
    with _images.quiet_decoders(cv2):    # a damaged file gets our one-line warning, not libpng's or OpenCV's
        progress = Progress(len(pairs), sys.stderr, enabled=not quiet and len(pairs) >= PROGRESS_FROM)
        pool, futures = ThreadPoolExecutor(max_workers=jobs), {}
        try:
            futures = {pool.submit(one, src, dsts): src for src, dsts in pairs}
            for done, future in enumerate(as_completed(futures), start=1):
                try:
                    future.result()
                except (_images.ImageError, ValueError, TypeError) as e:
                    failed += 1
                    progress.warn(f"fastconv apply: warning: skipped {futures[future]}: {e}")
                progress.update(done)
        except KeyboardInterrupt:
            # Ctrl-C: start no more files, let those being filtered finish (a file half written is worse than a
            # second's wait), then end with 130; a second Ctrl-C ends the process at once.
            stop_at_next_interrupt("apply", "the images being written may be incomplete")
            progress.warn("fastconv apply: interrupted: finishing the images being filtered (Ctrl-C again to stop "
                          "at once)")
            pool.shutdown(wait=True, cancel_futures=True)
            written = sum(1 for f in futures if f.done() and not f.cancelled() and f.exception() is None)
            raise CommandError(f"interrupted: {written} of {len(pairs)} images written into "
                               f"{os.path.abspath(outdir)}, the others not", code=INTERRUPTED) from None
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    written = len(pairs) - failed
    print(f"Filtered {written} of {len(pairs)} images into {os.path.abspath(outdir)}"
          + (f"; {failed} failed (see the warnings above)" if failed else ""))
    return 1 if failed else 0


class Progress:
    """A progress bar on `stream`: redrawn in place on a terminal, a line every tenth of the way otherwise."""

    WIDTH = 30

    def __init__(self, total, stream, enabled):
        self.total, self.stream, self.enabled = total, stream, enabled
        self.tty = enabled and stream.isatty()
        self.tenths = 0

    def update(self, done):
        if not self.enabled:
            return
        filled = self.WIDTH * done // self.total
        line = f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {done}/{self.total} images"
        if self.tty:
            self.stream.write("\r" + line + ("\n" if done == self.total else ""))
        elif 10 * done // self.total > self.tenths:
            self.tenths = 10 * done // self.total
            self.stream.write(line + "\n")
        self.stream.flush()

    def warn(self, message):
        """Print `message` on its own line (clearing a bar drawn in place)."""
        self.stream.write(("\r\x1b[K" if self.tty else "") + message + "\n")
        self.stream.flush()

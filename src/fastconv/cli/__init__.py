"""The ``fastconv`` command line (also ``python -m fastconv``): demo, apply, kernels, bench.

``fastconv`` without a command prints this help. Commands that read or write images need OpenCV (the ``opencv``
extra); ``--help``, ``--version``, ``kernels`` and ``bench`` work without it.
"""
import argparse
import math
import os
import signal
import sys
import textwrap
import threading

import numpy as np

from fastconv import kernels
from fastconv._border import BORDERS
from fastconv._output import OUTPUTS
from fastconv._version import __version__
from fastconv.cli import _apply, _bench, _demo
from fastconv.cli._common import INTERRUPTED, CommandError
from fastconv.cli._images import SUFFIXES

__all__ = ["main"]

_SPEC_HELP = """\
SPEC is one of
  a kernel name        sharpen, laplacian, emboss, ... or gaussian:7:1.5, box:5, sobel:1:0:5
                       ('fastconv kernels' lists them)
  a file               kernel.npy (a 2-D array), kernel.txt or kernel.csv (one row per line,
                       values separated by commas or spaces)
  inline rows          "0,-1,0;-1,5,-1;0,-1,0" (values separated by commas, rows by semicolons;
                       quote them for the shell; a leading minus sign is fine: -k "-1,0,1")"""


def _parser():
    parser = argparse.ArgumentParser(
        prog="fastconv", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Filter images with 2-D kernels (cross-correlation, as cv2.filter2D) on a compiled, "
                    "multi-threaded core. Without a command, print this help.",
        epilog="examples:\n  fastconv demo                                 # the seven kernels on a photograph\n"
               "  fastconv apply --kernel sharpen photos -o sharp # a whole folder\n"
               "  fastconv kernels                              # the kernel bank\n"
               "  fastconv COMMAND --help                       # a command's options")
    parser.add_argument("--version", action="version", version=f"fastconv {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    _add_demo(commands)
    _add_apply(commands)
    _add_kernels(commands)
    _add_bench(commands)
    return parser


def _command(commands, name, summary, description, examples, spec_help=False):
    """A subcommand whose help shows `description` wrapped into paragraphs, the SPEC syntax, then `examples`."""
    text = "\n\n".join(textwrap.fill(paragraph, 100) for paragraph in description.split("\n\n"))
    return commands.add_parser(name, help=summary, description=text + ("\n\n" + _SPEC_HELP if spec_help else ""),
                               epilog="examples:\n" + examples, formatter_class=argparse.RawDescriptionHelpFormatter)


def _add_demo(commands):
    demo = _command(
        commands, "demo", "the tutorial's seven kernels on a photograph: montages and a timing table",
        "Filter a photograph (by default the bundled NASA portrait of Eileen Collins, public domain), read as "
        "8-bit grayscale (OpenCV's IMREAD_GRAYSCALE) as the tutorial filters it, with the seven kernels of the "
        "bank. For each kernel write a "
        "montage original | fastconv | cv2.filter2D (1-small_blur.png ... 7-emboss.png), then overview.png with "
        "all of them, and print a table: agreement with cv2.filter2D (both round and replicate the border), "
        "fastconv and cv2 times, speed-up. Needs OpenCV.",
        "  fastconv demo\n  fastconv demo --image holiday.jpg --out demo-holiday")
    demo.add_argument("--image", metavar="PATH", help="image to filter instead of the bundled photograph")
    demo.add_argument("--out", metavar="DIR", default="fastconv-demo",
                      help="folder for the PNGs, created if needed (default: ./fastconv-demo)")
    demo.add_argument("--repeat", type=int, default=5, help="timed runs per kernel, median reported (default 5)")
    demo.set_defaults(run=lambda a: _demo.run(a.image, a.out, a.repeat))


def _add_apply(commands):
    apply = _command(
        commands, "apply", "filter image files and folders into an output folder",
        f"Filter each INPUT file, and every image in each INPUT folder (recursively: {' '.join(SUFFIXES)}), "
        "into OUTDIR. The results equal "
        "fastconv.convolve(image, K, border=..., output=...): colour images are filtered per channel, an alpha "
        "channel is copied unchanged, 8-bit images stay 8-bit and 16-bit PNG/TIFF stay 16-bit (float32 with "
        "--output-policy float, which needs TIFF).\n\n"
        "Files keep their names, folders their structure below OUTDIR (photos/a/b.png -> OUTDIR/a/b.png) and each "
        "file its format unless --format is given (JPEG outputs are compressed again, so they are close to "
        "the filtered pixels, not equal: use --format png for exact ones). Inputs are never overwritten: OUTDIR "
        "may not be an INPUT "
        "folder (it may lie inside one, and is then not searched), and an output that would replace an input, or "
        "two inputs that would land on the same output, stop the run before anything is written; so do outputs "
        "that exist already, unless --overwrite is given.\n\n"
        "Several files are filtered in parallel (one core each); a progress bar on stderr appears from "
        f"10 files. A file that cannot be read or written is skipped with a warning; the exit status is then 1 "
        f"(0 when every file was written, 2 for a usage error). Ctrl-C starts no more files and, once those being "
        f"filtered are written, ends with status 130; a second Ctrl-C stops at once.",
        '  fastconv apply --kernel sharpen photo.jpg -o out\n'
        '  fastconv apply --kernel gaussian:7:1.5 --border reflect101 photos/ -o blurred\n'
        '  fastconv apply --kernel "0,-1,0;-1,5,-1;0,-1,0" scans/*.tif -o sharp --output-policy round\n'
        '  fastconv apply --kernel sobel_x --output-policy stretch photos -o edges --format png\n'
        '  fastconv apply -k sobel_x -k sobel_y -k laplacian photo.png -o edges  # three files per image',
        spec_help=True)
    apply.add_argument("inputs", nargs="+", metavar="INPUT", help="image files and folders")
    apply.add_argument("-o", "--out", dest="outdir", metavar="OUTDIR", required=True,
                       help="output folder, created if needed (a folder: each output keeps its input's name)")
    apply.add_argument("-k", "--kernel", metavar="SPEC", required=True, action="append",
                       help="the kernel (see below); give several to write one file per kernel and image, named "
                            "NAME.KERNEL.EXT (e.g. photo.sharpen.png, photo.gaussian-7-1.5.png; a file's stem; "
                            "k2 for the second kernel given as rows)")
    apply.add_argument("--border", choices=list(BORDERS), default="replicate",
                       help="how the image continues beyond its edges (default: replicate)")
    apply.add_argument("--output-policy", choices=list(OUTPUTS), default="floor",
                       help="floor: clip and round down, as the tutorial (default); round: as cv2.filter2D; "
                            "stretch: min..max to the full range; float: raw float32 sums (TIFF)")
    apply.add_argument("--format", type=_format, metavar="EXT",
                       help="write every output in this format, e.g. png or tiff (default: each input's)")
    apply.add_argument("-j", "--jobs", type=int, metavar="N",
                       help="files filtered at once (default: one per core)")
    apply.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    apply.add_argument("--overwrite", action="store_true",
                       help="replace files already in OUTDIR (without it, the run stops if any output exists)")
    apply.set_defaults(run=_run_apply)


def _add_kernels(commands):
    listing = _command(
        commands, "kernels", "list the kernel bank, or show the matrices of kernel specs",
        "Without SPEC, list every kernel name with its description and matrix, and the kernel families. "
        "With SPECs, print each kernel's matrix.",
        "  fastconv kernels\n  fastconv kernels gaussian:5:1.0 \"1,2,1\"", spec_help=True)
    listing.add_argument("specs", nargs="*", metavar="SPEC", help="kernels to show")
    listing.set_defaults(run=_run_kernels)


def _add_bench(commands):
    bench = _command(
        commands, "bench", "a quick benchmark against cv2.filter2D on a generated scene",
        "Apply the seven kernels of the bank to a generated test scene and print agreement with cv2.filter2D "
        "(replicated border) and median timings. Without OpenCV, time fastconv alone. bench/bench.py in the "
        "source tree is the full measuring instrument.",
        "  fastconv bench\n  fastconv bench --height 2160 --width 3840 --repeat 21")
    bench.add_argument("--height", type=int, default=1080, help="scene height in pixels (default 1080)")
    bench.add_argument("--width", type=int, default=1920, help="scene width in pixels (default 1920)")
    bench.add_argument("--repeat", type=int, default=11, help="timed runs per kernel (median; default 11)")
    bench.set_defaults(run=lambda a: _bench.run(a.height, a.width, a.repeat))


def _format(text):
    suffix = text.lower().lstrip(".")
    if "." + suffix not in SUFFIXES:
        raise argparse.ArgumentTypeError(f"must be one of {', '.join(s.lstrip('.') for s in SUFFIXES)}; "
                                         f"got {text!r}")
    return suffix


def _run_apply(args):
    bank = [(spec, _kernel(spec, "--kernel: ")) for spec in args.kernel]
    return _apply.run(bank, args.inputs, args.outdir, args.border, args.output_policy, args.format, args.jobs,
                      args.quiet, args.overwrite)


def _kernel(spec, option=""):
    """The kernel `spec` describes, or a CommandError whose message starts with the `option` that gave it."""
    try:
        return kernels.parse(spec)
    except ValueError as e:
        raise CommandError(f"{option}{e}") from e


def _run_kernels(args):
    if args.specs:
        for spec in args.specs:
            k = _kernel(spec)
            print(f"{spec} ({k.shape[0]}x{k.shape[1]}):\n{_matrix(k)}\n")
        return 0
    for name, k in kernels.tutorial_bank().items():
        print(f"{name} ({k.shape[0]}x{k.shape[1]}): {_summary(getattr(kernels, name))}\n{_matrix(k)}\n")
    print("Families (parameters after colons):")
    for name in kernels.names()[len(kernels.tutorial_bank()):]:
        print(f"  {name:<24}{_summary(getattr(kernels, name.split(':')[0]))}")
    return 0


def _summary(function):
    return function.__doc__.strip().splitlines()[0].replace("`", "")


def _matrix(k):
    """A kernel's matrix for reading: integers as integers, equal taps as one fraction."""
    first = float(k.flat[0])
    n = 1 / first if first > 0 else math.inf      # in Python floats: 1 / 1e-320 is inf, without a warning
    if k.size > 1 and np.all(k == first) and math.isfinite(n) and np.isclose(n, round(n)):
        return f"  every tap 1/{round(n)}"
    exact = np.all(k == np.round(k)) and np.all(np.abs(k) <= 2**53)     # integers that int64 holds exactly
    shown = k.astype(np.int64) if exact else k
    return "  " + np.array2string(shown, precision=4, suppress_small=True, max_line_width=116).replace("\n", "\n  ")


def _attach_kernel_values(argv):
    """`argv` with ``-k VALUE`` written ``--kernel=VALUE`` (argparse takes inline rows such as ``-1,0,1`` for
    options)."""
    attached, i = [], 0
    while i < len(argv):
        if argv[i] in ("-k", "--kernel") and i + 1 < len(argv) and "--" not in argv[:i]:
            attached.append(f"--kernel={argv[i + 1]}")
            i += 2
        else:
            attached.append(argv[i])
            i += 1
    return attached


def main(argv=None):
    """Run the ``fastconv`` command line.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        The exit status: 0 success, 1 some files failed (``apply``), 2 a usage error or missing OpenCV, 130
        interrupted (Ctrl-C).

    Examples
    --------
    >>> main(["kernels", "1,2;3,4"])
    1,2;3,4 (2x2):
      [[1 2]
       [3 4]]
    <BLANKLINE>
    0
    """
    parser = _parser()
    args = parser.parse_args(_attach_kernel_values(sys.argv[1:] if argv is None else list(argv)))
    if args.command is None:
        parser.print_help()
        return 0
    on_interrupt = signal.getsignal(signal.SIGINT) if threading.current_thread() is threading.main_thread() else None
    try:
        return args.run(args)
    except CommandError as e:
        print(f"fastconv {args.command}: error: {e}", file=sys.stderr)
        return e.code
    except KeyboardInterrupt:
        print(f"fastconv {args.command}: interrupted", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:
        # the reader went away (`fastconv kernels | head`): stop quietly, as Unix tools do, and keep Python's exit
        # flush from raising again on the dead pipe
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    finally:
        if on_interrupt is not None:         # a command may have changed it after a first Ctrl-C
            signal.signal(signal.SIGINT, on_interrupt)

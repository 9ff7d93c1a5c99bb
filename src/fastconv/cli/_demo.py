"""``fastconv demo``: the tutorial's bank on a photograph, as montages next to cv2.filter2D, with a timing table."""
import os
from importlib import resources

import fastconv
from fastconv.cli import _images
from fastconv.cli._common import (
    CommandError,
    compare_bank,
    header,
    print_table,
    require_cv2,
)

PHOTO = "astronaut.jpg"  # public domain; source and licence in data/astronaut.txt
MONTAGE_SIZE = 720       # montage panels are scaled to fit this many pixels (the filtering is at full size)
OVERVIEW_SIZE = 320


def run(image_path, outdir, repeat):
    """Filter the photo (or `image_path`) in grayscale, write montages and an overview to `outdir`, print a table."""
    cv2 = require_cv2("demo")
    if repeat < 1:
        raise CommandError(f"--repeat must be a positive int; got {repeat}")
    with _images.quiet_decoders(cv2):    # a damaged --image gets our one-line error, not libpng's or OpenCV's
        gray, what = _load(cv2, image_path)
    cv2.setNumThreads(fastconv.config()["threads"])
    rows = compare_bank(gray, cv2, repeat)
    try:
        with _images.quiet_decoders(cv2):
            written = _write_montages(cv2, gray, rows, outdir)
    except (_images.ImageError, OSError) as e:
        raise CommandError(f"cannot write the demo images into --out {outdir!r}: {e}") from e
    print(header(gray, what) + "; both round like cv2.filter2D and replicate the border\n")
    print_table(rows)
    print(f"\nWrote {len(written)} images to {os.path.abspath(outdir)}: {', '.join(written)}")
    return 0


def _load(cv2, image_path):
    """The image as 8-bit grayscale (as the tutorial filters it) and a phrase naming it."""
    if image_path is None:
        with resources.as_file(resources.files("fastconv") / "data" / PHOTO) as path:
            return _images.read(cv2, str(path), cv2.IMREAD_GRAYSCALE), "the bundled photograph (NASA, public domain)"
    try:
        return _images.read(cv2, image_path, cv2.IMREAD_GRAYSCALE), image_path
    except _images.ImageError as e:
        raise CommandError(f"--image {image_path!r}: {e}") from e


def _write_montages(cv2, gray, rows, outdir):
    """One original | fastconv | cv2.filter2D montage per kernel and an overview grid; the file names written."""
    written = []
    for number, row in enumerate(rows, start=1):
        panels = [_images.labelled(cv2, gray, "original", MONTAGE_SIZE),
                  _images.labelled(cv2, row["fastconv"], f"fastconv: {row['name']}", MONTAGE_SIZE),
                  _images.labelled(cv2, row["cv2"], f"cv2.filter2D: {row['name']}", MONTAGE_SIZE)]
        name = f"{number}-{row['name']}.png"
        _images.write(cv2, os.path.join(outdir, name), _images.grid(panels, 3))
        written.append(name)
    overview = [_images.labelled(cv2, gray, "original", OVERVIEW_SIZE)]
    overview += [_images.labelled(cv2, row["fastconv"], row["name"], OVERVIEW_SIZE) for row in rows]
    _images.write(cv2, os.path.join(outdir, "overview.png"), _images.grid(overview, 4))
    return written + ["overview.png"]

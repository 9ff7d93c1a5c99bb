"""``fastconv bench``: the tutorial's bank on a generated test scene, agreement with OpenCV and timings."""
import fastconv
from fastconv._scene import test_scene
from fastconv.cli._common import (
    INSTALL_OPENCV,
    CommandError,
    compare_bank,
    header,
    print_table,
)


def run(height, width, repeat):
    """Print the bank table for a `height` x `width` scene; fastconv alone when OpenCV is missing."""
    if height < 1 or width < 1 or repeat < 1:
        raise CommandError("--height, --width and --repeat must be positive ints")
    try:
        import cv2
    except ImportError:
        cv2 = None
        print(f"OpenCV is not installed ({INSTALL_OPENCV}): timing fastconv alone.\n")
    else:
        cv2.setNumThreads(fastconv.config()["threads"])
    image = test_scene(height, width)
    print(header(image, "a generated test scene") + "\n")
    print_table(compare_bank(image, cv2, repeat))
    return 0

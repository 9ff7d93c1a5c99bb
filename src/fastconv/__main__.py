"""``python -m fastconv``: the ``fastconv`` command line."""
import sys

from fastconv.cli import main

if __name__ == "__main__":
    sys.exit(main())

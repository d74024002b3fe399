"""``python -m viz.cli``: the same entry point as the ``dnabert`` console script."""
import sys

from viz.cli import main

sys.exit(main())

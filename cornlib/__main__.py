"""``python -m cornlib``: the ``cornlib`` command line (:mod:`cornlib.cli`)."""

import sys

from cornlib.cli import main

sys.exit(main())

"""``python -m app.cli``: the ``ms2l`` program."""
import sys

from . import main

sys.exit(main())

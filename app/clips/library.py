"""The clip library a user works with: the store plus importing, exporting and training data."""
from __future__ import annotations

from .export import ExportMixin
from .importers import ImportMixin
from .store import ClipStore
from .training import TrainingMixin


class Library(ImportMixin, ExportMixin, TrainingMixin, ClipStore):
    """A clip library in ``root`` (created when missing); see :mod:`app.clips.store` for the format.

    Args:
        root: the library directory (default :func:`app.paths.library_dir`).
        create: create the directory and database when missing (False: LibraryError instead).
    """

"""The user's clips: recording (:mod:`.recording`), the store (:mod:`.store`), importers, export and
training data, put together as :class:`Library`."""
from __future__ import annotations

from ..errors import LibraryError
from ..paths import library_dir as default_library_dir
from .arrays import V, check_arrays, make_preview
from .export import EXPORT_FORMAT, EXPORT_README, EXPORT_VERSION, INDEX_FIELDS
from .library import Library
from .store import (
    DB_NAME, MIGRATIONS, SCHEMA_V1, SCHEMA_V2, SCHEMA_V3, SCHEMA_VERSION, Clip, ClipInfo, ClipStore, Progress,
)
from .training import prepare_clip

__all__ = ["Clip", "ClipInfo", "ClipStore", "DB_NAME", "EXPORT_FORMAT", "EXPORT_README", "EXPORT_VERSION",
           "INDEX_FIELDS", "Library", "LibraryError", "MIGRATIONS", "Progress", "SCHEMA_V1", "SCHEMA_V2", "SCHEMA_V3",
           "SCHEMA_VERSION", "V", "check_arrays", "default_library_dir", "make_preview", "prepare_clip"]

"""The model registry: which models the user can pick -- the shipped default and their own."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from .paths import user_models_dir

DEFAULT = "default"
#: A save writes ``NAME.safetensors.tmp`` (and the card's and summary's ``.tmp``) and renames it within
#: seconds; one older than this was left by a save that was killed, and listing removes it.
STALE_TMP_S = 3600.0
_TMP_SUFFIXES = (".safetensors.tmp", ".md.tmp", ".json.tmp")


@dataclass(frozen=True)
class ModelEntry:
    """One pickable model: ``spec`` is what the runtime's ``set_model`` takes."""

    name: str
    spec: str

    @property
    def is_default(self) -> bool:
        return self.spec == DEFAULT


def list_models(user_dir: Path | None = None, extra: list[str] | tuple[str, ...] = ()) -> list[ModelEntry]:
    """The default model first, then ``*.safetensors`` in the user folder, then ``extra`` paths.

    The default is listed even when its file is missing, so that picking it explains why.
    Temporary files older than :data:`STALE_TMP_S` (left by a save that was killed) are removed.
    """
    entries = [ModelEntry("Default model", DEFAULT)]
    seen = {DEFAULT}
    folder = user_models_dir() if user_dir is None else Path(user_dir)
    files: list[Path] = []
    if folder.is_dir():
        _remove_stale_temporaries(folder)
        files = sorted(folder.glob("*.safetensors"))  # (a half-written "*.safetensors.tmp" never matches)
    for path in [*files, *(Path(e) for e in extra if e != DEFAULT)]:
        spec = str(path.resolve())
        if spec not in seen:
            seen.add(spec)
            entries.append(ModelEntry(path.stem, spec))
    return entries


def _remove_stale_temporaries(folder: Path) -> None:
    now = time.time()
    for tmp in folder.glob("*.tmp"):
        if not tmp.name.endswith(_TMP_SUFFIXES):
            continue
        try:
            if now - tmp.stat().st_mtime > STALE_TMP_S:  # a fresh one may be a save in progress
                tmp.unlink()
        except OSError:
            pass  # gone already, or not ours to remove: listing must not fail over it


def model_metadata(spec: str) -> dict:
    """The metadata stored in a model file (raises ``ModelFileError`` with the reason)."""
    # Imported here: ms2l.checkpoint pulls in torch, which the views themselves never need.
    from ms2l.checkpoint import read_metadata, resolve_model

    return read_metadata(resolve_model(spec))

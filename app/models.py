"""The model registry: which models the user can pick -- the shipped default and their own."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .paths import user_models_dir

DEFAULT = "default"


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
    """
    entries = [ModelEntry("Default model", DEFAULT)]
    seen = {DEFAULT}
    folder = user_models_dir() if user_dir is None else Path(user_dir)
    files = sorted(folder.glob("*.safetensors")) if folder.is_dir() else []
    for path in [*files, *(Path(e) for e in extra if e != DEFAULT)]:
        spec = str(path.resolve())
        if spec not in seen:
            seen.add(spec)
            entries.append(ModelEntry(path.stem, spec))
    return entries


def model_metadata(spec: str) -> dict:
    """The metadata stored in a model file (raises ``ModelFileError`` with the reason)."""
    # Imported here: ms2l.checkpoint pulls in torch, which the views themselves never need.
    from ms2l.checkpoint import read_metadata, resolve_model

    return read_metadata(resolve_model(spec))

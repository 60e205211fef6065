"""Training data from the library: clips on the model's frame-rate grid, through the one ``prepare()``."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Sequence

import numpy as np

from ms2l.config import ModelConfig
from ms2l.data.clipset import ClipSet
from ms2l.preprocess import prepare

from ..errors import LibraryError
from ..live.window import interpolate
from .arrays import clean_label

if TYPE_CHECKING:
    from .store import Clip, ClipInfo, ClipStore


class TrainingMixin:
    """Training-data method of :class:`app.clips.library.Library`."""

    def clipset(self: ClipStore, config: ModelConfig, labels: Sequence[str] | None = None, ids: Iterable[int] | None = None,
                unlabelled: bool = False) -> ClipSet:
        """A :class:`ms2l.data.ClipSet` of the chosen clips, prepared for ``config`` (a ModelConfig).

        ``labels``: the classes, in this order (default: every label, sorted); only
        their clips are included, unless ``unlabelled`` (then the unlabelled clips,
        label -1).  ``ids`` narrows the choice further.  Each clip is put on an even
        grid at the model's frame rate by timestamp (as the live window buffer does)
        and then through :func:`ms2l.preprocess.prepare`, so training sees exactly
        what live inference will.  ``meta["id"]`` holds the clip ids.

        Persons are never padded or cut: labelled clips must all have the model's
        ``config.persons`` (a label mixing one- and two-person clips, or clips of another
        count than the model's, raise :class:`LibraryError` naming them).  Unlabelled clips
        of another count are left out (they are extra data, not the user's classes).
        """
        names = tuple(labels) if labels is not None else tuple(self.labels())
        if unlabelled:
            infos = [i for i in self.list(None, ids=ids) if i.persons == config.persons]
        else:
            wanted = {clean_label(n) for n in names}
            infos = [i for i in self.list(ids=ids) if i.label in wanted]
            check_persons(infos, config.persons)
        xs, ys, clip_ids = [], [], []
        for info in infos:
            x = prepare_clip(self.get(info.id), config)
            if len(x) == 0:
                continue  # nobody in any frame: nothing to learn from
            xs.append(x)
            ys.append(-1 if unlabelled else names.index(info.label))
            clip_ids.append(info.id)
        return ClipSet(xs, np.asarray(ys, dtype=int), names, [str(i) for i in clip_ids],
                       {"id": np.asarray(clip_ids, dtype=int)})


def _people(n: int) -> str:
    return "one-person" if n == 1 else "two-person" if n == 2 else f"{n}-person"


def _ids(infos: Sequence[ClipInfo], limit: int = 8) -> str:
    ids = [str(i.id) for i in infos]
    return ", ".join(ids[:limit]) + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def check_persons(infos: Sequence[ClipInfo], persons: int) -> None:
    """Refuse (:class:`LibraryError`) clips a ``persons``-person model cannot learn from as they are:
    a label whose clips mix person counts, or clips of another count than the model's."""
    by_label: dict[str | None, dict[int, list[ClipInfo]]] = {}
    for i in infos:
        by_label.setdefault(i.label, {}).setdefault(i.persons, []).append(i)
    for label, groups in by_label.items():
        if len(groups) > 1:
            parts = "; ".join(f"{_people(m)}: clip(s) {_ids(g)}" for m, g in sorted(groups.items()))
            raise LibraryError(f"the clips of {label!r} mix one- and two-person clips ({parts}); a model takes one "
                               "layout: relabel or delete the odd ones (`ms2l clips list` shows each clip's persons)")
    for label, groups in by_label.items():
        (m, g), = groups.items()
        if m != persons:
            raise LibraryError(f"{label!r} has {_people(m)} clips (clip(s) {_ids(g)}) but the model takes "
                               f"{persons} person(s) per clip: train from a {_people(m)} encoder, or leave "
                               f"{label!r} out")


def prepare_clip(clip: Clip, config: ModelConfig) -> np.ndarray:
    """Model input ``x[T', M, V, C]`` for one library clip: the live path, offline.

    The frames with a person are interpolated by timestamp onto an even grid at
    ``config.fps`` ending at the last of them (:func:`app.live.window.interpolate`, as
    the live window buffer does), then go through :func:`ms2l.preprocess.prepare`.
    A pair is put on one grid (the frames where either person is seen), each person
    interpolated on their own, as the live pipeline stacks a pair's two windows.  A clip
    with another number of persons than ``config.persons`` raises :class:`LibraryError`
    (nothing is padded or cut).
    """
    if clip.persons != config.persons:
        raise LibraryError(f"clip {clip.id} has {clip.persons} person(s) but the model takes {config.persons}")
    j = clip.joints if clip.persons > 1 else clip.joints[None]
    c = clip.confidence if clip.persons > 1 else clip.confidence[None]
    seen = (c > 0).any(-1).any(0)
    if not seen.any():
        return np.zeros((0, config.persons, config.joints, config.coords), np.float32)
    ts = clip.timestamps[seen]
    n = int(np.floor((ts[-1] - ts[0]) * config.fps + 1e-6)) + 1
    grid = ts[-1] - np.arange(n - 1, -1, -1) / config.fps
    pairs = [interpolate(ts, j[m][seen], c[m][seen], grid) for m in range(len(j))]
    joints, conf = np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])
    if clip.persons == 1:
        joints, conf = joints[0], conf[0]
    return prepare(joints, conf, config, source_fps=config.fps)

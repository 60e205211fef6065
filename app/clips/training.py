"""Training data from the library: clips on the model's frame-rate grid, through the one ``prepare()``."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Sequence

import numpy as np

from ms2l.config import ModelConfig
from ms2l.data.clipset import ClipSet
from ms2l.preprocess import prepare

from ..live.window import interpolate
from .arrays import clean_label

if TYPE_CHECKING:
    from .store import Clip, ClipStore


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
        """
        names = tuple(labels) if labels is not None else tuple(self.labels())
        if unlabelled:
            infos = self.list(None, ids=ids)
        else:
            wanted = {clean_label(n) for n in names}
            infos = [i for i in self.list(ids=ids) if i.label in wanted]
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


def prepare_clip(clip: Clip, config: ModelConfig) -> np.ndarray:
    """Model input ``x[T', M, V, C]`` for one library clip: the live path, offline.

    The frames with a person are interpolated by timestamp onto an even grid at
    ``config.fps`` ending at the last of them (:func:`app.live.window.interpolate`, as
    the live window buffer does), then go through :func:`ms2l.preprocess.prepare`.
    """
    seen = (clip.confidence > 0).any(-1)
    if not seen.any():
        return np.zeros((0, config.persons, config.joints, config.coords), np.float32)
    ts = clip.timestamps[seen]
    n = int(np.floor((ts[-1] - ts[0]) * config.fps + 1e-6)) + 1
    grid = ts[-1] - np.arange(n - 1, -1, -1) / config.fps
    joints, conf = interpolate(ts, clip.joints[seen], clip.confidence[seen], grid)
    return prepare(joints, conf, config, source_fps=config.fps)

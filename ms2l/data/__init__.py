"""Datasets: one dispatcher over one module per dataset.

==========  =======================================  =============================
name        module                                   what ``--data`` is
==========  =======================================  =============================
nw-ucla     :mod:`ms2l.data.nwucla`                  the ``all_sqe`` JSON folder
utd-mhad    :mod:`ms2l.data.utd`                     the ``Skeleton`` folder of ``.mat`` files
sbu         :mod:`ms2l.data.sbu`                     the folder of ``s<PP>s<QQ>`` pair folders
ntu60/120   :mod:`ms2l.data.ntu`                     a cache from ``ms2l prepare``
pkummd1/2   :mod:`ms2l.data.pkummd`                  a cache from ``ms2l prepare``
==========  =======================================  =============================

Every loader returns a :class:`~ms2l.data.clipset.ClipSet` of clips already through
:func:`ms2l.preprocess.prepare`, the one preprocessing function.  Unlabelled pretraining
pools over several sources are :mod:`ms2l.data.pool` (``ms2l pretrain`` only).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..config import ModelConfig
from ..errors import DatasetError
from .clipset import ClipDataset, ClipSet, collate, per_class_sample, stratified_fraction
from .nwucla import NWUCLA_FPS, NWUCLA_LABELS

Loader = Callable[..., ClipSet]

#: dataset name -> (persons a model for it takes, loader(data_dir, config, split, protocol, progress, dataset))
def _nwucla(data_dir: Path, config: ModelConfig, split: str, protocol: str | None, progress: bool, dataset: str) -> ClipSet:
    from . import nwucla
    return nwucla.load(data_dir, config, split, protocol, progress)


def _utd(data_dir: Path, config: ModelConfig, split: str, protocol: str | None, progress: bool, dataset: str) -> ClipSet:
    from . import utd
    return utd.load(data_dir, config, split, protocol, progress)


def _sbu(data_dir: Path, config: ModelConfig, split: str, protocol: str | None, progress: bool, dataset: str) -> ClipSet:
    from . import sbu
    return sbu.load(data_dir, config, split, protocol, progress)


def _ntu(data_dir: Path, config: ModelConfig, split: str, protocol: str | None, progress: bool, dataset: str) -> ClipSet:
    from .ntu import load_ntu
    return load_ntu(data_dir, config, split, protocol, progress, dataset=dataset)


def _pku(data_dir: Path, config: ModelConfig, split: str, protocol: str | None, progress: bool, dataset: str) -> ClipSet:
    from .pkummd import load_pkummd
    return load_pkummd(data_dir, config, split, protocol, progress, dataset=dataset)


REGISTRY: dict[str, tuple[int, Loader]] = {
    "nw-ucla": (1, _nwucla),
    "utd-mhad": (1, _utd),
    "sbu": (2, _sbu),
    "ntu60": (2, _ntu), "ntu120": (2, _ntu),
    "pkummd1": (2, _pku), "pkummd2": (2, _pku),
}
DATASETS: tuple[str, ...] = tuple(REGISTRY)
CACHED: tuple[str, ...] = ("ntu60", "ntu120", "pkummd1", "pkummd2")


def _entry(name: str) -> tuple[int, Loader]:
    if name not in REGISTRY:
        raise DatasetError(f"unknown dataset {name!r}; known: {', '.join(DATASETS)}")
    return REGISTRY[name]


def dataset_labels(name: str) -> tuple[str, ...] | None:
    """The label names of dataset ``name`` when they are fixed (known before reading any file), else None."""
    if "+" in name:
        from .merge import canonical, split_names

        merged: list[str] = []
        for part in split_names(name):
            labels = dataset_labels(part)
            if labels is None:
                return None
            merged += [c for c in map(canonical, labels) if c not in merged]
        return tuple(merged)
    _entry(name)
    if name == "nw-ucla":
        return NWUCLA_LABELS
    if name == "utd-mhad":
        from .utd import UTD_LABELS
        return UTD_LABELS
    if name == "sbu":
        from .sbu import SBU_LABELS
        return SBU_LABELS
    if name in ("ntu60", "ntu120"):
        from .ntu import NTU60_LABELS, NTU120_LABELS
        return NTU60_LABELS if name == "ntu60" else NTU120_LABELS
    return None


def dataset_config(name: str, base: ModelConfig) -> ModelConfig:
    """The input layout a new model needs for dataset ``name`` (SBU, NTU, PKU-MMD: two persons)."""
    if "+" in name:
        from .merge import split_names

        persons = max(_entry(n)[0] for n in split_names(name))
        return base.replace(persons=persons) if persons > 1 else base
    persons = _entry(name)[0]
    return base.replace(persons=persons) if persons > 1 else base


def load_dataset(name: str, data_dir: str | Path, config: ModelConfig, split: str, progress: bool = False,
                 protocol: str | None = None) -> ClipSet:
    """One split of a dataset, prepared for ``config``.

    ``a+b`` (e.g. ``nw-ucla+utd-mhad``, ``data_dir`` ``DIR_A,DIR_B``): each dataset's split, labels
    merged where they name the same action (:mod:`ms2l.data.merge`).
    """
    if "+" in name:
        from .merge import merge_clipsets, split_names

        names, dirs = split_names(name), [d for d in str(data_dir).split(",") if d]
        if len(dirs) != len(names):
            raise DatasetError(f"--dataset {name} needs {len(names)} --data folders (comma-separated, same order), "
                               f"got {len(dirs)}")
        if protocol is not None:
            raise DatasetError("a combination of datasets takes each one's own protocol; drop --protocol")
        return merge_clipsets([(n, _entry(n)[1](Path(d), config, split, None, progress, n))
                               for n, d in zip(names, dirs)])
    return _entry(name)[1](Path(data_dir), config, split, protocol, progress, name)


__all__ = ["CACHED", "DATASETS", "ClipDataset", "ClipSet", "NWUCLA_FPS", "NWUCLA_LABELS", "collate",
           "dataset_config", "dataset_labels", "load_dataset", "per_class_sample", "stratified_fraction"]

"""The MS²L library's errors: each is bad input a user can act on, with the reason in its message.

``pose_adapters`` raises :class:`SkeletonFileError` (a skeleton file) and
:class:`AdapterError` (a joint layout); this module adds the model-file error and
the cancellation of a long job, and gathers them in :data:`INPUT_ERRORS`.
"""
from __future__ import annotations

from pose_adapters.readers.errors import SkeletonFileError
from pose_adapters.table import AdapterError


class ModelFileError(ValueError):
    """A model file that cannot be used, with the reason."""


class DatasetError(ValueError):
    """A dataset folder or cache that cannot be used (missing, wrong kind, unknown split)."""


class ConfigError(ValueError):
    """An option or setting whose value cannot be used (unknown strategy, task, device, fraction...)."""


class DeviceError(ConfigError, RuntimeError):
    """A device that was asked for but is not there (CUDA on a machine without a GPU)."""


class Cancelled(Exception):
    """A long job (training, import) stopped because the user asked it to."""


#: Errors caused by what the user gave (a file, an option): shown as one line, never a traceback.
INPUT_ERRORS: tuple[type[BaseException], ...] = (ModelFileError, DatasetError, ConfigError, SkeletonFileError,
                                                 AdapterError, FileNotFoundError)

__all__ = ["AdapterError", "Cancelled", "ConfigError", "DeviceError", "DatasetError", "INPUT_ERRORS", "ModelFileError", "SkeletonFileError"]

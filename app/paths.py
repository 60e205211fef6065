"""Every user folder and environment variable the app reads, in one place.

==================  =====================================================  ==========================
variable            what                                                   default
==================  =====================================================  ==========================
``MS2L_LIBRARY``    the clip library folder                                ``<user data>/library``
``MS2L_USER_MODELS``  models trained in the app (the model registry)       ``<user data>/models``
``MS2L_CACHE``      cached ONNX exports of models                          ``<user cache>/onnx``
``MS2L_ASSETS``     the shipped models (``default.safetensors``)           the package's ``assets/``
``MS2L_DEBUG``      set: unexpected errors in the window log a traceback   unset
==================  =====================================================  ==========================

``<user data>`` and ``<user cache>`` are platformdirs' folders for ``ms2l-live``.
(``MS2L_CACHE`` and ``MS2L_ASSETS`` are read by the library, :mod:`ms2l.export` and
:mod:`ms2l.checkpoint`, which cannot import the app; they are listed here for completeness.)
"""
from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "ms2l-live"


def user_data_dir() -> Path:
    from platformdirs import user_data_dir as _data

    return Path(_data(APP_NAME))


def library_dir() -> Path:
    """``MS2L_LIBRARY`` if set, else ``<user data dir>/ms2l-live/library``."""
    env = os.environ.get("MS2L_LIBRARY")
    return Path(env) if env else user_data_dir() / "library"


def user_models_dir() -> Path:
    """Where models trained in the app are saved (``MS2L_USER_MODELS`` overrides)."""
    env = os.environ.get("MS2L_USER_MODELS")
    return Path(env) if env else user_data_dir() / "models"


def debug() -> bool:
    return bool(os.environ.get("MS2L_DEBUG"))

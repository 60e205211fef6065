"""The app's one error vocabulary.

Every error a user can cause or fix (a missing camera, a corrupt video, a malformed
file, a model trained on other labels) derives from :class:`AppError` here or is
one of the library's :data:`ms2l.errors.INPUT_ERRORS`; :data:`USER_ERRORS` is the
tuple the command line and the window catch, and :func:`describe` is how either
turns one into a line of text.  Anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

from ms2l.errors import INPUT_ERRORS, Cancelled, DatasetError, ModelFileError, SkeletonFileError
from pose_adapters.table import AdapterError


class AppError(Exception):
    """Base of the app's own user-facing errors."""


class SourceError(AppError, RuntimeError):
    """A camera, video, stream or clip that cannot be opened or read.

    ``reason``: what is wrong, without the source's name (for a caller that names it its own way).
    """

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason if reason is not None else message


class VideoError(SourceError):
    """A video file that cannot be opened or decoded."""


class PoseEstimatorError(AppError, RuntimeError):
    """The pose estimator could not be started (missing model bundle, bad option)."""


class LibraryError(AppError, ValueError):
    """A clip library, clip or dataset folder that cannot be used; the message says why."""


class NoModelError(AppError, RuntimeError):
    """A source was opened while no model is loaded (the last load failed and nothing was there before)."""


#: What the CLI and the window report as one line; everything else is a bug.
USER_ERRORS: tuple[type[BaseException], ...] = (AppError, *INPUT_ERRORS)


def describe(err: BaseException | str) -> str:
    """One line for a user: the error's own message; an unexpected error also names its type."""
    if isinstance(err, str):
        return err
    text = str(err).strip()
    if isinstance(err, USER_ERRORS):
        return text or type(err).__name__
    return f"{text} ({type(err).__name__})" if text else type(err).__name__


__all__ = ["AdapterError", "AppError", "Cancelled", "DatasetError", "LibraryError", "ModelFileError", "NoModelError",
           "PoseEstimatorError", "SkeletonFileError", "SourceError", "USER_ERRORS", "VideoError", "describe"]

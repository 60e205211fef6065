"""The readers' one error type."""
from __future__ import annotations


class SkeletonFileError(ValueError):
    """A skeleton file that cannot be read; the message names the file, line and problem."""

    def __init__(self, path: object, problem: str, line: int | None = None):
        self.path, self.problem, self.line = str(path), problem, line
        where = f"{self.path}, line {line}" if line is not None else self.path
        super().__init__(f"{where}: {problem}")

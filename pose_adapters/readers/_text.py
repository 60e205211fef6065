"""Line-numbered parsing helpers shared by the text readers."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import SkeletonFileError


def read_lines(path: Path) -> list[str]:
    """The file's lines, or :class:`SkeletonFileError` when it cannot be read as text."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise SkeletonFileError(path, f"cannot read: {e.strerror or e}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise SkeletonFileError(path, "not a text file (invalid UTF-8)", line=line) from None
    return text.splitlines()


def parse_floats(path: Path, lines: list[str], first: int, count: int, per_line: int, what: str) -> np.ndarray:
    """Parse ``count`` lines from index ``first``, each ``per_line`` numbers, into ``[count, per_line]`` float64.

    Errors name the 1-based line and what was expected there.
    """
    if first + count > len(lines):
        raise SkeletonFileError(
            path, f"file ends early: {count} {what} line(s) were due from line {first + 1}, "
                  f"only {max(len(lines) - first, 0)} remain", line=max(len(lines), 1)
        )
    block = lines[first: first + count]
    try:
        values = np.array(" ".join(block).split(), dtype=np.float64)
    except ValueError:
        values = None
    if values is not None and values.size == count * per_line:
        return values.reshape(count, per_line)
    for k, text in enumerate(block):
        fields = text.split()
        if len(fields) != per_line:
            raise SkeletonFileError(
                path, f"expected {per_line} numbers on a {what} line, found {len(fields)}", line=first + k + 1
            )
        for f in fields:
            try:
                float(f)
            except ValueError:
                raise SkeletonFileError(path, f"{what} line: {f!r} is not a number", line=first + k + 1) from None
    raise SkeletonFileError(path, f"malformed {what} lines", line=first + 1)  # pragma: no cover


def parse_int(path: Path, lines: list[str], index: int, what: str, minimum: int = 0) -> int:
    """The single integer on line ``index`` (0-based), at least ``minimum``."""
    if index >= len(lines):
        raise SkeletonFileError(path, f"file ends early: expected the {what}", line=max(len(lines), 1))
    text = lines[index].strip()
    try:
        value = int(text)
    except ValueError:
        raise SkeletonFileError(path, f"expected the {what} (an integer), found {text[:40]!r}", line=index + 1) from None
    if value < minimum:
        raise SkeletonFileError(path, f"the {what} is {value}, expected at least {minimum}", line=index + 1)
    return value

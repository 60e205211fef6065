"""BVH motion capture: hierarchy, channels and forward kinematics to joint positions.

A BVH file is a ``HIERARCHY`` section (``ROOT``/``JOINT`` blocks with an
``OFFSET``, ``CHANNELS`` and children; ``End Site`` blocks with an ``OFFSET``)
and a ``MOTION`` section (``Frames: N``, ``Frame Time: s``, then one line per
frame with every joint's channel values in hierarchy order).

Forward kinematics, per frame: a joint's local transform is a translation --
its position channels when it has them (they replace the offset, as Blender
and the Bandai-Namco files read them), else its ``OFFSET`` -- followed by the
rotation channels in the order listed (``Zrotation Xrotation Yrotation`` gives
``Rz @ Rx @ Ry``, degrees).  World transform = parent's world @ local.  End
sites are named ``<joint>_End`` and placed at their offset in the joint's frame.

:func:`bvh_to_ntu` maps the positions onto the convention with the ``bvh``
adapter (see :mod:`pose_adapters.bvh` for the name table, axes and units).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..bvh import BVH, canonical_positions
from ._text import read_lines
from .errors import SkeletonFileError

#: Deepest joint nesting accepted (a body is about 10 deep; hands add a few).
MAX_DEPTH = 256
_CHANNELS = ("Xposition", "Yposition", "Zposition", "Xrotation", "Yrotation", "Zrotation")


@dataclass(frozen=True)
class BvhMotion:
    """A parsed BVH file.

    names: ``[J]`` joint names (end sites as ``<joint>_End``); parents: ``[J]`` parent
    index, -1 for the root; offsets: ``[J, 3]``; channels: per joint, its channel names
    (empty for end sites); motion: ``[T, C]`` channel values, C = all channels;
    positions: ``[T, J, 3]`` float32 world positions in the file's units.
    """

    name: str
    names: tuple[str, ...]
    parents: tuple[int, ...]
    offsets: np.ndarray
    channels: tuple[tuple[str, ...], ...]
    frame_time: float
    motion: np.ndarray
    positions: np.ndarray

    @property
    def num_frames(self) -> int:
        return self.motion.shape[0]

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time if self.frame_time > 0 else 0.0


def _rotation(axis: str, degrees: np.ndarray) -> np.ndarray:
    """``[T, 3, 3]`` rotation matrices about ``axis`` ("X", "Y" or "Z")."""
    a = np.radians(degrees)
    c, s = np.cos(a), np.sin(a)
    one, zero = np.ones_like(a), np.zeros_like(a)
    if axis == "X":
        rows = [[one, zero, zero], [zero, c, -s], [zero, s, c]]
    elif axis == "Y":
        rows = [[c, zero, s], [zero, one, zero], [-s, zero, c]]
    else:
        rows = [[c, -s, zero], [s, c, zero], [zero, zero, one]]
    return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)


def forward_kinematics(
    parents: tuple[int, ...], offsets: np.ndarray, channels: tuple[tuple[str, ...], ...], motion: np.ndarray
) -> np.ndarray:
    """World positions ``[T, J, 3]`` from ``motion[T, C]`` (see the module docstring)."""
    t_count = motion.shape[0]
    rot = np.zeros((len(parents), t_count, 3, 3))
    pos = np.zeros((len(parents), t_count, 3))
    col = 0
    for j, (parent, chans) in enumerate(zip(parents, channels)):
        local_t = np.broadcast_to(offsets[j], (t_count, 3)).copy()
        local_r = np.broadcast_to(np.eye(3), (t_count, 3, 3))
        for ch in chans:
            values = motion[:, col]
            col += 1
            if ch.endswith("position"):
                local_t[:, "XYZ".index(ch[0])] = values
            else:
                local_r = local_r @ _rotation(ch[0], values)
        if parent < 0:
            rot[j], pos[j] = local_r, local_t
        else:
            pos[j] = pos[parent] + np.einsum("tij,tj->ti", rot[parent], local_t)
            rot[j] = rot[parent] @ local_r
    return pos.transpose(1, 0, 2).astype(np.float32)


class _Tokens:
    """Whitespace tokens of the hierarchy with their 1-based line numbers."""

    def __init__(self, path: Path, lines: list[str], end: int):
        self.path = path
        self.items = [(tok, k + 1) for k in range(end) for tok in lines[k].split()]
        self.i = 0
        self.last_line = end

    def next(self, what: str) -> tuple[str, int]:
        if self.i >= len(self.items):
            raise SkeletonFileError(self.path, f"hierarchy ends early: expected {what}", line=self.last_line)
        tok = self.items[self.i]
        self.i += 1
        return tok

    def expect(self, word: str) -> int:
        tok, line = self.next(repr(word))
        if tok != word:
            raise SkeletonFileError(self.path, f"expected {word!r}, found {tok!r}", line=line)
        return line

    def number(self, what: str, integer: bool = False) -> float:
        tok, line = self.next(what)
        try:
            return int(tok) if integer else float(tok)
        except ValueError:
            raise SkeletonFileError(self.path, f"expected {what} (a number), found {tok!r}", line=line) from None

    def peek(self) -> str | None:
        return self.items[self.i][0] if self.i < len(self.items) else None


def read_bvh(path: str | Path) -> BvhMotion:
    """Read a BVH file and run forward kinematics; malformed files raise :class:`SkeletonFileError`."""
    path = Path(path)
    lines = read_lines(path)
    motion_at = next((k for k, ln in enumerate(lines) if ln.strip() == "MOTION"), None)
    if motion_at is None:
        raise SkeletonFileError(path, "no MOTION section")
    tokens = _Tokens(path, lines, motion_at)
    tok, line = tokens.next("'HIERARCHY'")
    if tok != "HIERARCHY":
        raise SkeletonFileError(path, f"not a BVH file: expected 'HIERARCHY', found {tok[:40]!r}", line=line)
    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[tuple[str, ...]] = []

    def joint(parent: int, end_site: bool, depth: int = 0) -> None:
        if depth > MAX_DEPTH:  # real rigs nest a few dozen joints; deeper would overflow Python's stack
            raise SkeletonFileError(path, f"hierarchy nested deeper than {MAX_DEPTH} joints",
                                    line=tokens.items[tokens.i - 1][1])
        if end_site:
            tokens.expect("Site")
            name = names[parent] + "_End"
        else:
            name, _ = tokens.next("a joint name")
        index = len(names)
        names.append(name)
        parents.append(parent)
        tokens.expect("{")
        tokens.expect("OFFSET")
        offsets.append([tokens.number("an offset") for _ in range(3)])
        chans: tuple[str, ...] = ()
        if not end_site:
            tokens.expect("CHANNELS")
            n = int(tokens.number("the channel count", integer=True))
            if not 0 <= n <= 6:
                raise SkeletonFileError(path, f"joint {name!r} has {n} channels, expected 0 to 6", line=tokens.items[tokens.i - 1][1])
            chans = tuple(tokens.next("a channel name")[0] for _ in range(n))
            for ch in chans:
                if ch not in _CHANNELS:
                    line = tokens.items[tokens.i - 1][1]
                    raise SkeletonFileError(path, f"unknown channel {ch!r} of joint {name!r}", line=line)
        channels.append(chans)
        while True:
            tok, line = tokens.next("'JOINT', 'End' or '}'")
            if tok == "}":
                return
            if end_site or tok not in ("JOINT", "End"):
                raise SkeletonFileError(path, f"unexpected {tok!r} in joint {name!r}", line=line)
            joint(index, tok == "End", depth + 1)

    tok, line = tokens.next("'ROOT'")
    if tok != "ROOT":
        raise SkeletonFileError(path, f"expected 'ROOT', found {tok!r}", line=line)
    joint(-1, False)
    if tokens.peek() is not None:
        tok, line = tokens.next("")
        raise SkeletonFileError(path, f"unexpected {tok!r} after the root joint (only one ROOT is supported)", line=line)

    header: dict[str, float] = {}
    k = motion_at + 1
    for key, cast in (("Frames:", int), ("Frame Time:", float)):
        while k < len(lines) and not lines[k].strip():
            k += 1
        text = lines[k].strip() if k < len(lines) else ""
        if not text.startswith(key):
            raise SkeletonFileError(path, f"expected '{key} ...' after MOTION, found {text[:40]!r}", line=min(k + 1, len(lines)))
        try:
            header[key] = cast(text[len(key):].strip())
        except ValueError:
            raise SkeletonFileError(path, f"bad {key!r} value {text[len(key):].strip()!r}", line=k + 1) from None
        k += 1
    n_frames, frame_time = int(header["Frames:"]), float(header["Frame Time:"])
    if n_frames < 1:
        raise SkeletonFileError(path, f"'Frames: {n_frames}': no frames", line=k - 1)
    n_channels = sum(len(c) for c in channels)
    rows = [(j, ln) for j, ln in enumerate(lines[k:], start=k) if ln.strip()]
    if len(rows) != n_frames:
        where = rows[n_frames][0] + 1 if len(rows) > n_frames else len(lines)
        raise SkeletonFileError(path, f"'Frames: {n_frames}' but the file has {len(rows)} frame lines", line=where)
    motion = np.empty((n_frames, n_channels), np.float64)
    for r, (j, ln) in enumerate(rows):
        fields = ln.split()
        if len(fields) != n_channels:
            raise SkeletonFileError(path, f"frame line has {len(fields)} values, the hierarchy has {n_channels} channels", line=j + 1)
        try:
            motion[r] = [float(v) for v in fields]
        except ValueError:
            bad = next(v for v in fields if not _is_float(v))
            raise SkeletonFileError(path, f"frame line: {bad!r} is not a number", line=j + 1) from None
    if not np.isfinite(motion).all():
        j = rows[int(np.flatnonzero(~np.isfinite(motion).all(axis=1))[0])][0]
        raise SkeletonFileError(path, "frame line has a non-finite value", line=j + 1)
    offsets_a = np.array(offsets, np.float64)
    positions = forward_kinematics(tuple(parents), offsets_a, tuple(channels), motion)
    return BvhMotion(path.stem, tuple(names), tuple(parents), offsets_a, tuple(channels), frame_time, motion, positions)


def _is_float(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def bvh_to_ntu(motion: BvhMotion, *, scale: float = 0.01, mirrored: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The motion in the convention: ``(joints[T, 25, 3] metres, confidence[T, 25])``.

    ``scale`` takes the file's units to metres (0.01 for centimetres).  Joints the
    name table cannot find get confidence 0.
    """
    adapter = BVH if scale == BVH.scale else dataclasses.replace(BVH, scale=scale)
    positions, present = canonical_positions(motion.names, motion.positions)
    return adapter.to_ntu(positions, present, mirrored=mirrored)


def write_bvh(motion: BvhMotion, path: str | Path) -> None:
    """Write ``motion`` as a BVH file (hierarchy and channel values; lossless)."""
    children: dict[int, list[int]] = {}
    for j, p in enumerate(motion.parents):
        children.setdefault(p, []).append(j)
    out = ["HIERARCHY"]

    def emit(j: int, depth: int) -> None:
        pad = "  " * depth
        end = motion.names[j].endswith("_End") and not motion.channels[j] and j not in children
        out.append(pad + ("End Site" if end else f"{'ROOT' if motion.parents[j] < 0 else 'JOINT'} {motion.names[j]}"))
        out.append(pad + "{")
        out.append(pad + "  OFFSET " + " ".join(repr(float(v)) for v in motion.offsets[j]))
        if not end:
            out.append(pad + f"  CHANNELS {len(motion.channels[j])} " + " ".join(motion.channels[j]))
        for c in children.get(j, []):
            emit(c, depth + 1)
        out.append(pad + "}")

    emit(children[-1][0], 0)
    out += ["MOTION", f"Frames: {motion.num_frames}", f"Frame Time: {motion.frame_time!r}"]
    out += [" ".join(repr(float(v)) for v in row) for row in motion.motion]
    Path(path).write_text("\n".join(out) + "\n")

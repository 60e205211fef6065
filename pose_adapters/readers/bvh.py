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

:func:`read_cmu_bvh` reads the CMU takes converted for Reallusion's Character Creator
rig (``CC_Base_*`` joints): it checks the body joints are there and drops frame 0 when
it is a prepended T-pose (:func:`starts_with_tpose`; docs/datasets.md has the checks).
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..bvh import BVH, BVH_CANONICAL, BVH_FALLBACKS, BVH_NAME_TABLE, BVH_UP_AXES, canonical_positions, detect_up_axis
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


def read_bvh(path: str | Path, *, skip_first: int = 0) -> BvhMotion:
    """Read a BVH file and run forward kinematics; malformed files raise :class:`SkeletonFileError`.

    ``skip_first`` drops that many leading frames (a prepended rest or T-pose) from
    ``motion`` and ``positions``; at least one frame must remain.
    """
    if skip_first < 0:
        raise ValueError(f"skip_first must be >= 0, got {skip_first}")
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
    if skip_first >= n_frames:
        raise SkeletonFileError(path, f"cannot skip {skip_first} of its {n_frames} frame(s): none would remain")
    motion = motion[skip_first:]
    offsets_a = np.array(offsets, np.float64)
    positions = forward_kinematics(tuple(parents), offsets_a, tuple(channels), motion)
    return BvhMotion(path.stem, tuple(names), tuple(parents), offsets_a, tuple(channels), frame_time, motion, positions)


def _is_float(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def bvh_to_ntu(
    motion: BvhMotion, *, scale: float = 0.01, mirrored: bool = False, up: str = "y"
) -> tuple[np.ndarray, np.ndarray]:
    """The motion in the convention: ``(joints[T, 25, 3] metres, confidence[T, 25])``.

    ``scale`` takes the file's units to metres (0.01 for centimetres).  ``up`` names the
    world's vertical after forward kinematics: ``"y"`` (BVH's usual, the default), ``"z"``,
    or ``"auto"`` to read it off the posed spine (:func:`pose_adapters.bvh.detect_up_axis`).
    Joints the name table cannot find get confidence 0.
    """
    if up not in ("y", "z", "auto"):
        raise ValueError(f"up must be 'y', 'z' or 'auto', got {up!r}")
    positions, present = canonical_positions(motion.names, motion.positions)
    if up == "auto":
        up = detect_up_axis(positions, present)
    axes = BVH_UP_AXES[up]
    adapter = BVH if scale == BVH.scale and up == "y" else dataclasses.replace(BVH, scale=scale, axes=axes.copy())
    return adapter.to_ntu(positions, present, mirrored=mirrored)


# ---------------------------------------------------------------- CMU (Character Creator rig)

_CMU_NAME = re.compile(r"^(\d+)_(\d+)$")
#: Canonical joints a CMU take must have by name; head and hand end sites are built.
CMU_REQUIRED: tuple[str, ...] = tuple(c for c in BVH_CANONICAL if c not in BVH_FALLBACKS)


def parse_cmu_name(name: str | Path) -> tuple[int, int]:
    """``"002_01.bvh"`` -> (subject, trial)."""
    m = _CMU_NAME.match(Path(name).name.removesuffix(".bvh"))
    if not m:
        raise SkeletonFileError(name, "name does not follow <subject>_<trial>.bvh")
    return int(m.group(1)), int(m.group(2))


def starts_with_tpose(motion: BvhMotion) -> bool:
    """Whether frame 0 is a T-pose the motion then jumps away from (a converter's rest pose).

    T-pose: both arms straight and level -- wrist to wrist is at least 97 % of the path
    wrist -> shoulder -> shoulder -> wrist, at right angles (within 6 degrees) to the spine.
    Jump: some joint moves from frame 0 to 1 more than 3 times as far as any joint moves
    between any two later frames.  Checked on the CMU conversion: the 10 takes 007_03-007_12
    start so (2.4-3.1 m jumps, later steps at most 11 cm); 003_02 opens in a real T-pose
    and moves on smoothly (2.5 cm), and is kept.
    """
    if motion.num_frames < 2:
        return False
    pos, present = canonical_positions(motion.names, motion.positions)
    k = {c: i for i, c in enumerate(BVH_CANONICAL)}
    need = ("hips", "neck", "l_shoulder", "r_shoulder", "l_wrist", "r_wrist")
    if not all(present[0, k[c]] == 1.0 for c in need):
        return False
    p = {c: pos[0, k[c]].astype(np.float64) for c in need}
    span = p["l_wrist"] - p["r_wrist"]
    path = (np.linalg.norm(p["l_wrist"] - p["l_shoulder"]) + np.linalg.norm(p["l_shoulder"] - p["r_shoulder"])
            + np.linalg.norm(p["r_shoulder"] - p["r_wrist"]))
    spine = p["neck"] - p["hips"]
    norms = np.linalg.norm(span) * np.linalg.norm(spine)
    if path <= 0 or norms <= 0:
        return False
    straight = np.linalg.norm(span) / path >= 0.97
    level = abs(float(span @ spine)) / norms <= np.sin(np.radians(6.0))
    used = present.max(axis=0) == 1.0
    steps = np.linalg.norm(np.diff(pos[:, used], axis=0), axis=-1).max(axis=-1)
    later = steps[1:].max() if len(steps) > 1 else 0.0
    return bool(straight and level and steps[0] > 3.0 * later)


def read_cmu_bvh(path: str | Path, *, drop_tpose: bool | None = None) -> BvhMotion:
    """Read a CMU take as converted for iClone (``CC_Base_*`` joints, centimetres, 60 fps).

    ``drop_tpose``: ``True`` drops frame 0, ``False`` keeps it, ``None`` (default) drops it
    when :func:`starts_with_tpose` says it is a prepended T-pose.  A file without the
    body joints the name table needs raises :class:`SkeletonFileError` naming them.  Pass
    the result to ``bvh_to_ntu(motion, up="auto")``: the four takes with an ``RL_BoneRoot``
    store a Z-up hierarchy but pose it Y up, all others are Y up throughout.
    """
    path = Path(path)
    motion = read_bvh(path)
    _check_body(motion, path)
    return _drop_tpose(motion, path, drop_tpose)


def _check_body(motion: BvhMotion, path: Path) -> None:
    """Raise :class:`SkeletonFileError` naming the body joints the name table cannot find."""
    present = canonical_positions(motion.names, motion.positions[:1])[1][0]
    missing = [c for c, p in zip(BVH_CANONICAL, present) if c in CMU_REQUIRED and p == 0]
    if missing:
        looked = ", ".join(f"{c} ({BVH_NAME_TABLE[c][-1]})" for c in missing)
        raise SkeletonFileError(path, f"not a complete body: no joint for {looked}")


def _drop_tpose(motion: BvhMotion, path: Path, drop_tpose: bool | None) -> BvhMotion:
    if drop_tpose is None:
        drop_tpose = starts_with_tpose(motion)
    if drop_tpose:
        if motion.num_frames < 2:
            raise SkeletonFileError(path, "cannot drop the T-pose frame: it is the only frame")
        motion = dataclasses.replace(motion, motion=motion.motion[1:], positions=motion.positions[1:])
    return motion


def read_bvh_skeleton(path: str | Path) -> tuple[BvhMotion, np.ndarray, np.ndarray]:
    """Any BVH take with a whole body, in the convention: ``(motion, joints[T, 25, 3], confidence[T, 25])``.

    One reading for every rig the name table knows: a CMU ``CC_Base_*`` take loses its
    prepended T-pose (as :func:`read_cmu_bvh`), other files keep every frame; the vertical
    is read off the posed spine (``up="auto"``), centimetres are assumed.  ``motion.fps`` is
    the file's frame rate.  A file without the body joints raises :class:`SkeletonFileError`.
    """
    path = Path(path)
    motion = read_bvh(path)
    _check_body(motion, path)
    if any(n.startswith("CC_Base_") for n in motion.names):
        motion = _drop_tpose(motion, path, None)
    if motion.fps <= 0:
        raise SkeletonFileError(path, f"'Frame Time: {motion.frame_time:g}' is not a positive frame time")
    joints, confidence = bvh_to_ntu(motion, up="auto")
    return motion, joints, confidence


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

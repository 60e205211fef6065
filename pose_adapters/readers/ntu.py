"""Raw NTU RGB+D 60/120 ``.skeleton`` files (Kinect v2, 25 joints, already the convention).

Layout (whitespace-separated text): the frame count; then per frame the body
count and, per body, a line of 10 body fields (tracking id, clipped edges, hand
confidences and states, restricted flag, lean x/y, tracking state), the joint
count (25) and 25 lines of 12 joint fields (x, y, z metres; depth-map x, y;
colour-image x, y; orientation w, x, y, z; tracking state 0/1/2).

Bodies are followed by tracking id.  Frames may hold no body, and the sensor
sometimes adds short-lived noisy "bodies" (a chair, a reflection).  The reader
keeps every body in :attr:`NtuSkeleton.bodies` and picks the ``max_bodies`` most
active for :attr:`NtuSkeleton.joints`:

1. bodies seen in fewer than :data:`MIN_BODY_FRAMES` frames rank last, then
   bodies wider than they are tall (x spread > :data:`MAX_SPREAD_RATIO` x y
   spread: not a standing or sitting person) -- so noise is only taken when
   there is nothing better;
2. within those groups bodies rank by activity, the summed standard deviation
   of their joint coordinates over the frames they appear in (how much they move);
3. the chosen bodies are ordered by first appearance.

Confidence: tracked joints 1.0, inferred joints :data:`INFERRED`, untracked
joints and absent bodies 0.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._text import parse_floats, parse_int, read_lines
from .errors import SkeletonFileError

#: Confidence of joints the Kinect marks as inferred (tracking state 1).
INFERRED = 0.5
#: Bodies seen in fewer frames than this are noise when there are spare bodies.
MIN_BODY_FRAMES = 11
#: Bodies whose x spread exceeds this times their y spread are noise when there are spare bodies.
MAX_SPREAD_RATIO = 0.8
_NAME = re.compile(r"^S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})$")
_STATE_CONF = np.array([0.0, INFERRED, 1.0], np.float32)


@dataclass(frozen=True)
class NtuBody:
    """Everything the file says about one tracked body.

    frames: ``[n]`` frame indices where it appears; slots: ``[n]`` its position among
    that frame's bodies; info: ``[n, 9]`` the body-line fields after the tracking id;
    fields: ``[n, 25, 11]`` the joint fields before the tracking state; state: ``[n, 25]``.
    """

    tracking_id: int
    frames: np.ndarray
    slots: np.ndarray
    info: np.ndarray
    fields: np.ndarray
    state: np.ndarray

    @property
    def joints(self) -> np.ndarray:
        """``[n, 25, 3]`` camera-space metres."""
        return self.fields[..., :3]

    @property
    def activity(self) -> float:
        """Summed standard deviation of the joint coordinates over the body's frames (finite values only)."""
        j = self.joints
        ok = np.isfinite(j).all(axis=-1)
        if len(self.frames) < 2:
            return 0.0
        n = ok.sum(axis=0)[:, None]
        mean = np.where(ok[..., None], j, 0.0).sum(axis=0) / np.maximum(n, 1)
        var = np.where(ok[..., None], (np.where(ok[..., None], j, 0.0) - mean) ** 2, 0.0).sum(axis=0) / np.maximum(n, 1)
        return float(np.sqrt(var).sum())

    @property
    def spread_ratio(self) -> float:
        """Mean over frames of (x extent / y extent) of the joints."""
        j = np.where(np.isfinite(self.joints), self.joints, 0.0)
        x = np.ptp(j[..., 0], axis=1)
        y = np.ptp(j[..., 1], axis=1)
        return float(np.mean(x / np.maximum(y, 1e-6)))


@dataclass(frozen=True)
class NtuSkeleton:
    """One ``.skeleton`` file.

    joints: ``[M, T, 25, 3]`` float32 metres for the chosen bodies (zeros where absent);
    confidence: ``[M, T, 25]``; image_points: ``[M, T, 25, 2]`` colour-image pixels
    (1920x1080); body_counts: ``[T]`` bodies per frame as in the file; chosen:
    indices into ``bodies``.  The name fields are None when the file name does not
    follow ``SsssCcccPpppRrrrAaaa``.
    """

    name: str
    setup: int | None
    camera: int | None
    performer: int | None
    replication: int | None
    action: int | None
    body_counts: np.ndarray
    bodies: tuple[NtuBody, ...]
    chosen: tuple[int, ...]
    joints: np.ndarray
    confidence: np.ndarray
    image_points: np.ndarray

    @property
    def num_frames(self) -> int:
        return len(self.body_counts)


def parse_ntu_name(name: str) -> tuple[int, int, int, int, int] | None:
    """``"S001C002P003R002A013"`` -> (setup, camera, performer, replication, action), or None."""
    m = _NAME.match(Path(name).name.split(".")[0])
    return tuple(int(g) for g in m.groups()) if m else None  # type: ignore[return-value]


def _choose(bodies: list[NtuBody], max_bodies: int) -> list[int]:
    """Indices of the chosen bodies: short-lived, then wide, bodies rank last; then by activity."""
    def rank(i: int) -> tuple[bool, bool, float]:
        b = bodies[i]
        return (len(b.frames) < MIN_BODY_FRAMES, b.spread_ratio > MAX_SPREAD_RATIO, -b.activity)

    ranked = sorted(range(len(bodies)), key=rank)[:max_bodies]
    return sorted(ranked, key=lambda i: (bodies[i].frames[0], bodies[i].slots[0]))


def read_ntu_skeleton(path: str | Path, max_bodies: int = 2) -> NtuSkeleton:
    """Read one raw ``.skeleton`` file; malformed files raise :class:`SkeletonFileError`."""
    path = Path(path)
    lines = read_lines(path)
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise SkeletonFileError(path, "empty file")
    num_frames = parse_int(path, lines, 0, "frame count", minimum=1)
    if num_frames > len(lines) - 1:  # every frame takes a line: do not allocate for a count the file cannot hold
        raise SkeletonFileError(
            path, f"file ends early: the header promises {num_frames} frames, only {len(lines) - 1} lines follow",
            line=len(lines))
    raw: dict[tuple[int, int], dict[str, list]] = {}
    counts = np.zeros(num_frames, np.int32)
    i = 1
    for t in range(num_frames):
        if i >= len(lines):
            raise SkeletonFileError(
                path, f"file ends early: the header promises {num_frames} frames, found {t}", line=len(lines)
            )
        n_bodies = parse_int(path, lines, i, f"body count of frame {t + 1}")
        if n_bodies > len(lines):  # each body takes 27 lines: such a count cannot be real
            raise SkeletonFileError(path, f"frame {t + 1} declares {n_bodies} bodies, more than the file can hold",
                                    line=i + 1)
        counts[t] = n_bodies
        i += 1
        seen: dict[int, int] = {}
        for slot in range(n_bodies):
            if i >= len(lines):
                raise SkeletonFileError(path, f"file ends early inside frame {t + 1}", line=len(lines))
            body_line = lines[i].split()
            if len(body_line) != 10:
                raise SkeletonFileError(path, f"expected 10 fields on a body line, found {len(body_line)}", line=i + 1)
            try:
                tracking_id = int(body_line[0])
                info = [float(v) for v in body_line[1:]]
            except ValueError:
                raise SkeletonFileError(path, f"body line has a non-numeric field: {lines[i].strip()[:60]!r}", line=i + 1) from None
            n_joints = parse_int(path, lines, i + 1, "joint count")
            if n_joints != 25:
                raise SkeletonFileError(path, f"joint count is {n_joints}, expected 25", line=i + 2)
            block = parse_floats(path, lines, i + 2, 25, 12, "joint")
            state = block[:, 11]
            if not np.isin(state, (0, 1, 2)).all():
                k = int(np.flatnonzero(~np.isin(state, (0, 1, 2)))[0])
                raise SkeletonFileError(path, f"joint tracking state {block[k, 11]:g} is not 0, 1 or 2", line=i + 3 + k)
            occurrence = seen.get(tracking_id, 0)
            seen[tracking_id] = occurrence + 1
            b = raw.setdefault((tracking_id, occurrence), {"frames": [], "slots": [], "info": [], "fields": [], "state": []})
            b["frames"].append(t)
            b["slots"].append(slot)
            b["info"].append(info)
            b["fields"].append(block[:, :11])
            b["state"].append(block[:, 11].astype(np.int8))
            i += 2 + 25
    if i < len(lines):
        raise SkeletonFileError(path, f"unexpected content after the last of {num_frames} frames", line=i + 1)
    bodies = [
        NtuBody(key[0], np.array(b["frames"]), np.array(b["slots"]), np.array(b["info"]),
                np.stack(b["fields"]), np.stack(b["state"]))
        for key, b in raw.items()
    ]
    chosen = _choose(bodies, max_bodies) if bodies else []
    m = max(1, len(chosen))
    joints = np.zeros((m, num_frames, 25, 3), np.float32)
    conf = np.zeros((m, num_frames, 25), np.float32)
    pixels = np.zeros((m, num_frames, 25, 2), np.float32)
    for k, b in enumerate(bodies[c] for c in chosen):
        xyz = b.joints
        ok = np.isfinite(xyz).all(-1) & (xyz != 0).any(-1)
        joints[k, b.frames] = np.where(ok[..., None], xyz, 0.0)
        conf[k, b.frames] = np.where(ok, _STATE_CONF[b.state], 0.0)
        pixels[k, b.frames] = b.fields[..., 5:7]
    fields = parse_ntu_name(path.name) or (None,) * 5
    return NtuSkeleton(path.name.split(".")[0], *fields, body_counts=counts, bodies=tuple(bodies),
                       chosen=tuple(chosen), joints=joints, confidence=conf, image_points=pixels)


def write_ntu_skeleton(skeleton: NtuSkeleton, path: str | Path) -> None:
    """Write every body of ``skeleton`` back in the raw ``.skeleton`` format (lossless)."""
    per_frame: list[list[tuple[int, NtuBody, int]]] = [[] for _ in range(skeleton.num_frames)]
    for b in skeleton.bodies:
        for row, (t, slot) in enumerate(zip(b.frames, b.slots)):
            per_frame[t].append((int(slot), b, row))
    num = lambda v: repr(float(v)) if v != int(v) else str(int(v))  # noqa: E731
    out = [str(skeleton.num_frames)]
    for frame in per_frame:
        out.append(str(len(frame)))
        for _, b, row in sorted(frame, key=lambda e: e[0]):
            out.append(" ".join([str(b.tracking_id)] + [num(v) for v in b.info[row]]))
            out.append("25")
            for j in range(25):
                out.append(" ".join([num(v) for v in b.fields[row, j]] + [str(int(b.state[row, j]))]))
    Path(path).write_text("\n".join(out) + "\n")

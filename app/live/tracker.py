"""Stable person ids across frames: skeletons in, tracks out.

:class:`Tracker` matches each frame's skeletons to the tracks it holds by one optimal
assignment (Hungarian, :func:`scipy.optimize.linear_sum_assignment`) on a cost that mixes
box overlap and the mean distance between corresponding joints, both measured against
where each track is predicted to be now (constant velocity of its box centre).  An
unmatched track coasts: it is still reported, with its last skeleton, for ``coast_s``;
it is remembered, and can take its id back, for ``reset_after_s``; then it ends.  Ids
only ever grow, so an id that ended never comes back on someone else.

Positions are the skeletons' ``image_points`` (pixels).  MediaPipe's world joints are
centred on each person's own hips, so they say nothing about where people are; only for a
skeleton without image points (a skeleton file) are the joints' x, y used, in metres.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..types import Skeleton

#: cost above which a skeleton and a track are never matched
NO_MATCH = 1e6


@dataclass(frozen=True)
class Track:
    """One person followed across frames.

    id: stable while the track lives, never reused.  skeleton: the last matched skeleton.
    box: ``[4]`` float32 ``x0, y0, x1, y1`` around ``skeleton.image_points`` in pixels (around the
    joints' x, y in metres for a skeleton with no image points; NaN when neither has a point).
    age: frames since the track began (0 on its first); hits: frames it was matched on;
    missed: consecutive frames without a match (0 = seen this frame); last_seen: time of the last match.
    """

    id: int
    skeleton: Skeleton
    box: np.ndarray
    age: int
    hits: int
    missed: int
    last_seen: float

    @property
    def area(self) -> float:
        b = self.box
        return float((b[2] - b[0]) * (b[3] - b[1])) if np.isfinite(b).all() else 0.0

    @property
    def center(self) -> np.ndarray:
        """``[2]`` centre of :attr:`box`."""
        return np.array([(self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2], np.float32)


def skeleton_points(skeleton: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    """``[25, 2]`` positions of the joints (image pixels, else joint x, y in metres) and a ``[25]``
    mask of the joints that are seen (confidence > 0 and finite)."""
    if skeleton.image_points is not None and np.isfinite(skeleton.image_points).any():
        pts = np.asarray(skeleton.image_points, np.float64)
    else:
        pts = np.asarray(skeleton.joints, np.float64)[:, :2]
    seen = np.isfinite(pts).all(-1) & (np.asarray(skeleton.confidence) > 0)
    return pts, seen


def skeleton_box(skeleton: Skeleton) -> np.ndarray:
    """``[4]`` box ``x0, y0, x1, y1`` around the seen joints of :func:`skeleton_points`; NaN when none is seen."""
    pts, seen = skeleton_points(skeleton)
    if not seen.any():
        return np.full(4, np.nan, np.float32)
    p = pts[seen]
    return np.array([*p.min(0), *p.max(0)], np.float32)


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two ``[4]`` boxes (0 when either is NaN or empty)."""
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return 0.0
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def _box_size(box: np.ndarray) -> float:
    """The longer side of a box (the scale joint distances are measured against), at least a tiny epsilon."""
    if not np.isfinite(box).all():
        return 1e-6
    return float(max(box[2] - box[0], box[3] - box[1], 1e-6))


def joint_distance(a_pts: np.ndarray, a_seen: np.ndarray, b_pts: np.ndarray, b_seen: np.ndarray) -> float:
    """Mean distance between the joints both skeletons see (inf when they share none)."""
    both = a_seen & b_seen
    if not both.any():
        return float("inf")
    return float(np.linalg.norm(a_pts[both] - b_pts[both], axis=-1).mean())


@dataclass
class _State:
    """A track's mutable state inside the tracker (the public view is :class:`Track`)."""

    id: int
    skeleton: Skeleton
    points: np.ndarray          # [25, 2] positions at last_seen
    seen: np.ndarray            # [25] bool
    box: np.ndarray             # [4] at last_seen
    last_seen: float
    born: int                   # frame counter at birth
    hits: int = 1
    missed: int = 0
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))  # box-centre units per second

    def shift(self, t: float, horizon: float) -> np.ndarray:
        """Predicted displacement since the last match: constant velocity, for at most ``horizon`` s."""
        return self.velocity * min(max(t - self.last_seen, 0.0), horizon)


class Tracker:
    """Gives the people of each frame stable ids.

    Args:
        max_persons: most tracks held at once; a new person beyond that is ignored unless a
            track that is only remembered (not reported) can make room.
        reset_after_s: a track unmatched for longer than this ends, and its id is retired.
        coast_s: an unmatched track is still reported (with its last skeleton) for this long.
        iou_weight: share of the cost from box overlap (``1 - IoU``); the rest is the mean joint
            distance divided by the track's box size.
        max_distance: joint distance, in box sizes, beyond which a skeleton never matches a
            track (boxes decide, IoU > 0.3, only when the two share no seen joint).
        duplicate_iou, duplicate_distance: two skeletons of one frame whose boxes overlap more
            than ``duplicate_iou``, or whose joints lie within ``duplicate_distance`` box sizes,
            are one person: the more confident is kept, so a duplicate never starts a track.

    :meth:`update` must be called with increasing ``t``, once per frame (also with no
    skeletons).  ``ended`` lists the ids that ended during the last update.
    """

    def __init__(self, max_persons: int = 3, reset_after_s: float = 1.0, coast_s: float = 0.3,
                 iou_weight: float = 0.5, max_distance: float = 1.0, duplicate_iou: float = 0.6,
                 duplicate_distance: float = 0.15) -> None:
        if max_persons < 1:
            raise ValueError(f"max_persons must be at least 1, got {max_persons}")
        if coast_s < 0 or reset_after_s < coast_s:
            raise ValueError(f"need 0 <= coast_s <= reset_after_s, got coast_s={coast_s}, reset_after_s={reset_after_s}")
        self.max_persons = int(max_persons)
        self.reset_after_s = float(reset_after_s)
        self.coast_s = float(coast_s)
        self.iou_weight = float(iou_weight)
        self.max_distance = float(max_distance)
        self.duplicate_iou = float(duplicate_iou)
        self.duplicate_distance = float(duplicate_distance)
        self.ended: tuple[int, ...] = ()
        self._tracks: list[_State] = []
        self._next_id = 0
        self._frame = 0
        self._t: float | None = None

    def reset(self) -> None:
        """Forget every track (ids keep growing: none is ever reused)."""
        self.ended = tuple(s.id for s in self._tracks)
        self._tracks = []
        self._t = None

    # -- the per-frame step ------------------------------------------------------------------

    def update(self, t: float, skeletons: list[Skeleton]) -> list[Track]:
        """Match this frame's ``skeletons`` to the tracks; returns the reported tracks, by id.

        Reported are the tracks matched now (``missed == 0``) and those coasting (unmatched for at
        most ``coast_s``).  Tracks unmatched for longer than ``reset_after_s`` end (``self.ended``).
        """
        t = float(t)
        if self._t is not None and t < self._t:
            raise ValueError(f"tracker times must not go back: {t} after {self._t}")
        self._t = t
        self._frame += 1
        dets = self._deduplicate([s for s in skeletons if s is not None])
        pts = [skeleton_points(s) for s in dets]
        boxes = [skeleton_box(s) for s in dets]

        matched_tracks: set[int] = set()
        matched_dets: set[int] = set()
        if self._tracks and dets:
            cost = self._cost(t, pts, boxes)
            from scipy.optimize import linear_sum_assignment

            rows, cols = linear_sum_assignment(cost)
            for r, c in zip(rows, cols):
                if cost[r, c] < NO_MATCH:
                    self._match(self._tracks[r], t, dets[c], pts[c], boxes[c])
                    matched_tracks.add(r)
                    matched_dets.add(c)

        for r, track in enumerate(self._tracks):
            if r not in matched_tracks:
                track.missed += 1
        ended = [s.id for s in self._tracks if t - s.last_seen > self.reset_after_s]
        self._tracks = [s for s in self._tracks if t - s.last_seen <= self.reset_after_s]

        # A new person, unless it is a second fit of someone matched this frame.
        for c in sorted(set(range(len(dets))) - matched_dets, key=lambda c: -float(dets[c].confidence.mean())):
            if any(self._same_person(pts[c], boxes[c], s.points, s.seen, s.box) for s in self._tracks if s.missed == 0):
                continue
            if len(self._tracks) >= self.max_persons and not self._make_room(t, ended):
                continue
            self._tracks.append(_State(self._next_id, dets[c], pts[c][0], pts[c][1], boxes[c], t, self._frame))
            self._next_id += 1
        self.ended = tuple(ended)
        return [self._public(s) for s in sorted(self._tracks, key=lambda s: s.id)
                if t - s.last_seen <= self.coast_s]

    @property
    def tracks(self) -> list[Track]:
        """Every track held, reported or only remembered, by id."""
        return [self._public(s) for s in sorted(self._tracks, key=lambda s: s.id)]

    # -- pieces --------------------------------------------------------------------------------

    def _cost(self, t: float, pts: list[tuple[np.ndarray, np.ndarray]], boxes: list[np.ndarray]) -> np.ndarray:
        """``[tracks, skeletons]`` cost: ``w (1 - IoU) + (1 - w) min(d / size, max_distance)``, NO_MATCH when gated."""
        cost = np.full((len(self._tracks), len(pts)), NO_MATCH)
        for r, s in enumerate(self._tracks):
            shift = s.shift(t, self.coast_s)
            box = s.box + np.tile(shift, 2)
            size = _box_size(box)
            for c, ((p, seen), b) in enumerate(zip(pts, boxes)):
                iou = box_iou(box, b)
                d = joint_distance(s.points + shift, s.seen, p, seen) / size
                # Joints decide; boxes alone only when the two share no seen joint.
                if not (d <= self.max_distance or (not np.isfinite(d) and iou > 0.3)):
                    continue
                cost[r, c] = self.iou_weight * (1 - iou) + (1 - self.iou_weight) * min(d, self.max_distance)
        return cost

    def _match(self, s: _State, t: float, skeleton: Skeleton, pts: tuple[np.ndarray, np.ndarray],
               box: np.ndarray) -> None:
        dt = t - s.last_seen
        if dt > 0 and np.isfinite(box).all() and np.isfinite(s.box).all():
            step = (box[:2] + box[2:] - s.box[:2] - s.box[2:]) / 2 / dt
            # Smoothed so one jittery box does not throw the prediction; reset after a long gap.
            s.velocity = step if s.missed > 0 and dt > self.coast_s else 0.5 * s.velocity + 0.5 * step
        s.skeleton, s.points, s.seen, s.box = skeleton, pts[0], pts[1], box
        s.last_seen = t
        s.hits += 1
        s.missed = 0

    def _same_person(self, a_pts: tuple[np.ndarray, np.ndarray], a_box: np.ndarray,
                     b_points: np.ndarray, b_seen: np.ndarray, b_box: np.ndarray) -> bool:
        if box_iou(a_box, b_box) > self.duplicate_iou:
            return True
        size = min(_box_size(a_box), _box_size(b_box))
        return joint_distance(a_pts[0], a_pts[1], b_points, b_seen) < self.duplicate_distance * size

    def _deduplicate(self, skeletons: list[Skeleton]) -> list[Skeleton]:
        """Most confident first, dropping any skeleton that is the same person as one kept."""
        kept: list[tuple[Skeleton, tuple[np.ndarray, np.ndarray], np.ndarray]] = []
        for s in sorted(skeletons, key=lambda s: -float(np.asarray(s.confidence).mean())):
            p, b = skeleton_points(s), skeleton_box(s)
            if not p[1].any():
                continue
            if not any(self._same_person(p, b, kp[0], kp[1], kb) for _, kp, kb in kept):
                kept.append((s, p, b))
        return [s for s, _, _ in kept]

    def _make_room(self, t: float, ended: list[int]) -> bool:
        """End the stalest track that is only remembered (unmatched beyond ``coast_s``), if any."""
        stale = [s for s in self._tracks if t - s.last_seen > self.coast_s]
        if not stale:
            return False
        victim = min(stale, key=lambda s: s.last_seen)
        self._tracks.remove(victim)
        ended.append(victim.id)
        return True

    def _public(self, s: _State) -> Track:
        return Track(s.id, s.skeleton, s.box.copy(), self._frame - s.born, s.hits, s.missed, s.last_seen)


def largest(tracks: list[Track]) -> Track | None:
    """The track with the largest box (the default selected person); ties go to the lower id."""
    if not tracks:
        return None
    return max(tracks, key=lambda tr: (tr.area, -tr.id))


def closest_pair(tracks: list[Track]) -> tuple[Track, Track] | None:
    """The two tracks whose skeletons are closest, lower id first; None with fewer than two.

    Closeness is the distance between box centres divided by the pair's mean box height, so two
    people far from the camera (small, close in pixels) do not win over an interacting pair near it.
    """
    best: tuple[float, Track, Track] | None = None
    for i, a in enumerate(tracks):
        for b in tracks[i + 1:]:
            if not (np.isfinite(a.box).all() and np.isfinite(b.box).all()):
                continue
            height = max((a.box[3] - a.box[1] + b.box[3] - b.box[1]) / 2, 1e-6)
            d = float(np.linalg.norm(a.center - b.center)) / height
            if best is None or d < best[0]:
                best = (d, a, b) if a.id < b.id else (d, b, a)
    return None if best is None else (best[1], best[2])

"""Recording a take from the live pipeline (Qt-free): skeletons in, one library clip out.

:class:`Take` collects the runtime's processed frames (a skeleton, or None when
nobody was in view) with their times while the user records; :meth:`Take.arrays`
gives the clip in the library's layout, and :func:`trim_bounds` drops the
empty frames at either end so a clip starts and ends with the person.

A take of a pair (``Take(persons=2)``: a two-person action, for a two-person model)
holds the person followed and their partner on each frame; :class:`Follow` says which
skeletons of a runtime snapshot go in, and :func:`partner_of` picks the partner by the
live pipeline's own rule (:func:`app.live.tracker.closest_pair`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ..live.tracker import Track, closest_pair
from ..types import Skeleton


@dataclass
class Take:
    """Frames of one recording, in arrival order.

    ``add(t, skeleton)`` ignores a frame already seen (same time) or older than the
    last one (a file restarted): the clip's timestamps must increase.  With
    ``persons=2`` each frame also holds the partner's skeleton (None: not in view).
    """

    source: str = ""
    persons: int = 1
    times: list[float] = field(default_factory=list)
    skeletons: list[Skeleton | None] = field(default_factory=list)
    partners: list[Skeleton | None] = field(default_factory=list)
    preview_image: np.ndarray | None = None  # BGR [H, W, 3], a frame from the middle of the take
    _images: list[Any] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if self.persons not in (1, 2):
            raise ValueError(f"a take holds one person or a pair, not {self.persons}")

    def add(self, t: float, skeleton: Skeleton | None, image: np.ndarray | None = None,
            partner: Skeleton | None = None) -> bool:
        if self.times and t <= self.times[-1]:
            return False
        self.times.append(float(t))
        self.skeletons.append(skeleton)
        self.partners.append(partner if self.persons == 2 else None)
        if image is not None and (skeleton is not None or partner is not None):
            # Keep a few candidate images only; the preview is the one nearest the middle.
            self._images.append((len(self.times) - 1, image))
            if len(self._images) > 8:
                self._images = self._images[::2]
        return True

    def __len__(self) -> int:
        return len(self.times)

    @property
    def seen(self) -> np.ndarray:
        """``[T]`` whether each frame had a person (either one of a pair)."""
        return _seen(self.skeletons) | (_seen(self.partners) if self.persons == 2 else False)

    @property
    def partner_seen(self) -> np.ndarray:
        """``[T]`` whether each frame had the partner (all False for a one-person take)."""
        return _seen(self.partners) if self.persons == 2 else np.zeros(len(self.times), bool)

    @property
    def duration_s(self) -> float:
        return self.times[-1] - self.times[0] if len(self.times) > 1 else 0.0

    def arrays(self, start: int = 0, end: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``joints[T, 25, 3]`` float32, ``confidence[T, 25]`` float32, ``timestamps[T]`` float64 of frames ``start:end``.

        A pair's are ``joints[2, T, 25, 3]`` and ``confidence[2, T, 25]`` (the person followed
        first); a frame without one of them has zeros, confidence 0, in that person's row.
        """
        sl = slice(start, end)
        ts = self.times[sl]
        rows = [self.skeletons[sl]] + ([self.partners[sl]] if self.persons == 2 else [])
        joints = np.zeros((len(rows), len(ts), 25, 3), np.float32)
        conf = np.zeros((len(rows), len(ts), 25), np.float32)
        for m, sk in enumerate(rows):
            for i, s in enumerate(sk):
                if s is not None:
                    joints[m, i], conf[m, i] = s.joints, s.confidence
        if self.persons == 1:
            joints, conf = joints[0], conf[0]
        return joints, conf, np.asarray(ts, np.float64)

    def preview(self, start: int = 0, end: int | None = None) -> np.ndarray | None:
        """The kept image nearest the middle of frames ``start:end`` (None without images)."""
        if self.preview_image is not None:
            return self.preview_image
        if not self._images:
            return None
        stop = len(self.times) if end is None else (end if end >= 0 else len(self.times) + end)
        mid = (start + stop) / 2
        return min(self._images, key=lambda ki: abs(ki[0] - mid))[1]


def _seen(skeletons: Sequence[Skeleton | None]) -> np.ndarray:
    return np.array([s is not None and bool((np.asarray(s.confidence) > 0).any()) for s in skeletons], bool)


def trim_bounds(seen: np.ndarray) -> tuple[int, int]:
    """``(start, end)`` frame slice from the first to the last frame with a person ((0, 0) when none)."""
    idx = np.flatnonzero(seen)
    if idx.size == 0:
        return 0, 0
    return int(idx[0]), int(idx[-1]) + 1


# --- pairs ----------------------------------------------------------------------------------------

def partner_of(persons: Sequence[Any], selected: int | None) -> int | None:
    """The id of the person a pair take records with ``selected``, from one snapshot's ``persons``
    (:class:`app.live.pipeline.PersonResult`: ``id``, ``box``, ``skeleton``, ``partner``); None when
    there is nobody to pair them with.

    The live pipeline's rule: when a two-person model paired the selected person, their
    ``partner`` is the one (exactly the pair the model judges).  Otherwise
    :func:`app.live.tracker.closest_pair` -- the function the pipeline pairs with -- over the
    people in view on this frame; when the closest pair leaves the selected person out (three
    or more people), those two are taken and the rule is applied again to the rest.
    """
    if selected is None:
        return None
    me = next((p for p in persons if p.id == selected), None)
    if me is None or me.skeleton is None:
        return None
    if getattr(me, "partner", None) is not None:
        return int(me.partner)
    left = [Track(int(p.id), p.skeleton, np.asarray(p.box, np.float32), 0, 1, 0, 0.0)
            for p in persons if p.skeleton is not None]
    while len(left) >= 2:
        pair = closest_pair(left)
        if pair is None:
            return None
        a, b = pair
        if selected in (a.id, b.id):
            return b.id if a.id == selected else a.id
        left = [tr for tr in left if tr.id not in (a.id, b.id)]
    return None


@dataclass
class Follow:
    """Which skeletons of each runtime snapshot go into a take.

    The person selected when the take began (``snapshot.selected``; None in the one-person
    path, where the one skeleton is taken); frames where someone else is selected count as
    nobody, never as another person.  For a pair (``pair=True``), also their partner: chosen
    by :func:`partner_of` on the first frame that has one, then kept by id -- frames where
    that person is not in view (gone, coasting, or the take's person is not selected) leave
    the partner's row empty, so the clip stays one consistent pair.
    """

    pair: bool = False
    person: int | None = None
    partner: int | None = None

    def start(self, snapshot: Any) -> None:
        self.person = getattr(snapshot, "selected", None)
        self.partner = None

    def skeletons(self, snapshot: Any) -> tuple[Skeleton | None, Skeleton | None]:
        """``(person, partner)`` skeletons on this snapshot (partner None for a one-person take)."""
        skeleton = getattr(snapshot, "skeleton", None)
        if self.person is not None and getattr(snapshot, "selected", None) != self.person:
            return None, None
        if not self.pair:
            return skeleton, None
        persons = getattr(snapshot, "persons", ()) or ()
        if self.partner is None and skeleton is not None:
            # (a take begun with nobody in view has no person yet: pair with whoever is selected)
            self.partner = partner_of(persons, self.person if self.person is not None
                                      else getattr(snapshot, "selected", None))
        if self.partner is None:
            return skeleton, None
        other = next((p for p in persons if p.id == self.partner), None)
        return skeleton, (other.skeleton if other is not None else None)

"""From noisy per-window probabilities to a steady, user-facing action state and events.

* Exponential smoothing: ``s <- smoothing * s + (1 - smoothing) * p`` per new
  prediction (``smoothing = 0`` turns it off).
* Hysteresis: an action starts when its smoothed probability reaches
  ``threshold``; it lasts while it stays at or above ``threshold - hysteresis``
  and no other action leads it by more than ``margin``.  Without this a
  probability hovering at the threshold would flicker the label.
* Open set: a prediction's ``novelty`` (distance to the nearest known action over the
  model's calibrated threshold, :mod:`ms2l.openset`) is smoothed the same way; above
  ``rejection`` (default 1: the calibrated threshold; the window's slider moves it) the
  state is ``none`` -- "none of these" -- and no action is named.
* States: ``action``; ``none`` (unlike every known action); ``unknown`` (known kind of
  motion, no class confident enough); ``still`` (a person not moving, from the pipeline);
  ``background`` (the model's own background label -- "nothing", "idle"... -- leads: shown
  as no action, no events); ``no_person``; ``warming_up`` (the window still filling).
* Events: ``start``/``end`` :class:`~app.types.ActionEvent` with timestamps; an
  end event carries the action's duration and peak smoothed probability.
"""
from __future__ import annotations

import numpy as np

from ms2l.errors import ConfigError

from ..types import ActionEvent, ActionState, Prediction

#: Labels a user records for "no action": trained as a class like any other, displayed as no action.
BACKGROUND_LABELS = frozenset({"nothing", "idle", "background", "none", "no action", "rest", "other"})


def is_background(label: str) -> bool:
    return " ".join(label.lower().replace("_", " ").split()) in BACKGROUND_LABELS


class Smoother:
    """Turns predictions into :class:`~app.types.ActionState` objects and start/end events.

    Args:
        labels: class names, the order of every ``probs`` vector.
        threshold: smoothed probability an action needs to start.
        smoothing: weight of the history in the exponential average, in ``[0, 1)``.
        hysteresis: an action ends once its probability falls below ``threshold - hysteresis``.
        margin: another action must lead the current one by this much to take over.
    """

    def __init__(self, labels: tuple[str, ...], threshold: float = 0.5, smoothing: float = 0.5,
                 hysteresis: float = 0.1, margin: float = 0.1, rejection: float = 1.0):
        self.labels = tuple(labels)
        self._background = np.array([is_background(n) for n in self.labels], bool)
        self.configure(threshold=threshold, smoothing=smoothing, hysteresis=hysteresis, margin=margin,
                       rejection=rejection)
        self._probs: np.ndarray | None = None  # smoothed, [K]
        self._novelty: float | None = None     # smoothed
        self._action: int | None = None
        self._since = 0.0
        self._peak = 0.0
        self.state: ActionState | None = None

    def configure(self, *, threshold: float | None = None, smoothing: float | None = None,
                  hysteresis: float | None = None, margin: float | None = None, rejection: float | None = None) -> None:
        """Change settings; the current state is kept."""
        if rejection is not None:
            if not rejection > 0:
                raise ConfigError(f"rejection must be > 0 (inf: never reject), got {rejection}")
            self.rejection = float(rejection)
        if threshold is not None:
            if not 0 <= threshold <= 1:
                raise ValueError(f"threshold must be in [0, 1], got {threshold}")
            self.threshold = float(threshold)
        if smoothing is not None:
            if not 0 <= smoothing < 1:
                raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
            self.smoothing = float(smoothing)
        if hysteresis is not None:
            if hysteresis < 0:
                raise ValueError(f"hysteresis must be >= 0, got {hysteresis}")
            self.hysteresis = float(hysteresis)
        if margin is not None:
            if margin < 0:
                raise ValueError(f"margin must be >= 0, got {margin}")
            self.margin = float(margin)

    @property
    def action(self) -> str | None:
        return None if self._action is None else self.labels[self._action]

    def reset(self, t: float | None = None) -> list[ActionEvent]:
        """Forget the history; ends the current action (at ``t``) if there is one."""
        events = self._end(t) if t is not None else []
        self._probs = None
        self._novelty = None
        self._action = None
        return events

    def _end(self, t: float) -> list[ActionEvent]:
        if self._action is None:
            return []
        ev = ActionEvent(t=t, kind="end", action=self.labels[self._action],
                         extra={"duration": round(t - self._since, 4), "peak": round(self._peak, 4)})
        self._action = None
        return [ev]

    def _start(self, k: int, t: float) -> list[ActionEvent]:
        self._action, self._since, self._peak = k, t, float(self._probs[k])
        return [ActionEvent(t=t, kind="start", action=self.labels[k], extra={"p": round(float(self._probs[k]), 4)})]

    def _zeros(self) -> np.ndarray:
        return np.zeros(len(self.labels), np.float32)

    def update(self, t: float, prediction: Prediction | None = None, *, person: bool = True,
               ready: bool = True, still: bool = False) -> tuple[ActionState, list[ActionEvent]]:
        """Advance to time ``t``.

        ``prediction``: a new prediction, or None when none was made this frame
        (the state holds).  ``person``: whether a person is seen now; losing the
        person ends the current action and clears the history.  ``ready``: whether
        the window has filled (a person without a prediction yet is ``warming_up``).
        ``still``: the person has not moved lately (ends the current action).
        """
        events: list[ActionEvent] = []
        if prediction is not None and not np.isfinite(prediction.probs).all():
            prediction = None  # one NaN would poison the running average for good: hold the state instead
        if not person:
            events += self.reset(t)
            self.state = ActionState(t=t, state="no_person", action=None, probs=self._zeros(), labels=self.labels)
            return self.state, events
        if prediction is not None:
            if tuple(prediction.labels) != self.labels:
                raise ValueError("prediction labels differ from the smoother's: make a new Smoother for a new model")
            p = np.asarray(prediction.probs, np.float32)
            self._probs = p.copy() if self._probs is None else self.smoothing * self._probs + (1 - self.smoothing) * p
            if prediction.novelty is not None and np.isfinite(prediction.novelty):
                n = float(prediction.novelty)
                self._novelty = n if self._novelty is None else self.smoothing * self._novelty + (1 - self.smoothing) * n
        elif not ready:
            # Window refilling (e.g. after a reset): an old action cannot continue.
            events += self.reset(t)
        if still:
            events += self._end(t)
            probs = self._zeros() if self._probs is None else self._probs.copy()
            self.state = ActionState(t=t, state="still", action=None, probs=probs, labels=self.labels,
                                     novelty=self._novelty)
            return self.state, events
        if self._probs is None:
            self.state = ActionState(t=t, state="warming_up", action=None, probs=self._zeros(), labels=self.labels)
            return self.state, events
        s = self._probs
        nov = self._novelty
        if nov is not None and nov > self.rejection:
            events += self._end(t)
            self.state = ActionState(t=t, state="none", action=None, probs=s.copy(), labels=self.labels, novelty=nov)
            return self.state, events
        top = int(np.argmax(s))
        if self._background[top] and s[top] >= self.threshold:
            # The user's "nothing" label leads: no action, no events (it is not something that happened).
            events += self._end(t)
            self.state = ActionState(t=t, state="background", action=self.labels[top], probs=s.copy(),
                                     labels=self.labels, novelty=nov)
            return self.state, events
        if self._action is not None:
            cur = self._action
            keep = s[cur] >= self.threshold - self.hysteresis and not (top != cur and s[top] - s[cur] > self.margin
                                                                        and s[top] >= self.threshold)
            if keep:
                self._peak = max(self._peak, float(s[cur]))
            else:
                events += self._end(t)
        if self._action is None and s[top] >= self.threshold:
            events += self._start(top, t)
        state = "action" if self._action is not None else "unknown"
        self.state = ActionState(t=t, state=state, action=self.action, probs=s.copy(), labels=self.labels, novelty=nov)
        return self.state, events

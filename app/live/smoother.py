"""From noisy per-window probabilities to a steady, user-facing action state and events.

* Exponential smoothing: ``s <- smoothing * s + (1 - smoothing) * p`` per new
  prediction (``smoothing = 0`` turns it off).
* Hysteresis: an action starts when its smoothed probability reaches
  ``threshold``; it lasts while it stays at or above ``threshold - hysteresis``
  and no other action leads it by more than ``margin``.  Without this a
  probability hovering at the threshold would flicker the label.
* States: ``action``, ``unknown`` (a person, but no class confident enough),
  ``no_person`` and ``warming_up`` (a person, the window still filling).
* Events: ``start``/``end`` :class:`~app.types.ActionEvent` with timestamps; an
  end event carries the action's duration and peak smoothed probability.
"""
from __future__ import annotations

import numpy as np

from ..types import ActionEvent, ActionState, Prediction


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
                 hysteresis: float = 0.1, margin: float = 0.1):
        self.labels = tuple(labels)
        self.configure(threshold=threshold, smoothing=smoothing, hysteresis=hysteresis, margin=margin)
        self._probs: np.ndarray | None = None  # smoothed, [K]
        self._action: int | None = None
        self._since = 0.0
        self._peak = 0.0
        self.state: ActionState | None = None

    def configure(self, *, threshold: float | None = None, smoothing: float | None = None,
                  hysteresis: float | None = None, margin: float | None = None) -> None:
        """Change settings; the current state is kept."""
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
               ready: bool = True) -> tuple[ActionState, list[ActionEvent]]:
        """Advance to time ``t``.

        ``prediction``: a new prediction, or None when none was made this frame
        (the state holds).  ``person``: whether a person is seen now; losing the
        person ends the current action and clears the history.  ``ready``: whether
        the window has filled (a person without a prediction yet is ``warming_up``).
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
        elif not ready:
            # Window refilling (e.g. after a reset): an old action cannot continue.
            events += self.reset(t)
        if self._probs is None:
            self.state = ActionState(t=t, state="warming_up", action=None, probs=self._zeros(), labels=self.labels)
            return self.state, events
        s = self._probs
        top = int(np.argmax(s))
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
        self.state = ActionState(t=t, state=state, action=self.action, probs=s.copy(), labels=self.labels)
        return self.state, events

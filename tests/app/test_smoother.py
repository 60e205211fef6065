"""Smoother: exponential smoothing, hysteresis, the four states and start/end events."""
from __future__ import annotations

import numpy as np
import pytest

from app.live.smoother import Smoother
from app.types import Prediction

LABELS = ("wave", "clap", "squat")


def pred(t: float, *p: float) -> Prediction:
    return Prediction(t=t, probs=np.array(p, np.float32), labels=LABELS)


def test_states_before_and_without_a_person():
    s = Smoother(LABELS)
    st, ev = s.update(0.0, None, person=False)
    assert st.state == "no_person" and st.action is None and ev == []
    st, _ = s.update(0.1, None, person=True, ready=False)
    assert st.state == "warming_up" and st.probs.shape == (3,)
    st, _ = s.update(0.2, pred(0.2, 0.4, 0.3, 0.3))
    assert st.state == "unknown" and st.action is None


def test_hysteresis_keeps_an_action_near_the_threshold():
    s = Smoother(LABELS, threshold=0.5, smoothing=0.0, hysteresis=0.1)
    seq = [(0.0, 0.45), (0.1, 0.55), (0.2, 0.45), (0.3, 0.52), (0.4, 0.41), (0.5, 0.35), (0.6, 0.45), (0.7, 0.6)]
    states, events = [], []
    for t, p in seq:
        st, ev = s.update(t, pred(t, p, (1 - p) / 2, (1 - p) / 2))
        states.append(st.action)
        events += ev
    assert states == [None, "wave", "wave", "wave", "wave", None, None, "wave"]
    assert [(e.kind, e.action, e.t) for e in events] == [("start", "wave", 0.1), ("end", "wave", 0.5),
                                                         ("start", "wave", 0.7)]
    assert events[1].extra["duration"] == pytest.approx(0.4)
    assert events[1].extra["peak"] == pytest.approx(0.55)


def test_exponential_smoothing():
    s = Smoother(LABELS, threshold=0.5, smoothing=0.5)
    s.update(0.0, pred(0.0, 1.0, 0.0, 0.0))
    st, _ = s.update(0.1, pred(0.1, 0.0, 1.0, 0.0))
    np.testing.assert_allclose(st.probs, [0.5, 0.5, 0.0])
    assert st.action == "wave", "a single contrary window does not flip the label"
    np.testing.assert_allclose(st.probs.sum(), 1.0)


def test_switch_needs_a_margin():
    s = Smoother(LABELS, threshold=0.4, smoothing=0.0, hysteresis=0.1, margin=0.1)
    s.update(0.0, pred(0.0, 0.6, 0.3, 0.1))
    st, ev = s.update(0.1, pred(0.1, 0.42, 0.48, 0.1))  # clap leads by 0.06 < margin
    assert st.action == "wave" and ev == []
    st, ev = s.update(0.2, pred(0.2, 0.3, 0.6, 0.1))
    assert st.action == "clap"
    assert [(e.kind, e.action) for e in ev] == [("end", "wave"), ("start", "clap")]


def test_losing_the_person_ends_the_action_and_forgets():
    s = Smoother(LABELS, threshold=0.5, smoothing=0.9)
    s.update(0.0, pred(0.0, 0.9, 0.05, 0.05))
    st, ev = s.update(0.5, None, person=False)
    assert st.state == "no_person" and [(e.kind, e.t) for e in ev] == [("end", 0.5)]
    st, _ = s.update(0.6, pred(0.6, 0.1, 0.8, 0.1))
    assert st.action == "clap", "no history from the previous person"


def test_no_new_prediction_holds_the_state():
    s = Smoother(LABELS, smoothing=0.0)
    s.update(0.0, pred(0.0, 0.9, 0.05, 0.05))
    st, ev = s.update(0.1, None)
    assert st.action == "wave" and ev == []
    st, ev = s.update(0.2, None, ready=False)  # window reset and refilling
    assert st.state == "warming_up" and ev[0].kind == "end"


def test_bad_settings_and_labels():
    with pytest.raises(ValueError):
        Smoother(LABELS, threshold=1.5)
    with pytest.raises(ValueError):
        Smoother(LABELS, smoothing=1.0)
    s = Smoother(LABELS)
    with pytest.raises(ValueError, match="labels"):
        s.update(0.0, Prediction(t=0, probs=np.ones(2) / 2, labels=("a", "b")))

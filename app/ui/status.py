"""Text for the status line and the action label (Qt-free, so it is easy to test)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..types import STATE_TEXT, ActionState


def short_name(spec: str | None) -> str:
    """A path shown as its file name; anything else (camera:0, a URL, "default") as is."""
    if not spec:
        return "–"
    s = str(spec)
    if "://" in s or s.startswith("camera:") or "/" not in s and "\\" not in s:
        return s
    return Path(s).name or s


def _num(v: Any, fmt: str, unit: str) -> str:
    try:
        return f"{format(float(v), fmt)} {unit}" if v is not None else "–"
    except (TypeError, ValueError):
        return "–"


def format_stats(stats: Any) -> str:
    """``RuntimeStats`` -> one status line: source, model, device, fps, latency, dropped."""
    if stats is None:
        return "No source"
    g = lambda name: getattr(stats, name, None)  # noqa: E731 - tolerate older/newer stats objects
    if not g("frames"):
        # Rates of a source that has delivered nothing are unknown, not zero.
        stats_none = {"camera_fps": None, "processing_fps": None, "latency_ms": None}
        g = lambda name, _g=g: stats_none[name] if name in stats_none else _g(name)  # noqa: E731
    return "   ·   ".join([
        f"Source: {short_name(g('source'))}",
        f"Model: {short_name(g('model'))}",
        f"Device: {g('device') or '–'}",
        f"Camera: {_num(g('camera_fps'), '.1f', 'fps')}",
        f"Processing: {_num(g('processing_fps'), '.1f', 'fps')}",
        f"Latency: {_num(g('latency_ms'), '.0f', 'ms')}",
        f"Dropped: {g('dropped') if g('dropped') is not None else '–'}",
    ])


def action_text(state: ActionState | None) -> tuple[str, str]:
    """``(big label, small line under it)`` for the current verdict."""
    if state is None:
        return "–", ""
    if state.state == "action" and state.action:
        conf = ""
        if state.action in state.labels:
            conf = f"{100 * float(state.probs[state.labels.index(state.action)]):.0f} % confident"
        return state.action, conf
    detail = {
        "warming_up": "collecting the first frames",
        "no_person": "step into the picture",
        "unknown": "no action is above the threshold",
        "none": "this looks like none of the actions the model knows",
        "still": "a person, not moving",
        "background": f"your “{state.action}” label" if state.action else "",
    }.get(state.state, "")
    return STATE_TEXT.get(state.state, state.state), detail

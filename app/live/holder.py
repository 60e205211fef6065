"""Builds the runtime in the background, so the window opens at once -- even with no usable model.

Loading a model can take seconds (ONNX export on first use) and can fail (the
default model not installed yet, a broken file).  Neither may keep the window
from opening: :class:`RuntimeHolder` has the runtime's API, answers with an
empty snapshot while the model loads, remembers a source opened meanwhile, and
reports a failed load through :meth:`poll_errors` like any runtime error.
Qt-free.
"""
from __future__ import annotations

import dataclasses
import threading
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Callable

from ..errors import NoModelError

if TYPE_CHECKING:
    from ..settings import RuntimeSettings
    from .runtime import Runtime, RuntimeSnapshot
    from .sources import Source

RuntimeFactory = Callable[[str, "RuntimeSettings"], "Runtime"]


def _changed(old: Any, new: Any) -> dict[str, Any]:
    """The fields of dataclass ``new`` that differ from ``old``."""
    if old is new or not dataclasses.is_dataclass(new):
        return {}
    return {f.name: getattr(new, f.name) for f in dataclasses.fields(new)
            if getattr(old, f.name, None) != getattr(new, f.name)}


class RuntimeHolder:
    """Runtime-shaped: delegates to the real runtime once it exists.

    Args:
        factory: ``factory(model, settings) -> Runtime`` (called on a background thread).
        model: the model to start with.
        settings: the runtime settings to start with (a ``RuntimeSettings``).
        empty_snapshot: ``(source_name, model_text) -> snapshot`` shown while there is no runtime.
    """

    def __init__(self, factory: RuntimeFactory, model: str, settings: RuntimeSettings,
                 empty_snapshot: Callable[[str, str], RuntimeSnapshot] | None = None, background: bool = True) -> None:
        self._factory = factory
        self._settings = settings
        self._empty = empty_snapshot or (lambda source, model: None)
        self._background = background
        self._lock = threading.Lock()
        self._rt: Runtime | None = None
        self._errors: list[Exception] = []
        self._pending_source: Source | None = None
        self._paused = False
        self._model = model
        self._load_error: Exception | None = None
        self._loading: Future | None = None
        self._generation = 0
        self._load(model)

    # -- loading -------------------------------------------------------------------
    def _load(self, model: str) -> Future:
        fut: Future = Future()
        with self._lock:
            self._generation += 1
            gen = self._generation
            self._loading, self._model, self._load_error = fut, model, None

        def work() -> None:
            used = self._settings
            try:
                rt = self._factory(model, used)
            except Exception as e:  # noqa: BLE001 - reported to the user, never raised into Qt
                with self._lock:
                    if gen == self._generation:
                        self._load_error = e
                        self._errors.append(e)
                fut.set_exception(e)
                return
            with self._lock:
                if gen != self._generation or self._rt is not None:
                    stale = True  # a newer load (or a close) overtook this one
                else:
                    stale = False
                    self._rt, src, self._pending_source = rt, self._pending_source, None
            if stale:
                rt.close()
                fut.set_exception(RuntimeError(f"model {model} was superseded"))
                return
            try:
                late = _changed(used, self._settings)  # settings changed while the model loaded
                if late:
                    rt.update_settings(**late)
                if src is not None:
                    rt.open(src)
                    if self._paused:
                        rt.pause()
            except Exception as e:  # noqa: BLE001
                with self._lock:
                    self._errors.append(e)
            fut.set_result(None)

        if self._background:
            threading.Thread(target=work, name="ms2l-ui-load-model", daemon=True).start()
        else:
            work()
        return fut

    @property
    def runtime(self) -> Runtime | None:
        """The real runtime, or None while loading / after a failed load."""
        return self._rt

    @property
    def loading(self) -> bool:
        return self._rt is None and self._loading is not None and not self._loading.done()

    def wait_loaded(self, timeout: float | None = None) -> bool:
        fut = self._loading
        if fut is not None:
            try:
                fut.result(timeout)
            except Exception:  # noqa: BLE001 - reported through poll_errors
                pass
        return self._rt is not None

    # -- the runtime API -------------------------------------------------------------
    @property
    def settings(self) -> RuntimeSettings:
        return self._rt.settings if self._rt is not None else self._settings

    def open(self, source: Source) -> None:
        rt = self._rt
        if rt is not None:
            rt.open(source)
            return
        with self._lock:
            if self._rt is None and self._load_error is not None:
                raise NoModelError(f"no model is loaded ({self._load_error}); pick one in the Model list")
            if self._rt is None:
                old, self._pending_source = self._pending_source, source
            else:
                old, rt = None, self._rt
        if old is not None:
            old.close()
        if rt is not None:
            rt.open(source)

    def close(self) -> None:
        with self._lock:
            self._generation += 1  # a load still running is discarded when it ends
            rt, src, self._pending_source = self._rt, self._pending_source, None
        if rt is not None:
            rt.close()
        if src is not None:
            src.close()

    def pause(self) -> None:
        self._paused = True
        if self._rt is not None:
            self._rt.pause()

    def resume(self) -> None:
        self._paused = False
        if self._rt is not None:
            self._rt.resume()

    def set_model(self, model: str) -> Future:
        """Delegates to the runtime; with none yet, (re)builds it with ``model`` (a Future)."""
        if self._rt is not None:
            return self._rt.set_model(model)
        return self._load(model)

    def update_settings(self, **changes: Any) -> RuntimeSettings:
        if self._rt is not None:
            return self._rt.update_settings(**changes)
        old, self._settings = self._settings, self._settings.replace(**changes)
        # A load that failed for its device (cuda without a GPU) is worth another try on the new one.
        if self._load_error is not None and not self.loading and _changed(old, self._settings).keys() & {"device", "backend"}:
            self._load(self._model)
        return self._settings

    def snapshot(self) -> RuntimeSnapshot:
        rt = self._rt
        if rt is not None:
            return rt.snapshot()
        src = getattr(self._pending_source, "name", "")
        state = "loading…" if self.loading else "not loaded"
        return self._empty(src, f"{self._model} ({state})")

    def poll_errors(self) -> list[Exception]:
        with self._lock:
            out, self._errors = self._errors, []
        rt = self._rt
        return out + (list(rt.poll_errors()) if rt is not None else [])

"""The one frame every explorer widget shares: display, and a guarded, timed update.

``update()`` sets ``_updating`` (so value changes made while drawing do not re-enter), calls the
widget's ``_render()``, turns any exception into a friendly ``problem_html`` box (never a
traceback) and stores the time it took in ``last_update_ms``. Subclasses write ``_render`` and,
where something on screen would otherwise stay stale after a failure, ``_clear_stale``.
"""

from __future__ import annotations

import math
import time

from cnnedu.widgets.common import problem_html


class ExplorerWidget:
    """Base of the course's widgets: show ``self.widget``; ``update()`` redraws it safely."""

    widget = None                  # the ipywidgets tree to display, set by the subclass
    error: str | None = None       # the last update's problem in words, or None
    last_update_ms: float = math.nan
    _updating: bool = False

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def _on_change(self, change: dict) -> None:
        """Observer for controls: redraw, unless the change came from drawing itself."""
        if not self._updating:
            self.update()

    def update(self) -> None:
        """Recompute and redraw; any failure becomes a message, never a traceback."""
        start = time.perf_counter()
        self._updating = True
        try:
            self._render()
            self.error = None
            if getattr(self, "message", None) is not None:
                self.message.value = ""
        except Exception as err:  # noqa: BLE001 - a widget must never show a traceback
            self.error = str(err)
            if getattr(self, "message", None) is not None:
                self.message.value = problem_html(str(err))
            self._clear_stale()
        finally:
            self._updating = False
        self.last_update_ms = (time.perf_counter() - start) * 1000

    def _render(self) -> None:
        raise NotImplementedError

    def _clear_stale(self) -> None:
        """After a failed update: clear or grey out what belonged to the previous setting."""

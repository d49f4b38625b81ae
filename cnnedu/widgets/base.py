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


class WindowExplorer(ExplorerWidget):
    """An explorer whose output pixels can be selected: by pointer (``self.panels``, a
    :class:`~cnnedu.widgets.panels.PixelPanels`), by the window row/col sliders (the keyboard
    way) or by the play control, which steps through the output row by row. Subclasses set
    ``out_hw`` in ``_render`` and write ``_select(row, col)`` (show that pixel's window)."""

    out_hw: tuple[int, int] | None = None
    last_select_ms: float = math.nan
    _input_key: tuple | None = None     # which image the cached input panel shows
    _input_cached: dict | None = None

    def _make_selection_controls(self, style: dict, layout) -> list:
        """The window row/col sliders and the play control, wired up; returns them for a VBox."""
        import ipywidgets as widgets

        self.probe_row = widgets.IntSlider(0, 0, 0, description="window row", style=style,
                                           layout=layout)
        self.probe_col = widgets.IntSlider(0, 0, 0, description="window col", style=style,
                                           layout=layout)
        self.play = widgets.Play(value=0, min=0, max=0, step=1, interval=600,
                                 description="slide the window")
        for control in (self.probe_row, self.probe_col):
            control.observe(self._on_probe, names="value")
        self.play.observe(self._on_play, names="value")
        self.panels.observe(self._on_point, names="selected")
        hint = widgets.HTML("<small>&nbsp;play: slide the window pixel by pixel</small>")
        return [self.probe_row, self.probe_col, widgets.HBox([self.play, hint])]

    def _enable_selection(self, out_h: int, out_w: int) -> tuple[int, int]:
        """Fit the sliders and play to an output of out_h x out_w; return the kept selection."""
        row = min(self.probe_row.value, out_h - 1)
        col = min(self.probe_col.value, out_w - 1)
        self.probe_row.max, self.probe_col.max = out_h - 1, out_w - 1
        self.probe_row.disabled = self.probe_col.disabled = self.play.disabled = False
        self.play.max = out_h * out_w - 1
        return row, col

    def _disable_selection(self, only_panel: dict) -> None:
        """No output to point at: only ``only_panel`` (the input) shown, no selection, window or
        zoom (all in one message, so nothing stale is ever on screen alone), sliders and play
        greyed out."""
        from cnnedu.widgets.zoom import stale_html

        with self.panels.hold_sync():
            self.panels.panels = [only_panel]
            self.panels.selected, self.panels.window = [], {}
            self.panels.zoom = stale_html()
        self.probe_row.disabled = self.probe_col.disabled = self.play.disabled = True
        self.play.playing = False

    def _input_panel(self, note: str = "") -> dict:
        """The input's panel (its own min-max scale), encoded once per image: settings change
        the outputs, not the input, so a slider move never re-encodes a 512×512 photo."""
        from cnnedu.widgets.panels import panel
        from cnnedu.widgets.render import to_rgb

        image = self.images[self.image.value]
        key = (self.image.value, id(image))
        if self._input_key != key:
            self._input_key = key
            self._input_cached = panel("input", "", to_rgb(image, float(image.min()),
                                                           float(image.max())))
        height, width = image.shape[-2:]
        return {**self._input_cached, "label": f"<b>input</b>: {height}×{width}{note}"}

    def _show_input_only(self, missing: str) -> None:
        """After an illegal setting: the input alone (saying the ``missing`` output is not shown),
        no selection, window, zoom or statistics: nothing that belonged to the old setting."""
        self.out_hw = None
        self._disable_selection(self._input_panel(f" (no {missing}: see the message above)"))
        self.stats.value = ""

    def _show_selection(self, row: int, col: int, rows, cols, zoom: str) -> None:
        """Send the selection, its window and its zoom panel in one message, then the sliders."""
        with self.panels.hold_sync():
            self.panels.selected = [row, col]
            self.panels.window = {"rows": list(rows), "cols": list(cols)}
            self.panels.zoom = zoom
        self.probe_row.value, self.probe_col.value = row, col
        self.play.value = row * self.out_hw[1] + col

    def _on_probe(self, change: dict) -> None:
        if not self._updating:
            self.select(self.probe_row.value, self.probe_col.value)

    def _on_play(self, change: dict) -> None:
        if not self._updating and self.out_hw is not None:
            self.select(*divmod(change["new"], self.out_hw[1]))

    def _on_point(self, change: dict) -> None:
        if not self._updating and len(change["new"]) == 2:
            self.select(*change["new"])

    def select(self, row: int, col: int) -> None:
        """Select output pixel (row, col): window on the input, zoom panel (timed)."""
        if self.out_hw is None or self.error is not None:
            return
        start = time.perf_counter()
        notes = getattr(self, "notes", {})
        if "probe" in notes:          # a note about where the last setting moved the window is
            notes["probe"].value = ""  # stale once the learner moves it themselves
        self._updating = True
        try:
            self._select(min(max(row, 0), self.out_hw[0] - 1),
                         min(max(col, 0), self.out_hw[1] - 1))
        finally:
            self._updating = False
        self.last_select_ms = (time.perf_counter() - start) * 1000

    def _select(self, row: int, col: int) -> None:
        raise NotImplementedError

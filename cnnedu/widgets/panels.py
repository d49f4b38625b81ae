"""Image panels shown at one on-screen size, with a pointer that picks an output pixel.

A small `anywidget <https://anywidget.dev>`_ view: Python sends each panel's pixels once (PNG or
JPEG, at the image's true size) and the browser scales them to ``size`` pixels with
``image-rendering: pixelated``, so a 171×171 output sits beside its 512×512 input at the same
size, each block one true pixel. Moving the pointer over (or clicking) an output panel sets
``selected`` to that pixel's (row, col); Python answers with ``window`` (drawn on the input as
a box plus the sampled pixels; ``window["panels"]`` may name other panels, e.g. one colour
channel's) and ``zoom`` (HTML showing the window's arithmetic). Hover and window boxes are
drawn in the browser, so pointing never re-encodes an image. No computation happens here: the
explorers compute with the package's own code.
"""

from __future__ import annotations

import base64

import anywidget
import numpy as np
import traitlets

from cnnedu.widgets.render import encode
from cnnedu.widgets.zoom import CSS

_ESM = r"""
function render({ model, el }) {
  el.classList.add("cnnedu-panels");
  const row = document.createElement("div");
  row.className = "cnnedu-panel-row";
  row.style.cssText = "display:flex;gap:14px;flex-wrap:wrap;align-items:flex-start";
  const zoom = document.createElement("div");
  zoom.className = "cnnedu-zoom";
  zoom.style.cssText = "margin-top:6px;font-family:monospace;font-size:12px";
  el.append(row, zoom);
  let built = [];
  const images = new Map();
  // One pointer request at a time: while the kernel answers, later moves only replace the
  // pending pixel, so a fast mouse never queues up stale work (the latest pixel always wins).
  let inflight = null, pending = null;
  function send(pixel) {
    const old = model.get("selected");
    if (old.length === pixel.length && old.every((v, i) => v === pixel[i])) return;
    model.set("selected", pixel);
    model.save_changes();
    inflight = setTimeout(done, 1000);   // never wait forever for an answer
  }
  function request(pixel) {
    if (inflight === null) send(pixel); else pending = pixel;
  }
  function done() {
    clearTimeout(inflight);
    inflight = null;
    if (pending !== null) { const next = pending; pending = null; send(next); }
  }

  function scaleOf(p) { return model.get("size") / Math.max(p.height, p.width); }

  function build() {
    row.replaceChildren();
    built = model.get("panels").map((p) => {
      const box = document.createElement("figure");
      box.className = "cnnedu-panel";
      box.dataset.key = p.key;
      box.style.cssText = "margin:0";
      const cap = document.createElement("figcaption");
      cap.className = "cnnedu-panel-label";
      cap.innerHTML = p.label;
      cap.style.cssText = "font-size:12px;height:2.6em;max-width:" + model.get("size") + "px";
      const stage = document.createElement("div");
      stage.className = "cnnedu-stage";
      const s = scaleOf(p);
      stage.style.cssText = "position:relative;overflow:hidden;width:" + p.width * s +
        "px;height:" + p.height * s + "px;cursor:" + (p.hover ? "crosshair" : "default") +
        (p.stale ? ";opacity:0.25;filter:grayscale(1)" : "");
      // An unchanged image (the input, while settings move) keeps its decoded <img>.
      const kept = images.get(p.key);
      const img = kept && kept.getAttribute("src") === p.src ? kept
        : document.createElement("img");
      if (img !== kept) {
        img.src = p.src;
        img.draggable = false;
        img.style.cssText = "width:100%;height:100%;image-rendering:pixelated;display:block";
        images.set(p.key, img);
      }
      stage.append(img);
      const marks = document.createElement("div");
      marks.className = "cnnedu-marks";
      marks.style.cssText = "position:absolute;inset:0;pointer-events:none";
      stage.append(marks);
      if (p.hover && !p.stale) {
        const pick = (ev) => {
          const r = stage.getBoundingClientRect();
          const col = Math.floor((ev.clientX - r.left) / s);
          const rw = Math.floor((ev.clientY - r.top) / s);
          if (rw < 0 || col < 0 || rw >= p.height || col >= p.width) return;
          // a panel of one channel (depthwise) names it: [row, col, channel]
          request(p.channel === undefined ? [rw, col] : [rw, col, p.channel]);
        };
        if (!p.click_only) stage.addEventListener("pointermove", pick);
        stage.addEventListener("click", pick);
      }
      box.append(cap, stage);
      row.append(box);
      return { p, s, marks };
    });
    marks();
  }

  function rect(parent, top, left, h, w, css, cls) {
    const d = document.createElement("div");
    d.className = cls;
    d.style.cssText = "position:absolute;box-sizing:border-box;top:" + top + "px;left:" + left +
      "px;width:" + Math.max(w, 2) + "px;height:" + Math.max(h, 2) + "px;" + css;
    parent.append(d);
    return d;
  }

  // A box at least MIN_BOX px on each side, centred on what it marks: a 2x2 window on a
  // 512x512 photo shown at ~300 px is about one screen pixel, a dot nobody finds.
  const MIN_BOX = 14;
  function grown(parent, top, left, h, w, css, cls) {
    if (h < MIN_BOX) { top -= (MIN_BOX - h) / 2; h = MIN_BOX; }
    if (w < MIN_BOX) { left -= (MIN_BOX - w) / 2; w = MIN_BOX; }
    return rect(parent, top, left, h, w, css, cls);
  }

  function marks() {
    const sel = model.get("selected");
    const win = model.get("window");
    for (const { p, s, marks } of built) {
      marks.replaceChildren();
      if (p.stale) continue;
      if (p.hover && sel.length >= 2 && (sel.length === 2 || sel[2] === p.channel)) {
        grown(marks, sel[0] * s, sel[1] * s, s, s, "outline:2px solid #ff4020",
              "cnnedu-selected");
      }
      // the window is drawn on the input, or on the panels the window names (one channel's)
      if (win && win.rows && (win.panels || ["input"]).includes(p.key)) {
        const rows = win.rows, cols = win.cols;
        const top = rows[0] * s, left = cols[0] * s;
        const h = (rows[rows.length - 1] - rows[0] + 1) * s;
        const w = (cols[cols.length - 1] - cols[0] + 1) * s;
        const frame = grown(marks, top - 2, left - 2, h + 4, w + 4,
                            "border:2px solid #ff4020;box-shadow:0 0 0 2px rgba(255,255,255,.8)",
                            "cnnedu-window-box");
        frame.dataset.rows = rows[0] + ".." + rows[rows.length - 1];
        frame.dataset.cols = cols[0] + ".." + cols[cols.length - 1];
        if (rows.length * cols.length <= 121) {
          for (const r of rows) for (const c of cols) {
            const pad = r < 0 || c < 0 || r >= p.height || c >= p.width;
            rect(marks, r * s, c * s, s, s, pad ? "background:rgba(120,120,255,.45)"
                 : "background:rgba(255,64,32,.35)", "cnnedu-window-cell");
          }
        }
      }
    }
  }

  function showZoom() { zoom.innerHTML = model.get("zoom"); done(); }

  model.on("change:panels", build);
  model.on("change:size", build);
  model.on("change:selected", marks);
  model.on("change:window", marks);
  model.on("change:zoom", showZoom);
  build();
  showZoom();
}
export default { render };
"""


def data_url(rgb: np.ndarray, lossless_limit: int = 160_000) -> str:
    """(H, W, 3) uint8 -> a ``data:`` URL (PNG up to ``lossless_limit`` pixels, else JPEG;
    see ``encode``)."""
    data, fmt = encode(rgb, lossless_limit)
    return f"data:image/{fmt};base64," + base64.b64encode(data).decode("ascii")


def panel(key: str, label: str, rgb: np.ndarray, hover: bool = False,
          stale: bool = False, click_only: bool = False, channel: int | None = None,
          lossless_limit: int = 160_000) -> dict:
    """One panel's description for :class:`PixelPanels` (``rgb`` at the image's true size).

    ``hover``: pointing at a pixel selects it; with ``click_only`` only a click does (for
    panels where a selection is a bigger change than a highlight, e.g. a map to enlarge).
    ``channel``: the panel shows one output channel; pointing at it selects
    ``[row, col, channel]`` and only that channel's panel outlines the selected pixel.
    ``lossless_limit``: larger images are sent as JPEG (a tenth of PNG's encoding time)."""
    described = {"key": key, "label": label, "src": data_url(rgb, lossless_limit),
                 "height": int(rgb.shape[0]), "width": int(rgb.shape[1]),
                 "hover": hover or click_only, "stale": stale, "click_only": click_only}
    if channel is not None:
        described["channel"] = channel
    return described


class PixelPanels(anywidget.AnyWidget):
    """Panels at one displayed size; pointing at an output panel sets ``selected``."""

    _esm = _ESM
    _css = CSS
    panels = traitlets.List(traitlets.Dict()).tag(sync=True)
    size = traitlets.Int(360).tag(sync=True)
    selected = traitlets.List(traitlets.Int()).tag(sync=True)
    window = traitlets.Dict().tag(sync=True)
    zoom = traitlets.Unicode("").tag(sync=True)

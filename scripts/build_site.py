"""Build a static website of the course: every lesson with its stored outputs, a contents page,
and links from each lesson to the previous, the next and the contents.

    python scripts/build_site.py out/site            (what ./course.sh site runs)

Made with nbconvert's HTML exporter (the ``lab`` template), which comes with JupyterLab: it
renders the stored outputs (figures, tables, printed verdicts) exactly as Jupyter shows them, and
needs no extra dependency or build configuration; jupyter-book or MyST would add a Sphinx or
Node tool chain for seven notebooks and one contents page.

Interactive widgets need a running kernel. Each of the course's explorers and viewers is shown
as a screenshot taken in JupyterLab (``images/site_widgets/``, made by
``scripts/widget_screenshots.py``) with a note that it needs a kernel; a progress bar becomes
its final text. Screenshots rather than the stored widget state rendered by Jupyter's
html-manager: that manager and anywidget's front end load from a CDN (the site would need the
network), and a rendered state would look live while no pointer or slider answers (the
explorers compute in Python). So the site works offline and shows nothing broken.
"""

from __future__ import annotations

import argparse
import html
import re
import shutil
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "images" / "site_widgets"
RUN_KEY = "cnnedu-run"          # a screenshot's PNG text chunk: the mode it was taken in
RUNS = {"quick": "taken in a quick-mode run (short training, small photos), so its figures "
                 "differ from the full run's outputs on this page",
        "full": "taken in a full run"}
WIDGET = "application/vnd.jupyter.widget-view+json"
STATE = "application/vnd.jupyter.widget-state+json"
NOTE = ("<div class='cnnedu-widget-note' style='border:1px dashed #888;padding:6px 10px;"
        "color:#444;background:#f6f6f6'>Interactive widget ({what}): it needs a running kernel. "
        "Open this lesson in Jupyter (<code>./course.sh lab</code> or "
        "<code>cnnedu lessons DIR</code>) to use it.</div>")
# the note first: read before anyone tries to move a slider in the picture
SHOT = ("<figure class='cnnedu-widget-shot' style='margin:0'><figcaption>{note}</figcaption>"
        "<img src='widgets/{file}' alt='screenshot of the {what}' "
        "style='max-width:100%;border:1px solid #ccc'></figure>")
STYLE = ("<style>.cnnedu-nav{font:15px sans-serif;padding:8px 16px;background:#f0f3f7;"
         "border-bottom:1px solid #ccd}.cnnedu-nav a{margin-right:18px}</style>")


def title(notebook: nbformat.NotebookNode, fallback: str) -> str:
    """The lesson's title: its first markdown heading ("# 01 · Pooling" -> "01 · Pooling")."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            found = re.search(r"^#\s+(.+)$", cell.source, flags=re.M)
            if found:
                return found.group(1).strip()
    return fallback


def _widget_kind(state: dict, model_id: str) -> str:
    """A progress bar's final text, or the widget's kind, from the stored widget state."""
    model = state.get(model_id, {})
    children = [c.removeprefix("IPY_MODEL_") for c in model.get("state", {}).get("children", [])]
    kinds = [state.get(c, {}).get("model_name", "") for c in children]
    if "FloatProgressModel" in kinds or "IntProgressModel" in kinds:
        texts = [html.unescape(state[c]["state"].get("value", "")) for c in children
                 if state.get(c, {}).get("model_name") == "HTMLModel"]
        return "progress bar: " + " ".join(t for t in texts if t)
    return model.get("model_name", "widget").removesuffix("Model") or "widget"


def explorers(notebook: nbformat.NotebookNode) -> list[tuple[dict, str, str]]:
    """The course's explorer and viewer outputs in page order: (output, kind, screenshot file).

    A course widget's stored state carries its CSS class (``cnnedu-kernel-explorer``); the file
    is named by the lesson, that kind and its count in the lesson
    (``02_alexnet-kernel-explorer-2.png``), which stay the same when a lesson is re-run (cell
    ids do not).
    """
    state = notebook.metadata.get("widgets", {}).get(STATE, {}).get("state", {})
    stem = notebook.metadata.get("cnnedu_stem", "lesson")
    found, seen = [], {}
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            model_id = output.get("data", {}).get(WIDGET, {}).get("model_id", "")
            classes = state.get(model_id, {}).get("state", {}).get("_dom_classes", [])
            kinds = [c.removeprefix("cnnedu-") for c in classes if c.startswith("cnnedu-")]
            if kinds:
                seen[kinds[0]] = seen.get(kinds[0], 0) + 1
                found.append((output, kinds[0], f"{stem}-{kinds[0]}-{seen[kinds[0]]}.png"))
    return found


def without_widgets(notebook: nbformat.NotebookNode, shots: Path | None = None,
                    copied: Path | None = None) -> tuple[nbformat.NotebookNode, int]:
    """Each widget output becomes a note (its stored state, if any, names it), an explorer
    with a screenshot in ``shots`` also shows the picture (copied to ``copied``); returns how
    many widgets were replaced."""
    state = notebook.metadata.get("widgets", {}).get(STATE, {}).get("state", {})
    pictures = {id(output): (kind, name) for output, kind, name in explorers(notebook)}
    count = 0
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if WIDGET in output.get("data", {}):
                what = html.escape(_widget_kind(state, output["data"][WIDGET].get("model_id", "")))
                kind, name = pictures.get(id(output), ("", ""))
                if name and shots is not None and copied is not None and (shots / name).is_file():
                    copied.mkdir(parents=True, exist_ok=True)
                    shutil.copy(shots / name, copied / name)
                    what = kind.replace("-", " ")
                    with Image.open(shots / name) as picture:
                        run = RUNS.get(picture.info.get(RUN_KEY, ""), "")
                    caption = f"screenshot of the {what}" + (f", {run}" if run else "")
                    output["data"] = {"text/html": SHOT.format(
                        file=name, what=what, note=NOTE.format(what=caption))}
                else:                                # an explorer without screenshot: its kind
                    output["data"] = {"text/html": NOTE.format(what=kind.replace("-", " ") or what)}
                count += 1
    notebook.metadata.pop("widgets", None)
    return notebook, count


def nav(pages: list[tuple[str, str]], index: int) -> str:
    """Links to the contents and the previous and next lessons."""
    links = ["<a href='index.html'>Contents</a>"]
    if index > 0:
        links.append(f"<a href='{pages[index - 1][0]}'>← {html.escape(pages[index - 1][1])}</a>")
    if index + 1 < len(pages):
        links.append(f"<a href='{pages[index + 1][0]}'>{html.escape(pages[index + 1][1])} →</a>")
    return f"<nav class='cnnedu-nav'>{' '.join(links)}</nav>"


def build(out: Path, notebooks: Path = ROOT / "notebooks", shots: Path = SHOTS) -> list[Path]:
    """Write ``out/index.html`` and one page per lesson (explorers as their screenshots from
    ``shots``, in ``out/widgets/``); return the pages written."""
    sources = sorted(notebooks.glob("[0-9][0-9]_*.ipynb"))
    if not sources:
        raise FileNotFoundError(f"no lesson notebooks (NN_name.ipynb) in {notebooks}")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    lessons = [nbformat.read(path, as_version=4) for path in sources]
    for path, notebook in zip(sources, lessons, strict=True):
        notebook.metadata["cnnedu_stem"] = path.stem
    pages = [(path.with_suffix(".html").name, title(nb, path.stem))
             for path, nb in zip(sources, lessons, strict=True)]
    exporter = HTMLExporter(template_name="lab")
    written = []
    for index, notebook in enumerate(lessons):
        notebook, _ = without_widgets(notebook, shots, out / "widgets")
        notebook.metadata.pop("cnnedu_stem")
        body, _ = exporter.from_notebook_node(notebook,
                                              resources={"metadata": {"name": pages[index][1]}})
        bar = nav(pages, index)
        opening = re.search(r"<body[^>]*>", body)
        body = body[:opening.end()] + STYLE + bar + body[opening.end():]
        body = body.replace("</body>", bar + "</body>", 1)
        (out / pages[index][0]).write_text(body, encoding="utf-8")
        written.append(out / pages[index][0])
    items = "\n".join(f"<li><a href='{name}'>{html.escape(text)}</a></li>" for name, text in pages)
    (out / "index.html").write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>cnnedu: the lessons</title>"
        f"{STYLE}</head><body style='font:16px sans-serif;max-width:50em;margin:2em auto'>"
        "<h1>cnnedu: convolutional networks from AlexNet to ResNet</h1><p>The lessons with the "
        "outputs of a full run. Interactive widgets need a running kernel: here they are "
        f"screenshots; open the lessons in Jupyter to use them.</p><ol start='0'>{items}</ol>"
        "</body></html>", encoding="utf-8")
    return [out / "index.html", *written]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", nargs="?", default=str(ROOT / "out" / "site"), help="site folder")
    parser.add_argument("--notebooks", default=str(ROOT / "notebooks"), help="lesson folder")
    args = parser.parse_args()
    pages = build(Path(args.out), Path(args.notebooks))
    print(f"{len(pages)} pages written to {args.out}; open {Path(args.out) / 'index.html'}")


if __name__ == "__main__":
    main()

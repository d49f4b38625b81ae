"""Build a static website of the course: every lesson with its stored outputs, a contents page,
and links from each lesson to the previous, the next and the contents.

    python scripts/build_site.py out/site            (what ./course.sh site runs)

Made with nbconvert's HTML exporter (the ``lab`` template), which comes with JupyterLab: it
renders the stored outputs (figures, tables, printed verdicts) exactly as Jupyter shows them, and
needs no extra dependency or build configuration; jupyter-book or MyST would add a Sphinx or
Node tool chain for seven notebooks and one contents page. Interactive widgets (explorers,
viewers, progress bars) need a running kernel: each is replaced by a short note saying so (a
progress bar by its final text), so the site works offline and shows nothing broken.
"""

from __future__ import annotations

import argparse
import html
import re
import shutil
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parents[1]
WIDGET = "application/vnd.jupyter.widget-view+json"
STATE = "application/vnd.jupyter.widget-state+json"
NOTE = ("<div class='cnnedu-widget-note' style='border:1px dashed #888;padding:6px 10px;"
        "color:#444;background:#f6f6f6'>Interactive widget ({what}): it needs a running kernel. "
        "Open this lesson in Jupyter (<code>./course.sh lab</code> or "
        "<code>cnnedu lessons DIR</code>) to use it.</div>")
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


def without_widgets(notebook: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, int]:
    """Each widget output becomes a note (its stored state, if any, names it); returns how many."""
    state = notebook.metadata.get("widgets", {}).get(STATE, {}).get("state", {})
    count = 0
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if WIDGET in output.get("data", {}):
                what = _widget_kind(state, output["data"][WIDGET].get("model_id", ""))
                output["data"] = {"text/html": NOTE.format(what=html.escape(what))}
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


def build(out: Path, notebooks: Path = ROOT / "notebooks") -> list[Path]:
    """Write ``out/index.html`` and one page per lesson; return the pages written."""
    sources = sorted(notebooks.glob("[0-9][0-9]_*.ipynb"))
    if not sources:
        raise FileNotFoundError(f"no lesson notebooks (NN_name.ipynb) in {notebooks}")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    lessons = [nbformat.read(path, as_version=4) for path in sources]
    pages = [(path.with_suffix(".html").name, title(nb, path.stem))
             for path, nb in zip(sources, lessons, strict=True)]
    exporter = HTMLExporter(template_name="lab")
    written = []
    for index, notebook in enumerate(lessons):
        notebook, _ = without_widgets(notebook)
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
        "outputs of a full run. Interactive widgets need a running kernel: open the lessons in "
        f"Jupyter to use them.</p><ol start='0'>{items}</ol></body></html>", encoding="utf-8")
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

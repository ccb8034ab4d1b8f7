"""What a reader sees: the executed notebooks of the tiny profile show no display noise.

Each output is checked as the book renders it (myst-nb shows the richest representation it
knows, and stderr too): no progress-bar frames, no machine paths, no raw Python reprs or dicts,
no pandas ``Name: …, dtype: …`` footers, no ``NaN`` cells in tables (missing values show as
"—", :func:`cornlib.plots.tables.show`), and figures saved at >= 150 dpi no wider than the page
(:data:`cornlib.plots.style.MAX_WIDTH_IN`), so their text shows at about its size in points.

The notebook tests read the run directory ``tests/test_notebooks.py`` fills (the session
fixture ``tiny_run_dir``), so notebooks run once. ``CORNLIB_RENDERED=DIR`` points them at an
executed run directory instead (e.g. one made by ``python -m cornlib.run --profile tiny``).
Each notebook's test lists every offending cell at once.
"""

from __future__ import annotations

import ast
import base64
import io
import json
import os
import re
from pathlib import Path

import pytest

from cornlib import run

NOTEBOOKS = run.notebooks()

#: The order in which myst-nb picks the representation it renders (HTML output).
RENDER_PRIORITY = ("application/vnd.jupyter.widget-view+json", "application/javascript",
                   "text/html", "image/svg+xml", "image/png", "image/jpeg", "text/markdown",
                   "text/latex", "text/plain")
GLUE = "application/papermill.record/"
MIN_DPI = 150

PROGRESS = re.compile(r"\d+%\|.*\||[█▏▎▍▌▋▊▉]|\d+(?:\.\d+)?\s*(?:it|s|batch|B)/(?:s|it)\]"
                      r"|it/s\]|s/it\]")
MACHINE_PATH = re.compile(r"(?:Posix|Windows)Path\(|(?<![\w.~-])/(?:work|tmp|home|root|Users|mnt|"
                          r"private|var/folders|scratch|opt|srv|data)/|\b[A-Z]:\\\\?[\w]")
OBJECT_REPR = re.compile(r"<[\w.]+ object at 0x[0-9a-f]+>|<[\w.]+ at 0x[0-9a-f]+>")
DICT_ITEM = re.compile(r"^\s*[{ ]?\s*['\"][^'\"\n]+['\"]\s*:\s", re.M)
SERIES_FOOTER = re.compile(r"^(?:Name: .*, )?(?:Length: \d+, )?dtype: \w+\s*$", re.M)
MISSING_CELL = re.compile(r"<td[^>]*>\s*(?:NaN|nan|None|&lt;NA&gt;|<NA>|NaT)\s*</td>")


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _literal_container(text: str) -> bool:
    """Whether ``text`` is the repr of a Python str, tuple, list, dict or set."""
    stripped = text.strip()
    if not stripped or stripped[0] not in "'\"([{":
        return False
    if stripped[0] in "([{" and re.match(r"[(\[{]\s*['\"]", stripped):
        return True  # a container whose first item is a string (it may hold a table's repr)
    try:
        value = ast.literal_eval(stripped)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return False
    return isinstance(value, (str, tuple, list, dict, set))


def text_problems(text: str, *, shown_as: str) -> list[str]:
    """What is wrong with ``text`` shown on a page as ``shown_as`` (stream, text/plain, ...)."""
    problems = []
    if shown_as in ("stderr", "stdout") and ("\r" in text or PROGRESS.search(text)):
        problems.append("progress-bar frame")
    elif PROGRESS.search(text) and "|" in text:
        problems.append("progress-bar frame")
    if MACHINE_PATH.search(text):
        problems.append("machine path")
    if OBJECT_REPR.search(text):
        problems.append("object repr")
    if shown_as != "text/html":
        if SERIES_FOOTER.search(text):
            problems.append("pandas Series footer (Name/dtype)")
        if DICT_ITEM.search(text):
            problems.append("raw dict")
        elif shown_as == "text/plain" and _literal_container(text):
            problems.append("raw Python repr")
    return problems


def png_problems(data: str, max_width_in: float) -> list[str]:
    """A base64 PNG under :data:`MIN_DPI` (its pHYs chunk) or wider than ``max_width_in``."""
    from PIL import Image

    image = Image.open(io.BytesIO(base64.b64decode(data)))
    dpi = image.info.get("dpi")
    if not dpi:
        return ["figure without a resolution (no pHYs chunk)"]
    dpi = min(dpi)
    problems = []
    if dpi < MIN_DPI - 0.5:
        problems.append(f"figure at {dpi:.0f} dpi (< {MIN_DPI})")
    width_in = image.size[0] / dpi
    if width_in > max_width_in:
        problems.append(f"figure {width_in:.2f} in wide (page: {max_width_in:.2f} in), so its "
                        f"text shows {max_width_in / width_in:.0%} of its size")
    return problems


def output_problems(output: dict, max_width_in: float) -> list[tuple[str, str]]:
    """(problem, excerpt) for one output of a code cell, as the page renders it."""
    kind = output.get("output_type")
    if kind == "stream":
        text = _text(output.get("text", ""))
        return [(p, text) for p in text_problems(text, shown_as=output.get("name", "stdout"))]
    if kind == "error":
        return [("error output", output.get("ename", ""))]
    data = output.get("data", {})
    found = []
    glued = [m for m in data if m.startswith(GLUE)]
    for mime in glued:  # glue values appear in the prose that references them
        text = _text(data[mime])
        found += [(p, text) for p in text_problems(text, shown_as="glue")
                  if p in ("machine path", "object repr")]
    if glued:
        return found
    shown = next((m for m in RENDER_PRIORITY if m in data), None)
    if shown is None:
        return found
    if shown == "application/vnd.jupyter.widget-view+json":
        return [("widget (a progress bar in Jupyter; nothing on the page)", "")]
    if shown == "image/png":
        return [(p, _text(data.get("text/plain", ""))) for p in png_problems(data[shown],
                                                                            max_width_in)]
    if shown.startswith("image/"):
        return found
    text = _text(data[shown])
    found += [(p, text) for p in text_problems(text, shown_as=shown)]
    if shown == "text/html" and MISSING_CELL.search(text):
        found.append(("missing values shown as NaN (use cornlib.plots.tables.show)",
                      MISSING_CELL.search(text).group(0)))
    return found


def notebook_problems(path: Path, max_width_in: float) -> list[str]:
    """Every problem of an executed notebook, one line per cell and problem."""
    nb = json.loads(Path(path).read_text())
    lines = []
    for index, cell in enumerate(nb.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        first = _text(cell.get("source", "")).strip().splitlines()
        first = next((ln for ln in first if not ln.startswith(("#", ":", "---", "mystnb",
                                                               "  "))), "")
        seen = set()
        outputs = cell.get("outputs", [])
        if cell.get("metadata", {}).get("mystnb", {}).get("figure") and not any(
                m.startswith("image/") for o in outputs for m in o.get("data", {})):
            lines.append(f"{path.stem} cell {index} ({first[:40]!r}): a figure cell shows "
                         "no figure")
        for output in outputs:
            for problem, excerpt in output_problems(output, max_width_in):
                if problem in seen:
                    continue
                seen.add(problem)
                excerpt = " ".join(excerpt.split())[:90]
                lines.append(f"{path.stem} cell {index} ({first[:40]!r}): {problem}: {excerpt}")
    return lines


# --- the checks themselves, on made-up outputs ---------------------------------------------


def _stream(text, name="stderr"):
    return {"output_type": "stream", "name": name, "text": text}


def _result(**data):
    return {"output_type": "execute_result", "data": data, "metadata": {}}


def _png(dpi: float, size_in=(6, 3)) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=size_in, dpi=dpi)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


@pytest.mark.parametrize("output, problem", [
    (_stream("\rpredict:  42%|████▏     | 10/24 [00:00<00:01, 13.95batch/s]"), "progress-bar frame"),
    (_stream("Map: 100%|██████████| 60/60 [00:00<00:00, 300 examples/s]\n"),
     "progress-bar frame"),
    (_result(**{"text/plain": "PosixPath('/srv/runs/small/importance/profile.json')"}),
     "machine path"),
    (_stream("/tmp/ipykernel_3488/1147.py:1: CornlibWarning: 3 of 48 sequences\n"),
     "machine path"),
    (_result(**{"text/plain": "'/home/me/runs/tiny'"}), "machine path"),
    (_result(**{"text/plain": "{'steps': 30,\n 'best_valid_r2': 0.0880320621}"}), "raw dict"),
    (_result(**{"text/plain": "('simulated', (600, 11))"}), "raw Python repr"),
    (_result(**{"text/plain": "<cornlib.models.Predictor object at 0x7f3a2c>"}), "object repr"),
    (_result(**{"text/plain": "train    480\nvalid     60\nName: genes, dtype: int64"}),
     "pandas Series footer (Name/dtype)"),
    (_result(**{"text/plain": "a    1.0\nb    2.0\ndtype: float64"}),
     "pandas Series footer (Name/dtype)"),
    (_result(**{"text/html": "<table><tr><td>NaN</td></tr></table>", "text/plain": "x"}),
     "missing values shown as NaN (use cornlib.plots.tables.show)"),
    (_result(**{"image/png": _png(100), "text/plain": "<Figure>"}), "figure at 100 dpi (< 150)"),
])
def test_checks_catch(output, problem):
    assert problem in [p for p, _ in output_problems(output, 8.0)]


@pytest.mark.parametrize("output", [
    _stream("CornlibWarning: 81 of 532 sequences are longer than 254 tokens\n"),
    _stream("AT1G07430 athaliana\n", name="stdout"),
    _result(**{"text/plain": "62"}),
    _result(**{"text/html": "<table><tr><td>—</td><td>0.12</td></tr></table>",
               "text/plain": "   a\n0  NaN"}),
    _result(**{"image/png": _png(150), "text/plain": "<Figure size 900x450 with 1 Axes>"}),
    {"output_type": "display_data", "metadata": {},
     "data": {GLUE + "text/plain": "0.088", "text/plain": "0.088"}},
])
def test_checks_pass_clean_output(output):
    assert output_problems(output, 8.0) == []


def test_wide_figure_is_caught():
    output = _result(**{"image/png": _png(150, size_in=(12, 3)), "text/plain": "<Figure>"})
    assert any("wide" in p for p, _ in output_problems(output, 8.0))


# --- the figure style and the table helper ------------------------------------------------

FIGURE_MODULES = ["along_promoter", "curves", "distributions", "heatmaps", "logos",
                  "per_category", "scatter", "scores"]


@pytest.mark.parametrize("name", FIGURE_MODULES)
def test_every_plot_function_is_styled(name):
    import importlib
    import inspect

    module = importlib.import_module(f"cornlib.plots.{name}")
    public = [f for n, f in inspect.getmembers(module, inspect.isfunction)
              if not n.startswith("_") and f.__module__ == module.__name__]
    assert public
    assert [f.__name__ for f in public if not hasattr(f, "__wrapped__")] == []


def test_figures_fit_the_page_whatever_the_rc_params():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import pandas as pd
    from matplotlib.text import Text

    from cornlib.plots import curves, per_category, style

    history = pd.DataFrame({"epoch": [1.0, 2, 3] * 2, "split": ["train"] * 3 + ["valid"] * 3,
                            "loss": [1, 0.8, 0.7, 1.1, 0.9, 0.85]})
    schedule = pd.DataFrame({"group": ["head", "layer 0", "stem"], "epoch": [0, 1, 1]})
    per_target = pd.DataFrame({"epoch": [1.0, 2, 3], "r2": [0, 0.1, 0.2],
                               **{f"sim_t{i:02d}": np.linspace(0, 0.1 * i, 3)
                                  for i in range(1, 11)}})
    differences = pd.DataFrame({"model": ["a", "b"] * 5, "reference": "m",
                                "metric": np.repeat(list("vwxyz"), 2), "value": 0.1,
                                "ci_low": 0.0, "ci_high": 0.2, "verdict": "better"})
    with matplotlib.rc_context({"figure.dpi": 72, "font.size": 5, "xtick.labelsize": 4}):
        drawn = [curves.finetune_curves(history, schedule, per_target),
                 per_category.paired_differences(differences)]
    for fig, _ in drawn:
        fig.canvas.draw()
        assert fig.dpi == style.DPI
        assert fig.get_size_inches()[0] <= style.MAX_WIDTH_IN
        sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_text()]
        assert min(sizes) >= style.MIN_FONT_PT
        plt.close(fig)
    fig, (loss, r2) = drawn[0]
    # every coloured line of the R² panel is in its legend; the loss title matches its marks
    assert len(r2.get_legend().get_texts()) == 11
    assert "dotted" in loss.get_title() and len(loss.lines) > 2
    no_marks = curves.finetune_curves(history, schedule.assign(epoch=0), per_target)[1][0]
    assert "dotted" not in no_marks.get_title()
    plt.close("all")


def test_style_leaves_other_settings_as_the_function_left_them():
    """Jupyter's inline backend turns interactive mode on at the first pyplot import, which
    may happen inside a plot function; figures after it are shown only if it stays on."""
    import matplotlib

    from cornlib.plots import style

    @style.styled
    def first_plot():
        matplotlib.interactive(True)
        return None

    was = matplotlib.is_interactive()
    try:
        matplotlib.interactive(False)
        first_plot()
        assert matplotlib.is_interactive()
        assert matplotlib.rcParams["figure.dpi"] != style.DPI or style.DPI == 100
    finally:
        matplotlib.interactive(was)


def test_panels_wrap_to_the_page():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cornlib.plots import style

    fig, axes = style.panels(5, (3.6, 3.0), max_cols=2)
    assert len(axes) == 5 and len(fig.axes) == 5
    assert fig.get_size_inches()[0] <= style.MAX_WIDTH_IN
    assert fig.get_size_inches()[1] == 9.0  # three rows
    plt.close(fig)


def test_show_rounds_and_marks_missing_values():
    import numpy as np
    import pandas as pd

    from cornlib.plots.tables import MISSING, show

    html = show(pd.DataFrame({"r2": [0.123456, np.nan], "genes": [1200, 3]})).to_html()
    assert "0.123" in html and "0.1234" not in html and "1,200" in html
    assert MISSING in html and "nan" not in html.lower().replace("nan-", "")
    assert "row_heading" not in html  # a 0..n-1 index is not shown
    named = show(pd.Series([1, 2], index=pd.Index(["a", "b"], name="split"), name="genes"))
    assert "row_heading" in named.to_html() and list(named.data.columns) == ["genes"]
    stats = show({"steps": 30, "best_valid_r2": 0.08803206, "files": ["a", "b"]})
    text = stats.to_html()
    assert "0.088" in text and "0.08803" not in text and "a, b" in text
    assert output_problems(_result(**{"text/html": text, "text/plain": "x"}), 8.0) == []


def test_driver_kernels_run_without_bars_and_with_inline_figures(monkeypatch):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    with run._kernel_env():
        assert os.environ["TQDM_DISABLE"] == "1"
        assert os.environ["MPLBACKEND"] == run.KERNEL_ENV["MPLBACKEND"]
    assert "TQDM_DISABLE" not in os.environ  # a terminal or Jupyter after it keeps its bars
    assert os.environ["MPLBACKEND"] == "Agg"  # the caller's setting is given back
    monkeypatch.setenv("TQDM_DISABLE", "0")
    with run._kernel_env():
        assert os.environ["TQDM_DISABLE"] == "0"  # an explicit choice wins


def test_warnings_show_no_cell_or_install_paths():
    import sys
    import warnings

    import cornlib

    text = warnings.formatwarning("3 of 48 sequences were cut", cornlib.CornlibWarning,
                                  "/tmp/ipykernel_3488/1147842184.py", 1, "x = 1")
    assert text == "CornlibWarning: 3 of 48 sequences were cut\n"
    root = next(p for p in reversed(sys.path) if p and Path(p).is_dir())
    inside = str(Path(root) / "somepackage" / "util.py")
    text = warnings.formatwarning("invalid value", RuntimeWarning, inside, 454, "y = 0 / 0")
    assert text.startswith("somepackage/util.py:454: RuntimeWarning: invalid value")
    assert not MACHINE_PATH.search(text)


# --- the executed notebooks -----------------------------------------------------------------


@pytest.fixture(scope="module")
def rendered_dir(request):
    given = os.environ.get("CORNLIB_RENDERED")
    if given:
        return Path(given)
    return request.getfixturevalue("tiny_run_dir")


@pytest.mark.notebooks
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_page_is_clean(path, rendered_dir):
    from cornlib.plots.style import MAX_WIDTH_IN

    executed = rendered_dir / f"{path.stem}.ipynb"
    if not executed.exists():
        pytest.skip(f"{executed.name} was not executed (tests/test_notebooks.py runs it)")
    problems = notebook_problems(executed, MAX_WIDTH_IN + 0.3)
    if problems:
        pytest.fail(f"{len(problems)} problems on the page:\n" + "\n".join(problems),
                    pytrace=False)

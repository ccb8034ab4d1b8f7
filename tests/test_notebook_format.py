"""Notebook sources are in the exact form jupytext writes, so a save in Jupyter changes nothing.

Jupyter (through jupytext's contents manager) reads ``notebooks/*.md`` as MyST, and on save writes
it back with ``jupytext.writes`` (and the paired ``build/ipynb/*.ipynb``, see ``jupytext.toml``).
If a source is not in that form, a one-word edit in Jupyter rewrites the whole file. These tests
only parse the notebooks; none is executed.
"""

from pathlib import Path

import jupytext
import nbformat
import pytest
from jupytext.config import find_jupytext_configuration_file, load_jupytext_configuration_file

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.md"))
FMT = "md:myst"
MAX_COLUMNS = 79

pytestmark = pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)


@pytest.fixture(scope="module")
def config():
    """The repository's jupytext configuration (the pairing with build/ipynb/)."""
    found = find_jupytext_configuration_file(str(REPO / "notebooks"))
    return load_jupytext_configuration_file(found)


def _jupyter_edits(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """What a Jupyter session adds before saving: outputs, counts, kernel and frontend metadata."""
    nb.metadata["language_info"] = {"name": "python", "version": "3.11.0"}
    count = 0
    for cell in nb.cells:
        if cell.cell_type == "code":
            count += 1
            cell.execution_count = count
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="out\n")]
            cell.metadata["execution"] = {"iopub.status.idle": "2026-01-01T00:00:00Z"}
            cell.metadata["scrolled"] = True
    return nb


def test_header_matches_installed_jupytext(path):
    jupytext_meta = jupytext.read(path).metadata["jupytext"]["text_representation"]
    assert jupytext_meta["jupytext_version"] == jupytext.__version__, (
        f"{path.name} was written by jupytext {jupytext_meta['jupytext_version']}, but "
        f"{jupytext.__version__} is installed: a save in Jupyter rewrites the header (and maybe "
        "more); re-write the notebooks with this jupytext or install the one in the header"
    )


def test_md_round_trip_is_identical(path):
    text = path.read_text(encoding="utf-8")
    assert jupytext.writes(jupytext.reads(text, fmt=FMT), fmt=FMT) == text


def test_ipynb_round_trip_is_identical(path, config):
    """md -> ipynb -> md, as Jupyter does: read with the repo's config, JSON to the frontend and
    back (with outputs and frontend metadata added), written with the config."""
    text = path.read_text(encoding="utf-8")
    nb = jupytext.reads(text, fmt=FMT, config=config)
    nb = jupytext.reads(jupytext.writes(nb, fmt="ipynb"), fmt="ipynb")
    assert jupytext.writes(nb, fmt=FMT, config=config) == text
    nb = nbformat.reads(nbformat.writes(_jupyter_edits(nb)), as_version=4)
    assert jupytext.writes(nb, fmt=FMT, config=config) == text


def test_code_lines_fit_the_page(path):
    too_long = [
        f"cell {i}: {len(line)} columns: {line}"
        for i, cell in enumerate(jupytext.read(path).cells)
        if cell.cell_type == "code"
        for line in cell.source.splitlines()
        if len(line) > MAX_COLUMNS
    ]
    assert not too_long, "\n".join(too_long)


def test_stored_cell_lines_fit_88_columns(path):
    """Inside code-cell fences (metadata such as figure captions included, as jupytext wraps
    them) no stored line runs past 88 columns."""
    inside, too_long = False, []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.startswith("```{code-cell}"):
            inside = True
        elif line.startswith("```"):
            inside = False
        elif inside and len(line) > 88:
            too_long.append(f"line {n}: {len(line)} columns")
    assert not too_long, "\n".join(too_long)


def test_code_cells_compile(path):
    for i, cell in enumerate(jupytext.read(path).cells):
        if cell.cell_type == "code":
            source = "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                               for line in cell.source.splitlines())
            compile(source, f"{path.name}, cell {i}", "exec")


def test_one_parameters_cell(path):
    tagged = [i for i, cell in enumerate(jupytext.read(path).cells)
              if "parameters" in cell.metadata.get("tags", [])]
    assert len(tagged) == 1, f"cells tagged 'parameters': {tagged}"

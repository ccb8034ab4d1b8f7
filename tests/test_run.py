"""The papermill driver: notebook order, parameter filtering, manifest and failure reporting."""

import json
import textwrap

import pytest

from cornlib import io, profiles, run
from cornlib.paths import REPO_ROOT


def test_notebooks_follow_toc_order():
    names = [p.stem for p in run.notebooks()]
    assert names == sorted(names), "notebook prefixes must sort in _toc.yml order"
    assert all((REPO_ROOT / "notebooks" / f"{n}.md").exists() for n in names)


def test_select_rejects_unknown_prefix():
    with pytest.raises(ValueError, match="99"):
        run.select(run.notebooks(), ["99"])


def test_every_notebook_has_one_parameters_cell_with_run_dir():
    import jupytext

    for path in run.notebooks():
        nb = jupytext.read(path)
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, f"{path.name}: {len(tagged)} parameters cells"
        assert "run_dir" in run.declared_parameters(nb), path.name


def test_small_profile_matches_notebook_defaults():
    """The parameters cells hold the small profile's values (the book runs them as they are)."""
    import ast

    import jupytext

    small = profiles.load("small")
    for path in run.notebooks():
        nb = jupytext.read(path)
        cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        for node in ast.parse(cell.source).body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                name = node.targets[0].id
                if name in small and name != "run_dir":
                    assert ast.literal_eval(node.value) == small[name], f"{path.name}: {name}"


def test_profiles_load_and_unknown_is_clear():
    for name in ("small", "tiny", "full"):
        assert profiles.load(name)["profile"] == name
    with pytest.raises(FileNotFoundError, match="no profile named"):
        profiles.load("nope")


def _write_nb(path, body):
    path.write_text(textwrap.dedent(body).lstrip())


@pytest.mark.slow
def test_run_notebook_writes_output_and_reports_failure(tmp_path, monkeypatch):
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    md = """
    ---
    jupytext:
      text_representation: {extension: .md, format_name: myst}
    kernelspec: {display_name: Python 3, language: python, name: python3}
    ---
    # T
    ```{code-cell} ipython3
    :tags: [parameters]
    run_dir = "x"
    boom = False
    ```
    ```{code-cell} ipython3
    from pathlib import Path
    Path(run_dir, "out.txt").write_text("hi")
    if boom:
        raise RuntimeError("kaboom")
    ```
    """
    ok = nbdir / "01_ok.md"
    _write_nb(ok, md)
    monkeypatch.setattr(run, "REPO_ROOT", tmp_path)
    entry = run.run_notebook(ok, tmp_path, {"boom": False, "unused": 1}, progress=False)
    assert entry["status"] == "ok" and entry["parameters"] == {"boom": False, "run_dir": str(tmp_path)}
    assert (tmp_path / "01_ok.ipynb").exists() and (tmp_path / "out.txt").read_text() == "hi"
    with pytest.raises(run.NotebookFailed, match=r"01_ok.md failed in cell 3 \(RuntimeError: kaboom\); the cell begins `from pathlib"):
        run.run_notebook(ok, tmp_path, {"boom": True}, progress=False)
    assert (tmp_path / "01_ok.failed.ipynb").exists()
    assert not (tmp_path / "01_ok.partial.ipynb").exists()


def test_manifest_records_sha_and_versions(tmp_path, monkeypatch):
    monkeypatch.setattr(run, "notebooks", lambda root=REPO_ROOT: [])
    path = run.run_profile("tiny", run_dir=str(tmp_path), progress=False)
    manifest = json.loads(path.read_text())
    assert manifest["profile"] == "tiny"
    assert manifest["packages"]["torch"]
    assert manifest["parameters"]["run_dir"] == str(tmp_path)
    assert "git_sha" in manifest


def test_atomic_write_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "t.json"
    io.write_json(target, {"a": 1})
    with pytest.raises(RuntimeError):
        with io.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("stop")
    assert json.loads(target.read_text()) == {"a": 1}
    assert list(tmp_path.iterdir()) == [target]

"""The papermill driver: notebook order, parameter checks, book discovery, manifest, staleness."""

import json
import os
import textwrap
from pathlib import Path

import pytest

from cornlib import io, paths, profiles, run
from cornlib import manifest as rundir_record
from cornlib.paths import REPO_ROOT

MYST = """\
---
jupytext:
  text_representation: {{extension: .md, format_name: myst}}
kernelspec: {{display_name: Python 3, language: python, name: python3}}
---
# {title}
```{{code-cell}} ipython3
:tags: [parameters]
run_dir = "x"
{params}
```
```{{code-cell}} ipython3
{body}
```
"""

# A two-notebook book: 01 writes data.txt (and a figure), 02 reads it and writes result.txt.
NOTEBOOKS = {
    "01_make": ("n = 1", textwrap.dedent("""\
        from pathlib import Path
        Path(run_dir, 'figures').mkdir(exist_ok=True)
        Path(run_dir, 'figures', 'f.png').write_bytes(b'png')
        Path(run_dir, 'data.txt').write_text(str(n))""")),
    "02_use": ("scale = 2", textwrap.dedent("""\
        from pathlib import Path
        n = int(Path(run_dir, 'data.txt').read_text())
        Path(run_dir, 'result.txt').write_text(str(n * scale))""")),
}


def write_nb(path, params, body, title="T"):
    path.write_text(MYST.format(title=title, params=params, body=body))


def make_book(root: Path, profile: str = "profile: x\nrun_dir: runs/x\nn: 1\nscale: 2\n",
              notebooks=NOTEBOOKS) -> Path:
    """A tiny book in ``root``: _toc.yml, profiles/x.yml and MyST notebooks."""
    (root / "notebooks").mkdir(parents=True)
    (root / "profiles").mkdir()
    (root / "profiles" / "x.yml").write_text(profile)
    chapters = "".join(f"  - file: notebooks/{stem}\n" for stem in notebooks)
    (root / "_toc.yml").write_text(f"format: jb-book\nroot: intro\nchapters:\n{chapters}")
    for stem, (params, body) in notebooks.items():
        write_nb(root / "notebooks" / f"{stem}.md", params, body, stem)
    return root


@pytest.fixture
def book(tmp_path, monkeypatch):
    monkeypatch.delenv(paths.BOOK_ENV, raising=False)
    return make_book(tmp_path / "book")


def fake_runner(monkeypatch, outputs):
    """Replace notebook execution: ``outputs[stem]()`` returns {relative path: text} to write."""
    calls = []

    def fake(path, run_dir, params, *, book=None, **kwargs):
        calls.append(path.stem)
        for rel, text in outputs[path.stem](params).items():
            (run_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            (run_dir / rel).write_text(text)
        return {"notebook": str(path), "status": "ok", "wall_s": 0.0,
                "parameters": {"run_dir": str(run_dir)}}

    monkeypatch.setattr(run, "run_notebook", fake)
    return calls


FAKE = {"01_make": lambda p: {"data.txt": str(p["n"]), "figures/f.png": "png"},
        "02_use": lambda p: {"result.txt": str(p["scale"])}}


# --- the real book ------------------------------------------------------------------------------

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


def test_profiles_carry_only_declared_or_driver_keys():
    """Every key of the shipped profiles is read by some notebook (or by the driver)."""
    known = run.known_parameters(run.notebooks())
    for name in ("small", "tiny", "full"):
        run.check_parameters(profiles.load(name), {}, known, f"profiles/{name}.yml")


def test_profiles_load_and_unknown_is_clear(tmp_path):
    for name in ("small", "tiny", "full", "gpu", "long"):
        assert profiles.load(name)["profile"] == name
    with pytest.raises(FileNotFoundError,
                       match="no profile named 'nope' in .*profiles .known: full, gpu, long, small, tiny"):
        profiles.load("nope")
    with pytest.raises(FileNotFoundError, match="there is no profiles folder"):
        profiles.load("tiny", tmp_path)


# --- unknown parameters -------------------------------------------------------------------------

def test_unknown_override_names_the_closest_key_before_anything_runs(book, monkeypatch):
    calls = fake_runner(monkeypatch, FAKE)
    with pytest.raises(run.UnknownParameter, match=r"'scael' \(from -p; did you mean 'scale'\?\): "
                                                   r"no notebook in .*_toc.yml"):
        run.run_profile("x", book=book, overrides={"scael": 3})
    assert calls == [] and not (book / "runs").exists()


def test_unknown_profile_key_names_the_profile_file(tmp_path, monkeypatch):
    monkeypatch.delenv(paths.BOOK_ENV, raising=False)
    root = make_book(tmp_path / "b", profile="profile: x\nn: 1\nscale: 2\nupstreem: 5\nzzz: 1\n")
    with pytest.raises(run.UnknownParameter) as err:
        run.run_profile("x", book=root)
    assert "'upstreem' (in profiles/x.yml; no close match)" in str(err.value)
    assert "'zzz' (in profiles/x.yml; no close match)" in str(err.value)
    assert "driver's own keys are profile, run_dir" in str(err.value)


def test_unknown_key_suggestion_and_driver_keys():
    known = {"upstream", "downstream"} | run.DRIVER_KEYS
    assert run.unknown_parameters(["upstreem", "profile", "run_dir", "qqq"], known) == {
        "upstreem": "upstream", "qqq": None}


def test_cli_exits_2_on_unknown_key(book, capsys):
    assert run.main(["--book", str(book), "--profile", "x", "-p", "n=3", "-p", "scael=3"]) == 2
    err = capsys.readouterr().err
    assert "did you mean 'scale'" in err and "Traceback" not in err


def test_notebook_without_parameters_cell_is_refused(book):
    (book / "notebooks" / "02_use.md").write_text("# no cells\n")
    with pytest.raises(ValueError, match="02_use.md: no cell tagged 'parameters'"):
        run.run_profile("x", book=book)


# --- book discovery -----------------------------------------------------------------------------

def test_find_book_order(tmp_path, monkeypatch):
    monkeypatch.delenv(paths.BOOK_ENV, raising=False)
    a, b = make_book(tmp_path / "a"), make_book(tmp_path / "b")
    deep = a / "notebooks" / "sub"
    deep.mkdir()
    assert paths.find_book(cwd=deep) == a                     # nearest folder above the cwd
    monkeypatch.setenv(paths.BOOK_ENV, str(b))
    assert paths.find_book(cwd=deep) == b                     # $CORNLIB_BOOK before the cwd
    assert paths.find_book(a, cwd=deep) == a                  # --book before $CORNLIB_BOOK
    monkeypatch.delenv(paths.BOOK_ENV)
    assert paths.find_book(cwd=tmp_path) == REPO_ROOT         # a checkout: its own book
    with pytest.raises(paths.BookNotFound, match="--book .*nowhere is not a book folder"):
        paths.find_book(tmp_path / "nowhere")
    monkeypatch.setenv(paths.BOOK_ENV, str(tmp_path))
    with pytest.raises(paths.BookNotFound, match=r"\$CORNLIB_BOOK .* has no _toc.yml"):
        paths.find_book()


def test_no_book_is_a_clear_message_and_exit_2(tmp_path, monkeypatch, capsys):
    """What an installed (non-editable) cornlib says when run outside any book."""
    monkeypatch.delenv(paths.BOOK_ENV, raising=False)
    monkeypatch.setattr(paths, "REPO_ROOT", tmp_path / "site-packages")
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    assert run.main(["--profile", "tiny"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"at or above {empty}" in err and "--book DIR" in err and "CORNLIB_BOOK=DIR" in err


def test_book_from_cwd_profiles_and_relative_run_dir(book, tmp_path, monkeypatch):
    """Profiles come from <book>/profiles/; a relative run_dir is taken from the book root."""
    fake_runner(monkeypatch, FAKE)
    monkeypatch.chdir(book / "notebooks")
    manifest = run.run_profile("x", progress=False)
    assert manifest == book / "runs" / "x" / "manifest.json"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert run.run_profile("x", book=book, run_dir="out") == book / "out" / "manifest.json"


# --- manifest and staleness ---------------------------------------------------------------------

def test_manifest_records_sha_versions_and_provenance(book, monkeypatch, tmp_path):
    fake_runner(monkeypatch, FAKE)
    rd = tmp_path / "rd"
    manifest = json.loads(run.run_profile("x", book=book, run_dir=str(rd)).read_text())
    assert manifest["format"] == rundir_record.MANIFEST_FORMAT
    (last,) = manifest["history"]
    assert last["status"] == "ok" and last["notebooks"] == ["01_make", "02_use"]
    assert last["packages"]["torch"] and "git_sha" in last
    assert last["parameters"]["run_dir"] == str(rd) and last["book"] == str(book)
    use = manifest["notebooks"]["02_use"]
    assert use["run"] == 0 and "git_sha" in use and use["profile"] == "x"
    assert set(use["inputs"]) == {"data.txt"}                 # not the figure, not its own output
    assert set(use["outputs"]) == {"result.txt"}
    assert set(manifest["notebooks"]["01_make"]["outputs"]) == {"data.txt", "figures/f.png"}
    data = manifest["files"]["data.txt"]
    assert data["by"] == "01_make" and data["sha256"] == rundir_record.file_sha256(rd / "data.txt")
    assert rundir_record.stale(rd) == rundir_record.Stale([], [])


def test_partial_rerun_keeps_other_records_and_reports_stale(book, monkeypatch, tmp_path, capsys):
    calls = fake_runner(monkeypatch, FAKE)
    rd = tmp_path / "rd"
    run.run_profile("x", book=book, run_dir=str(rd))
    run.run_profile("x", book=book, run_dir=str(rd), only=["01"], overrides={"n": 5})
    manifest = io.read_json(rd / "manifest.json")
    assert [h["only"] for h in manifest["history"]] == [None, ["01"]]
    assert manifest["history"][1]["overrides"] == {"n": 5}
    assert manifest["notebooks"]["02_use"]["run"] == 0       # kept from the full run
    assert manifest["notebooks"]["01_make"]["run"] == 1
    assert rundir_record.stale(rd) == rundir_record.Stale(["02_use"], ["data.txt"])
    assert ("stale: 02_use (its inputs changed since it ran: data.txt); rerun with --only 02 "
            "or add --rerun-stale") in capsys.readouterr().err
    calls.clear()
    run.run_profile("x", book=book, run_dir=str(rd), only=["01"], overrides={"n": 5},
                    rerun_stale=True)
    assert calls == ["01_make", "02_use"] and rundir_record.stale(rd).notebooks == []
    assert io.read_json(rd / "manifest.json")["history"][-1]["notebooks"] == ["01_make", "02_use"]


def test_same_output_rewritten_is_not_a_change(book, monkeypatch, tmp_path):
    fake_runner(monkeypatch, FAKE)
    rd = tmp_path / "rd"
    run.run_profile("x", book=book, run_dir=str(rd))
    run.run_profile("x", book=book, run_dir=str(rd), only=["01"])
    assert rundir_record.stale(rd) == rundir_record.Stale([], [])


def test_stale_after_hand_edit_removal_and_new_upstream_file(book, monkeypatch, tmp_path):
    outputs = dict(FAKE)
    fake_runner(monkeypatch, outputs)
    rd = tmp_path / "rd"
    run.run_profile("x", book=book, run_dir=str(rd))
    (rd / "figures" / "f.png").write_text("other")            # figures are never inputs
    assert rundir_record.stale(rd).notebooks == []
    (rd / "data.txt").write_text("99")
    assert rundir_record.stale(rd) == rundir_record.Stale(["02_use"], ["data.txt"])
    (rd / "data.txt").unlink()
    assert rundir_record.stale(rd) == rundir_record.Stale(["02_use"], ["data.txt"])
    (rd / "data.txt").write_text("1")                         # the same content again
    assert rundir_record.stale(rd).notebooks == []
    outputs["01_make"] = lambda p: {"data.txt": "1", "extra.txt": "new"}
    run.run_profile("x", book=book, run_dir=str(rd), only=["01"])
    assert rundir_record.stale(rd) == rundir_record.Stale(["02_use"], ["extra.txt"])


def test_stale_propagates_through_stale_notebooks(tmp_path, monkeypatch):
    """03 ran after 01 changed but on 02's outputs made from the old ones: both are stale."""
    monkeypatch.delenv(paths.BOOK_ENV, raising=False)
    nbs = {**NOTEBOOKS, "03_end": ("", "pass")}
    root = make_book(tmp_path / "b", notebooks=nbs)
    fake_runner(monkeypatch, {**FAKE, "03_end": lambda p: {"end.txt": "e"}})
    rd = tmp_path / "rd"
    run.run_profile("x", book=root, run_dir=str(rd))
    run.run_profile("x", book=root, run_dir=str(rd), only=["01", "03"], overrides={"n": 2})
    assert rundir_record.stale(rd) == rundir_record.Stale(["02_use", "03_end"], ["data.txt"])
    msg = rundir_record.stale_message(rundir_record.stale(rd))
    assert msg == ("stale: 02_use, 03_end (their inputs changed since they ran: data.txt); "
                   "rerun with --only 02 03 or add --rerun-stale")


def test_failed_notebook_is_recorded_with_its_outputs(book, monkeypatch, tmp_path):
    def boom(params):
        (tmp_path / "rd" / "half.txt").write_text("half")
        raise run.NotebookFailed("02_use.md failed in cell 3")

    fake_runner(monkeypatch, {**FAKE, "02_use": boom})
    rd = tmp_path / "rd"
    with pytest.raises(run.NotebookFailed):
        run.run_profile("x", book=book, run_dir=str(rd))
    manifest = io.read_json(rd / "manifest.json")
    use = manifest["notebooks"]["02_use"]
    assert use["status"] == "failed" and "cell 3" in use["error"] and "half.txt" in use["outputs"]
    assert manifest["history"][-1]["status"] == "failed"
    assert manifest["notebooks"]["01_make"]["status"] == "ok"


def test_old_manifest_is_upgraded(book, monkeypatch, tmp_path):
    rd = tmp_path / "rd"
    rd.mkdir()
    io.write_json(rd / "manifest.json", {"profile": "x", "git_sha": "abc", "parameters": {"n": 1},
                                         "notebooks": {"02_use": {"status": "ok"}}})
    assert rundir_record.stale(rd) == rundir_record.Stale([], [])                 # nothing recorded to judge
    fake_runner(monkeypatch, FAKE)
    run.run_profile("x", book=book, run_dir=str(rd), only=["01"])
    manifest = io.read_json(rd / "manifest.json")
    assert manifest["history"][0] == {"profile": "x", "git_sha": "abc", "parameters": {"n": 1},
                                      "run": 0}
    assert manifest["notebooks"]["02_use"] == {"status": "ok", "git_sha": "abc", "profile": "x",
                                               "run": 0}


def test_snapshot_skips_notebooks_manifest_and_temporaries_and_reuses_hashes(tmp_path, monkeypatch):
    for rel in ("01_a.ipynb", "manifest.json", ".x.part", "sub/.tmp/y", "sub/k.ipynb", "a.txt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(rel)
    first = rundir_record.snapshot(tmp_path)
    assert sorted(first) == ["a.txt", "sub/k.ipynb"]
    hashed = []
    monkeypatch.setattr(rundir_record, "file_sha256", lambda p: hashed.append(p.name) or "h")
    assert rundir_record.snapshot(tmp_path, first) == first and hashed == []
    os.utime(tmp_path / "a.txt", ns=(1, 1))
    assert rundir_record.snapshot(tmp_path, first)["a.txt"]["sha256"] == "h" and hashed == ["a.txt"]


def test_large_files_compare_by_size_and_mtime(tmp_path, monkeypatch):
    monkeypatch.setattr(rundir_record, "HASH_MAX_BYTES", 3)
    (tmp_path / "big").write_text("12345")
    fp = rundir_record.fingerprint(tmp_path / "big")
    again = rundir_record.fingerprint(tmp_path / "big")
    assert fp["sha256"] is None and rundir_record.same_content(fp, again)
    os.utime(tmp_path / "big", ns=(1, 1))
    assert not rundir_record.same_content(fp, rundir_record.fingerprint(tmp_path / "big"))


# --- executing real notebooks -------------------------------------------------------------------

@pytest.mark.slow
def test_run_notebook_writes_output_and_reports_failure(tmp_path, monkeypatch):
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    ok = nbdir / "01_ok.md"
    write_nb(ok, "boom = False", textwrap.dedent("""\
        from pathlib import Path
        Path(run_dir, "out.txt").write_text("hi")
        if boom:
            raise RuntimeError("kaboom")"""))
    monkeypatch.setattr(run, "REPO_ROOT", tmp_path)
    entry = run.run_notebook(ok, tmp_path, {"boom": False, "unused": 1}, progress=False)
    assert entry["status"] == "ok" and entry["parameters"] == {"boom": False, "run_dir": str(tmp_path)}
    assert entry["notebook"] == "notebooks/01_ok.md"
    assert (tmp_path / "01_ok.ipynb").exists() and (tmp_path / "out.txt").read_text() == "hi"
    with pytest.raises(run.NotebookFailed, match=r"01_ok.md failed in cell 3 \(RuntimeError: "
                       r"kaboom\); the cell begins `from pathlib"):
        run.run_notebook(ok, tmp_path, {"boom": True}, progress=False)
    assert (tmp_path / "01_ok.failed.ipynb").exists()
    assert not (tmp_path / "01_ok.partial.ipynb").exists()


@pytest.mark.slow
def test_driver_end_to_end_stale_and_rerun(book, capsys):
    """Real papermill runs of the two-notebook book: full run, partial rerun, --rerun-stale."""
    rd = book / "runs" / "x"
    assert run.main(["--book", str(book), "--profile", "x", "--no-progress"]) == 0
    assert (rd / "result.txt").read_text() == "2" and (rd / "02_use.ipynb").exists()
    assert run.main(["--book", str(book), "--profile", "x", "--only", "01", "-p", "n=4",
                     "--no-progress"]) == 0
    assert "stale: 02_use (its inputs changed since it ran: data.txt)" in capsys.readouterr().err
    assert rundir_record.stale(rd) == rundir_record.Stale(["02_use"], ["data.txt"])
    assert run.main(["--book", str(book), "--profile", "x", "--only", "01", "-p", "n=4",
                     "--rerun-stale", "--no-progress"]) == 0
    assert (rd / "result.txt").read_text() == "8" and rundir_record.stale(rd).notebooks == []
    manifest = io.read_json(rd / "manifest.json")
    assert [h["notebooks"] for h in manifest["history"]] == [
        ["01_make", "02_use"], ["01_make"], ["01_make", "02_use"]]
    assert manifest["notebooks"]["02_use"]["parameters"] == {"scale": 2, "run_dir": str(rd)}


def test_atomic_write_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "t.json"
    io.write_json(target, {"a": 1})
    with pytest.raises(RuntimeError):
        with io.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("stop")
    assert json.loads(target.read_text()) == {"a": 1}
    assert list(tmp_path.iterdir()) == [target]

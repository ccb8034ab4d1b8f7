"""A non-editable install of cornlib (a wheel in a fresh venv) run from an empty folder.

The fresh venv reuses this environment's packages through a ``.pth`` file, so nothing is
downloaded: the wheel is built offline without build isolation (setuptools from here).
"""

import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

from cornlib import paths
from cornlib.paths import REPO_ROOT

pytestmark = pytest.mark.slow

NOTEBOOK = """\
---
jupytext:
  text_representation: {extension: .md, format_name: myst}
kernelspec: {display_name: Python 3, language: python, name: python3}
---
# One
```{code-cell} ipython3
:tags: [parameters]
run_dir = "x"
n = 1
```
```{code-cell} ipython3
from pathlib import Path
Path(run_dir, "n.txt").write_text(str(n))
```
"""


def sh(*cmd, cwd, env, check=True):
    out = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True,
                         timeout=300)
    if check and out.returncode:
        raise AssertionError(f"{cmd} exited {out.returncode}:\n{out.stdout}\n{out.stderr}")
    return out


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """``(bin folder, environment)`` of a fresh venv holding a wheel of this checkout."""
    if not (REPO_ROOT / "pyproject.toml").exists():
        pytest.skip("needs the source checkout")
    for module in ("pip", "setuptools"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"needs {module} in the test environment")
    tmp = tmp_path_factory.mktemp("install")
    env = {k: v for k, v in os.environ.items() if k not in {paths.BOOK_ENV, "PYTHONPATH"}}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    src = tmp / "src"        # a copy, so the build leaves no build/ folder in the checkout
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO_ROOT / name, src)
    shutil.copytree(REPO_ROOT / "cornlib", src / "cornlib",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    sh(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
       "-w", tmp / "wheels", src, cwd=tmp, env=env)
    (wheel,) = (tmp / "wheels").glob("cornlib-*.whl")
    venv = tmp / "venv"
    sh(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp, env=env)
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / "python"
    purelib = sh(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                 cwd=tmp, env=env).stdout.strip()
    deps = dict.fromkeys([sysconfig.get_paths()[k] for k in ("purelib", "platlib")]
                         + [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))])
    (tmp / purelib / "_cornlib_test_deps.pth").write_text("\n".join(deps) + "\n")
    # --ignore-installed: never touch the cornlib of this environment, visible through the .pth.
    sh(python, "-m", "pip", "install", "--no-deps", "--ignore-installed", "-q", wheel,
       cwd=tmp, env=env)
    return bindir, env, tmp


@pytest.fixture
def empty(tmp_path):
    if any(paths.is_book(d) for d in (tmp_path, *tmp_path.parents)):
        pytest.skip(f"{tmp_path} lies inside a book folder")
    return tmp_path


def test_installed_copy_is_used(fresh, empty):
    bindir, env, tmp = fresh
    where = sh(bindir / "python", "-c", "import cornlib.paths as p; print(p.REPO_ROOT)",
               cwd=empty, env=env).stdout.strip()
    assert where.startswith(str(tmp)) and not (Path(where) / "_toc.yml").exists()


def test_promoters_help_works_from_an_empty_folder(fresh, empty):
    bindir, env, _ = fresh
    out = sh(bindir / "cornlib", "promoters", "--help", cwd=empty, env=env)
    assert "--fasta" in out.stdout


def test_run_without_a_book_says_where_it_looked(fresh, empty):
    bindir, env, _ = fresh
    for cmd in ([bindir / "cornlib", "run"], [bindir / "python", "-m", "cornlib.run"]):
        out = sh(*cmd, "--profile", "tiny", cwd=empty, env=env, check=False)
        assert out.returncode == 2, out.stderr
        assert "no book found" in out.stderr and f"at or above {empty}" in out.stderr
        assert "--book DIR" in out.stderr and "CORNLIB_BOOK=DIR" in out.stderr
        assert "Traceback" not in out.stderr


def test_run_with_book_gets_past_discovery(fresh, empty):
    bindir, env, _ = fresh
    out = sh(bindir / "cornlib", "run", "--book", REPO_ROOT, "--profile", "tiny", "--only", "99",
             cwd=empty, env=env, check=False)
    assert out.returncode == 2 and "--only 99 matches no notebook in _toc.yml" in out.stderr


def test_run_a_book_named_by_the_environment(fresh, empty, tmp_path_factory):
    bindir, env, _ = fresh
    book = tmp_path_factory.mktemp("book")
    (book / "notebooks").mkdir()
    (book / "profiles").mkdir()
    (book / "profiles" / "one.yml").write_text("profile: one\nrun_dir: runs/one\nn: 3\n")
    (book / "_toc.yml").write_text(textwrap.dedent("""\
        format: jb-book
        root: intro
        chapters:
          - file: notebooks/01_one
        """))
    (book / "notebooks" / "01_one.md").write_text(NOTEBOOK)
    out = sh(bindir / "cornlib", "run", "--profile", "one", "--no-progress", cwd=empty,
             env={**env, paths.BOOK_ENV: str(book)}, check=False)
    assert out.returncode == 0, out.stderr
    assert (book / "runs" / "one" / "n.txt").read_text() == "3"
    assert (book / "runs" / "one" / "manifest.json").exists()

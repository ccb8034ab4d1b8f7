"""environment.yml stays in step with pyproject.toml."""

import re

import tomllib
import yaml

from cornlib.paths import REPO_ROOT

CONDA_NAMES = {"torch": "pytorch"}


def _name(req: str) -> str:
    return re.split(r"[<>=!~ \[]", req, maxsplit=1)[0].strip().lower()


def test_environment_yml_lists_every_dependency():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    env = yaml.safe_load((REPO_ROOT / "environment.yml").read_text())
    conda = {_name(d) for d in env["dependencies"] if isinstance(d, str)}
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = conda | {_name(p) for p in pip if not p.startswith("-e")}
    missing = [r for r in project["dependencies"] if CONDA_NAMES.get(_name(r), _name(r)) not in listed]
    assert not missing, f"environment.yml lacks {missing}"
    assert any(p.startswith("-e") and "book" in p and "test" in p for p in pip)


def test_torch_range_admits_local_cpu_build():
    from packaging.requirements import Requirement

    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    torch = next(Requirement(r) for r in project["dependencies"] if _name(r) == "torch")
    assert torch.specifier.contains("2.13.0")
    assert not torch.specifier.contains("2.15.0"), "an open range lets pip pull a CUDA build"

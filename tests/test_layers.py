"""ARCHITECTURE.md's layer table is what the imports do: no module imports from a layer below it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from cornlib.paths import REPO_ROOT

PACKAGE = REPO_ROOT / "cornlib"


def layer_table(text: str) -> list[tuple[str, list[str]]]:
    """``[(layer, [part, ...]), ...]`` from the table under '## Layers' (top layer first)."""
    section = text.split("## Layers", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or cells[0] in {"layer", ""} or set(cells[0]) <= {"-"}:
            continue
        rows.append((cells[0], re.findall(r"`([A-Za-z_]+)/?`", cells[1])))
    return rows


def module_imports(path: Path, module: str) -> set[str]:
    """Every ``cornlib`` module or name that ``path`` imports, at any depth of the code."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.add(name)
            found |= {f"{name}.{a.name}" for a in node.names}
    return {n for n in found if n == "cornlib" or n.startswith("cornlib.")}


def part_of(name: str) -> str:
    """``cornlib.data.genome`` → ``data``; ``cornlib`` → ``__init__``."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def rank_of_parts() -> dict[str, int]:
    rows = layer_table((REPO_ROOT / "ARCHITECTURE.md").read_text())
    return {part: rank for rank, (_, parts) in enumerate(rows) for part in parts}


def test_table_is_read():
    rows = layer_table((REPO_ROOT / "ARCHITECTURE.md").read_text())
    assert [r[0] for r in rows][:2] == ["basics", "sequences"]
    assert all(parts for _, parts in rows), rows


def test_every_module_has_a_layer():
    ranks = rank_of_parts()
    missing = sorted({part_of(m) for m in modules()} - set(ranks))
    assert not missing, f"add these to ARCHITECTURE.md's layer table: {missing}"


def violations(ranks: dict[str, int], known: dict[str, Path]) -> list[str]:
    """Imports of ``known`` modules that reach a part listed further down the table."""
    bad = []
    for module, path in known.items():
        own = ranks.get(part_of(module))
        if own is None:
            continue
        for name in module_imports(path, module):
            other = part_of(name)
            if other in ranks and ranks[other] > own:
                bad.append(f"{module} ({part_of(module)}) imports {name} ({other})")
    return sorted(bad)


def test_no_import_from_a_lower_layer():
    bad = violations(rank_of_parts(), modules())
    assert not bad, "imports against ARCHITECTURE.md's layers:\n" + "\n".join(bad)


def test_checker_catches_an_upward_import(tmp_path):
    src = tmp_path / "simulate.py"
    src.write_text("def f():\n    from cornlib.evaluate.metrics import r2_columns\n")
    bad = violations(rank_of_parts(), {"cornlib.data.simulate": src})
    assert bad and "cornlib.evaluate.metrics" in bad[0]


def test_checker_sees_imports_inside_functions(tmp_path):
    src = tmp_path / "m.py"
    src.write_text("def f():\n    from cornlib.training import run\n    import cornlib.cli\n")
    assert module_imports(src, "cornlib.m") >= {"cornlib.training", "cornlib.cli"}


@pytest.mark.parametrize("relative,expected", [(1, "cornlib.data.genome"), (2, "cornlib.sequence")])
def test_relative_imports_resolve(tmp_path, relative, expected):
    src = tmp_path / "x.py"
    src.write_text(f"from {'.' * relative}{expected.rsplit('.', 1)[1]} import y\n")
    assert expected in module_imports(src, "cornlib.data.x")

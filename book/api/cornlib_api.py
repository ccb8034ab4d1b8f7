"""Sphinx extension behind the book's API reference (``book/api.md``).

- Before anything is read (``config-inited``, ahead of sphinx-external-toc, whose ``_toc.yml``
  glob ``book/api/generated/*`` picks the pages up), it writes one page per public module of
  ``cornlib`` into ``book/api/generated/`` (found with ``pkgutil``; ``_private`` modules are
  skipped): the module's ``automodule``, plus, for a package, tables of its submodules and of
  the names it re-exports. Pages of modules that no longer exist are deleted, and unchanged
  pages are left alone, so a moved module never leaves a stale page behind.
- ``.. cornlib-modules::`` (one module name a line) is the table of modules that book/api.md
  shows for each concern. The build warns (an error under ``-W``) when a public module is
  missing from book/api.md, or when the page names a module that does not exist.
- A cross-reference to a name that a cornlib module *imports* (``:func:`as_sequences``` in a
  module that does ``from cornlib.split.mmseqs import as_sequences``, or
  ``:func:`cornlib.sequence.normalize``` for a re-export) resolves to where that object is
  defined and documented, just as the name resolves in Python. Names that exist nowhere still
  warn.

Autosummary is not used for the module list: it resolves ``cornlib.split.assign`` to the
*function* that ``cornlib.split`` re-exports, not to the module of that name; and stubs that it
generates after sphinx-external-toc has run are excluded by ``only_build_toc_files`` on the next
build.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
import sys
from pathlib import Path, PurePath
from types import ModuleType
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.ext import autodoc
from sphinx.ext.autosummary import autosummary_table, extract_summary
from sphinx.pycode import ModuleAnalyzer
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective, switch_source_input
from sphinx.util.inspect import object_description

PACKAGE = "cornlib"
#: Where the module pages go, relative to the book root (git-ignored, made on every build).
GENERATED = "book/api/generated"
#: The page whose ``cornlib-modules`` tables must list every public module.
API_PAGE = "book/api"

logger = logging.getLogger(__name__)


# --- the package ---------------------------------------------------------------------------------

def public_modules() -> list[str]:
    """Every public module of the package, the package itself first, then in name order."""
    package = importlib.import_module(PACKAGE)
    names = [PACKAGE]

    def failed(name: str) -> None:
        logger.warning("cornlib_api: cannot import %s: %s", name, sys.exc_info()[1],
                       type="cornlib_api", subtype="import")

    for info in pkgutil.walk_packages(package.__path__, PACKAGE + ".", onerror=failed):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return [PACKAGE] + sorted(names[1:])


def is_package(module: ModuleType) -> bool:
    return hasattr(module, "__path__")


def submodules(name: str, modules: list[str]) -> list[str]:
    """The public modules directly below package ``name``."""
    depth = name.count(".") + 1
    return [m for m in modules if m.startswith(name + ".") and m.count(".") == depth]


def defining_names(module: ModuleType, attr: str) -> list[str]:
    """Full names under which ``module.attr`` may be documented: where the object is defined.

    A class or function names its own module; data has no ``__module__``, so its candidates are
    the cornlib modules that hold the same object and give it a ``#:`` doc comment (the module
    itself first), which is where autodoc documents it.
    """
    obj = getattr(module, attr)
    if inspect.ismodule(obj):
        return [obj.__name__]
    home, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if inspect.isclass(obj) or inspect.isroutine(obj):
        if isinstance(home, str) and isinstance(qualname, str) and _ours(home):
            return [f"{home}.{qualname}"]
        return []
    homes = sorted((mod_name for mod_name, mod in list(sys.modules.items())
                    if _ours(mod_name) and mod is not None and vars(mod).get(attr) is obj
                    and ("", attr) in _attr_docs(mod_name)),
                   key=lambda m: m != module.__name__)
    return [f"{m}.{attr}" for m in homes]


def _ours(module_name: str) -> bool:
    return module_name == PACKAGE or module_name.startswith(PACKAGE + ".")


def _attr_docs(module_name: str) -> dict[tuple[str, str], list[str]]:
    """The ``#:`` doc comments (and docstrings) of a module's attributes, by (scope, name)."""
    try:
        return ModuleAnalyzer.for_module(module_name).find_attr_docs()
    except Exception:  # noqa: BLE001 -- no source, no doc comments
        return {}


def reexports(module: ModuleType) -> list[tuple[str, str | None]]:
    """``(name, where it is documented, or None)`` of each name in ``__all__`` from elsewhere."""
    out = []
    for attr in getattr(module, "__all__", []):
        if not hasattr(module, attr):
            continue
        obj = getattr(module, attr)
        if inspect.isclass(obj) or inspect.isroutine(obj) or inspect.ismodule(obj):
            targets = defining_names(module, attr)
            if targets == [f"{module.__name__}.{attr}"]:
                continue  # defined here
        else:
            if attr in _assigned(module.__name__):
                continue  # this module's own data (``X = ...``)
            targets = defining_names(module, attr)
        documented = [t for t in targets if _documented(t)]
        out.append((attr, documented[0] if documented else None))
    return out


def _assigned(module_name: str) -> set[str]:
    """Names a module binds with a plain top-level assignment (``X = ...``), not an import."""
    try:
        source = inspect.getsource(importlib.import_module(module_name))
    except (OSError, TypeError):
        return set()
    names = set()
    for stmt in ast.parse(source).body:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else \
            [stmt.target] if isinstance(stmt, ast.AnnAssign) else []
        names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def _documented(target: str) -> bool:
    """Whether autodoc (members, no undoc-members) documents the object named ``target``."""
    module_name, _, attr = target.rpartition(".")
    obj = _resolve(target)
    if obj is None:
        return False
    if inspect.isclass(obj) or inspect.isroutine(obj):
        return bool(inspect.getdoc(obj))
    return ("", attr) in _attr_docs(module_name)


def _resolve(dotted: str) -> Any:
    """The object a dotted path reaches: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        module = sys.modules.get(".".join(parts[:i]))
        if module is None:
            try:
                module = importlib.import_module(".".join(parts[:i]))
            except ImportError:
                continue
        obj: Any = module
        try:
            for part in parts[i:]:
                obj = getattr(obj, part)
        except AttributeError:
            return None
        return obj
    return None


# --- the generated pages -------------------------------------------------------------------------

def module_page(name: str, modules: list[str]) -> str:
    """The reStructuredText of the page of module ``name``."""
    module = importlib.import_module(name)
    rst = [name, "=" * len(name), "", f".. automodule:: {name}", "   :members:",
           "   :show-inheritance:"]
    shared = reexports(module)
    if shared:
        # Names in __all__ that are defined elsewhere are documented there (the table below
        # links to them), so only this module's own members are documented here.
        rst.append("   :ignore-module-all:")
    subs = submodules(name, modules) if is_package(module) else []
    if subs:
        rst += ["", ".. rubric:: Submodules", "", ".. cornlib-modules::", ""]
        rst += [f"   {sub}" for sub in subs]
    if shared:
        rst += ["", f".. rubric:: Importable from ``{name}``", "",
                f".. cornlib-reexports:: {name}"]
    return "\n".join(rst) + "\n"


def write_pages(app: Sphinx, config: Any) -> None:
    """Write one page per public module into GENERATED; delete pages of vanished modules."""
    out = Path(app.srcdir) / GENERATED
    out.mkdir(parents=True, exist_ok=True)
    modules = public_modules()
    wanted = {}
    for name in modules:
        try:
            wanted[f"{name}.rst"] = module_page(name, modules)
        except Exception as exc:  # noqa: BLE001 -- say which module, keep building
            logger.warning("cornlib_api: no page for %s: %s", name, exc,
                           type="cornlib_api", subtype="import")
    for path in out.iterdir():
        if path.is_file() and path.name not in wanted:
            path.unlink()
    for filename, text in wanted.items():
        path = out / filename
        if not path.exists() or path.read_text() != text:
            path.write_text(text)


# --- tables --------------------------------------------------------------------------------------

class _Table(SphinxDirective):
    """An autosummary-looking two-column table: a reference, then a summary."""

    def table(self, rows: list[tuple[str, list[str], str]]) -> list[nodes.Node]:
        """``rows``: (reference markup, docstring lines, module the summary is written in)."""
        holder = autosummary_table("")
        table = nodes.table("", classes=["autosummary", "longtable"])
        holder.append(table)
        group = nodes.tgroup("", cols=2)
        table.append(group)
        group.append(nodes.colspec("", colwidth=10))
        group.append(nodes.colspec("", colwidth=90))
        body = nodes.tbody("")
        group.append(body)
        source, line = self.state_machine.get_source_and_line()
        for ref, doc, context in rows:
            summary = extract_summary(doc, self.state.document) if doc else ""
            row = nodes.row("")
            for text, module in ((ref, None), (summary, context)):
                row.append(nodes.entry("", self.parse(text, module, source, line)))
            body.append(row)
        return [holder]

    def parse(self, text: str, module: str | None, source: str, line: int) -> nodes.Node:
        """``text`` parsed as RST, with ``py:module`` set so relative references resolve."""
        node = nodes.paragraph("")
        lines = StringList()
        lines.append(text, f"{source}:{line}:<{self.name}>")
        saved = self.env.ref_context.get("py:module")
        if module:
            self.env.ref_context["py:module"] = module
        try:
            with switch_source_input(self.state, lines):
                self.state.nested_parse(lines, 0, node)
        finally:
            if saved is None:
                self.env.ref_context.pop("py:module", None)
            else:
                self.env.ref_context["py:module"] = saved
        if len(node) == 1 and isinstance(node[0], nodes.paragraph):
            return node[0]
        return node


class ModulesDirective(_Table):
    """``.. cornlib-modules::`` with one module name a line: their table (name, summary)."""

    has_content = True

    def run(self) -> list[nodes.Node]:
        rows = []
        listed = getattr(self.env, "cornlib_api_listed", {})
        self.env.cornlib_api_listed = listed
        for name in (line.strip() for line in self.content):
            if not name:
                continue
            try:
                module = importlib.import_module(name)
            except ImportError as exc:
                logger.warning("cornlib-modules: no module %s (%s)", name, exc,
                               location=self.get_location(), type="cornlib_api",
                               subtype="unknown")
                continue
            listed.setdefault(self.env.docname, set()).add(name)
            doc = inspect.getdoc(module) or ""
            rows.append((f":py:mod:`{name}`", doc.splitlines(), name))
        return self.table(rows)


class ReexportsDirective(_Table):
    """``.. cornlib-reexports:: MODULE``: the names its ``__all__`` takes from elsewhere."""

    required_arguments = 1

    def run(self) -> list[nodes.Node]:
        module = importlib.import_module(self.arguments[0])
        rows = []
        for attr, target in reexports(module):
            if target is None:  # not documented anywhere: name it, link nothing
                rows.append((f"``{attr}``", [], module.__name__))
                continue
            home, _, last = target.rpartition(".")
            obj = getattr(module, attr)
            if inspect.isclass(obj) or inspect.isroutine(obj):
                doc = (inspect.getdoc(obj) or "").splitlines()
                home = obj.__module__
            else:
                doc = list(_attr_docs(home).get(("", last), []))
            rows.append((f":py:obj:`{attr} <{target}>`", doc, home))
        return self.table(rows)


# --- coverage and references ---------------------------------------------------------------------

def purge(app: Sphinx, env: Any, docname: str) -> None:
    getattr(env, "cornlib_api_listed", {}).pop(docname, None)


def merge(app: Sphinx, env: Any, docnames: set[str], other: Any) -> None:
    mine = getattr(env, "cornlib_api_listed", {})
    env.cornlib_api_listed = mine
    for docname, names in getattr(other, "cornlib_api_listed", {}).items():
        if docname in docnames:
            mine[docname] = names


def check_coverage(app: Sphinx, env: Any) -> None:
    """Warn for each public module that book/api.md does not list."""
    if API_PAGE not in env.found_docs:
        return
    listed = getattr(env, "cornlib_api_listed", {}).get(API_PAGE, set())
    for name in public_modules():
        if name not in listed:
            logger.warning("cornlib_api: public module %s is not listed on the API page "
                           "(add it to a cornlib-modules table in %s.md)", name, API_PAGE,
                           location=API_PAGE, type="cornlib_api", subtype="unlisted")


def resolve_imported(app: Sphinx, env: Any, node: Any, contnode: nodes.Node) -> nodes.Node | None:
    """Resolve a reference to a name a cornlib module imports to where it is documented."""
    if node.get("refdomain") != "py":
        return None
    target = node["reftarget"].lstrip(".~")
    context = node.get("py:module")
    candidates = [target] if _ours(target) else []
    if context:
        klass = node.get("py:class")
        if klass:
            candidates.append(f"{context}.{klass}.{target}")
        candidates.append(f"{context}.{target}")
    domain = env.get_domain("py")
    for candidate in candidates:
        for defined in _defined_as(candidate):
            if defined != candidate and defined in domain.objects:
                return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"],
                                           defined, node, contnode)
    # A bare name that the module imports from another package (``Path`` in an annotation
    # autodoc could not evaluate): ignored as its full name would be by nitpick_ignore_regex.
    if context and not _ours(target):
        outside = _external_name(f"{context}.{target}")
        if outside and _nitpick_ignored(app, f"py:{node['reftype']}", outside):
            return contnode
    return None


def _external_name(dotted: str) -> str | None:
    """``module.qualname`` of what ``dotted`` reaches, when that is defined outside cornlib."""
    obj = _resolve(dotted)
    if obj is None:
        return None
    if inspect.ismodule(obj):
        return None if _ours(obj.__name__) else obj.__name__
    home, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if isinstance(home, str) and isinstance(qualname, str) and not _ours(home):
        return f"{home}.{qualname}"
    return None


def _nitpick_ignored(app: Sphinx, reftype: str, target: str) -> bool:
    return any(re.fullmatch(kind, reftype) and re.fullmatch(name, target)
               for kind, name in app.config.nitpick_ignore_regex) or \
        (reftype, target) in set(map(tuple, app.config.nitpick_ignore))


def _defined_as(dotted: str) -> list[str]:
    """Where the object that ``dotted`` reaches in Python is defined (candidates)."""
    owner_path, _, attr = dotted.rpartition(".")
    owner = _resolve(owner_path) if owner_path else None
    if owner is None or not hasattr(owner, attr):
        return []
    if inspect.ismodule(owner):
        return defining_names(owner, attr)
    # an attribute of a class: under the name of the class where it is defined
    klass_home, klass_attr = owner_path.rpartition(".")[::2]
    holder = _resolve(klass_home)
    if holder is None or not inspect.ismodule(holder):
        return []
    return [f"{home}.{attr}" for home in defining_names(holder, klass_attr)]


#: Longer values (lookup tables, byte maps) are not shown next to a constant's name.
MAX_VALUE_CHARS = 300


class DataDocumenter(autodoc.DataDocumenter):
    """Module data, without the value when it is long or a path (it names the build machine)."""

    def should_suppress_value_header(self) -> bool:
        if super().should_suppress_value_header():
            return True
        if isinstance(self.object, PurePath):
            return True
        try:
            return len(object_description(self.object)) > MAX_VALUE_CHARS
        except Exception:  # noqa: BLE001 -- no usable repr: show none
            return True


def drop_bases_object(app: Sphinx, doctree: nodes.document) -> None:
    """Remove the "Bases: object" line that ``show-inheritance`` gives every plain class."""
    for content in doctree.findall(addnodes.desc_content):
        first = content.children[0] if content.children else None
        if isinstance(first, nodes.paragraph) and first.astext() == "Bases: object":
            content.remove(first)


def setup(app: Sphinx) -> dict[str, Any]:
    app.setup_extension("sphinx.ext.autodoc")
    app.setup_extension("sphinx.ext.autosummary")
    app.connect("config-inited", write_pages, priority=400)  # before sphinx-external-toc (900)
    app.add_directive("cornlib-modules", ModulesDirective)
    app.add_directive("cornlib-reexports", ReexportsDirective)
    app.connect("env-purge-doc", purge)
    app.connect("env-merge-info", merge)
    app.connect("env-check-consistency", check_coverage)
    app.connect("missing-reference", resolve_imported)
    app.connect("doctree-read", drop_bases_object)
    app.add_autodocumenter(DataDocumenter, override=True)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True,
            "env_version": 1}

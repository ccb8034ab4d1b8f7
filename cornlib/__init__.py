"""cornlib: predict plant gene expression from promoter DNA with transformer models.

Submodules are imported by module-qualified name (``cornlib.data.promoters``,
``cornlib.split``, ...); importing ``cornlib`` itself stays light.
"""

__version__ = "0.1.0"


class CornlibWarning(UserWarning):
    """A soft problem in the data or a setting (filter it with the ``warnings`` module)."""


def _quiet_tqdm_widgets() -> None:
    """Without ipywidgets, ``tqdm.auto`` (imported by pooch and transformers) warns once in every
    Jupyter kernel and then falls back to a text bar; the warning says nothing useful here."""
    import warnings

    warnings.filterwarnings("ignore", message="IProgress not found", category=Warning)


def _short_warning_paths() -> None:
    """Warnings name where they were raised: in a Jupyter cell, its temporary file
    (``/tmp/ipykernel_…/….py``), in a package, its install path. Pages show neither: a warning
    from a cell shows as ``Category: message``, one from a package with the path from its
    ``sys.path`` entry (``modiscolite/util.py:454: …``)."""
    import re
    import sys
    import warnings

    original = warnings.formatwarning
    cell = re.compile(r"ipykernel_\d+[/\\]\d+\.py$")

    def relative(filename: str) -> str:
        roots = [p for p in sys.path if p and filename.startswith(p.rstrip("/\\") + "/")]
        return filename[len(max(roots, key=len).rstrip("/\\")) + 1:] if roots else filename

    def formatwarning(message, category, filename, lineno, line=None):
        if cell.search(str(filename)):
            return f"{category.__name__}: {message}\n"
        return original(message, category, relative(str(filename)), lineno, line)

    formatwarning.cornlib = True
    if not getattr(warnings.formatwarning, "cornlib", False):
        warnings.formatwarning = formatwarning


_quiet_tqdm_widgets()
_short_warning_paths()

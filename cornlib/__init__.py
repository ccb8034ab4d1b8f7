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


_quiet_tqdm_widgets()

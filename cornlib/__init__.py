"""cornlib: predict plant gene expression from promoter DNA with transformer models.

Submodules are imported by module-qualified name (``cornlib.data.promoters``,
``cornlib.split``, ...); importing ``cornlib`` itself stays light.
"""

__version__ = "0.1.0"


class CornlibWarning(UserWarning):
    """A soft problem in the data or a setting (filter it with the ``warnings`` module)."""

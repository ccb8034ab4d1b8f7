"""The book's models as Hugging Face classes, registered with ``Auto*`` on import.

- :mod:`cornlib.models.cornbert`: the RoBERTa masked LM and its mean-pool regressor.
- :mod:`cornlib.models.cnn`: the convolutional baseline on one-hot bases.
- :mod:`cornlib.models.hybrid`: a convolutional stem feeding transformer layers, with a
  masked-bin pretraining head and a regression head.
- :mod:`cornlib.models.targets`: what a saved regressor records about its targets.
- :mod:`cornlib.models.markov`: the Markov-chain baseline of masked-LM scoring.
- :mod:`cornlib.models.predictor`: any trained model as DNA strings in, genes × tissues out.
- :mod:`cornlib.models.kinds`: which model is which (what it reads, its classes), and the one
  reader of a saved folder's ``config.json``; each module's ``MODEL_TYPE`` is its own.
- :mod:`cornlib.models.state`: borrow a caller's model and give it back as it was.

``import cornlib.models`` is all it takes for ``transformers.AutoModelForMaskedLM`` (or
``AutoModelForSequenceClassification``) ``.from_pretrained(folder)`` to load a cornlib model.
"""

from cornlib.models import cnn, cornbert, hybrid
from cornlib.models.cnn import PromoterCNN, PromoterCNNConfig
from cornlib.models.cornbert import (
    ATTN_IMPLEMENTATION,
    SHAPE_KEYS,
    CornBertConfig,
    CornBertForMaskedLM,
    CornBertForRegression,
    CornBertModel,
    CornBertPreTrainedModel,
    MeanPool,
    check_compatible,
    config_for_tokenizer,
    load_mlm,
    new_mlm,
    size_summary,
)
from cornlib.models.hybrid import (
    CornHybridConfig,
    CornHybridForMaskedLM,
    CornHybridForRegression,
    CornHybridModel,
)

__all__ = ["ATTN_IMPLEMENTATION", "SHAPE_KEYS", "CornBertConfig",
           "CornBertForMaskedLM", "CornBertForRegression", "CornBertModel",
           "CornBertPreTrainedModel", "CornHybridConfig", "CornHybridForMaskedLM",
           "CornHybridForRegression", "CornHybridModel", "MeanPool", "PromoterCNN", "PromoterCNNConfig",
           "check_compatible", "config_for_tokenizer", "load_mlm", "new_mlm", "register",
           "size_summary"]


def register() -> None:
    """Register every cornlib model with the ``Auto*`` factories (done on import; repeatable)."""
    cornbert.register()
    cnn.register()
    hybrid.register()


register()

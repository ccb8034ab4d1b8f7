"""A transparent stand-in model for the interpretation tests: known answers, no training."""

import numpy as np

from cornlib.models import predictor

MOTIF = "TGACGTCA"


class MotifCounter:
    """A sklearn-like model: target 0 = count of MOTIF, target 1 = GC fraction."""

    def predict(self, seqs):
        return np.array([[s.count(MOTIF), (s.count("G") + s.count("C")) / len(s)] for s in seqs])


def motif_predictor():
    """:class:`MotifCounter` as a predictor with targets ``motif`` and ``gc``."""
    return predictor.SklearnPredictor(MotifCounter(), ["motif", "gc"])

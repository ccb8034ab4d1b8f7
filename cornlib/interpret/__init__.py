"""What the models learned: perturbations (mutagenesis, k-mer flips), gradient attributions,
motifs from importance, and recovery of the simulation's true sites.

Every method works through :class:`cornlib.models.predictor.Predictor` (perturbations) or a
model's one-hot forward pass (gradients), so each runs on the fine-tuned transformer and on the
CNN alike.
"""

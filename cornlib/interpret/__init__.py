"""What the models learned: perturbations (mutagenesis, k-mer flips), gradient attributions,
motifs from importance, and recovery of the simulation's true sites.

Every method works through :class:`cornlib.models.predictor.Predictor` (perturbations) or a
model's one-hot forward pass (gradients), so each runs on the fine-tuned transformer and on the
CNN alike. Chapters 09-10 call the rest: :mod:`~cornlib.interpret.inputs` (their inputs, through
the artifact registry), :mod:`~cornlib.interpret.geometry` (where the true sites lie),
:mod:`~cornlib.interpret.profile` (importance along the promoter),
:mod:`~cornlib.interpret.variant_effects` (site-breaking against random variants) and
:mod:`~cornlib.interpret.tables` (tables as a page shows them).
"""

"""Data layer: genomes, promoters, expression targets, downloads and the simulated stand-in."""

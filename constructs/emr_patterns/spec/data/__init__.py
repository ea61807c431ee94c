"""Data shipped with the spec layer: the instance catalog and the known EMR release labels (JSON)."""

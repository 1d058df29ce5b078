"""Altair chart builders, one module per chapter, and the offline renderer (``render``)."""

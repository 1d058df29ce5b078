"""Remove per-run execution metadata (timestamps) from notebooks so re-execution diffs show only results.

Usage: python tools/strip_metadata.py notebooks/*.ipynb
"""

import sys

import nbformat

for path in sys.argv[1:]:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nbformat.write(nb, path)

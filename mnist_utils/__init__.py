"""Shared helpers for the MNIST study notebooks.

Import modules, not names: ``from mnist_utils import data, plots``. Importing
this package does no work: no seeding, no downloads, no style changes.
"""

__version__ = "0.1.0"

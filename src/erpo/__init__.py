"""erpo: Ex-Ante Reasoning Preference Optimization.

Importing the package is cheap on purpose (no torch): heavy modules are imported by the
functions that need them, so `erpo --help` and the data tools start instantly.
"""

__version__ = "0.1.0"

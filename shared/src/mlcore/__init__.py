"""mlcore: the common package of the ML capstone suite.

Modules are imported on demand (``from mlcore import tracking``); importing the package
has no side effects.
"""

__version__ = "0.1.0"

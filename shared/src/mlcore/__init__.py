"""mlcore: the common package of the ML capstone suite (distribution ``mlsuite-core``).

Subpackages are imported on demand (``from mlcore.lifecycle import tracking``); importing the
package has no side effects.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mlsuite-core")
except PackageNotFoundError:  # run from a source tree (e.g. a model's code/ folder)
    __version__ = "0+unknown"

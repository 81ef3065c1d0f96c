"""{{ cookiecutter.project_name | escaped }}: {{ cookiecutter.description | escaped }}"""

import os
from pathlib import Path

# ML_PROJECT_ROOT points the package at another copy of the project (tests use a temporary one).
PROJECT_ROOT = Path(os.environ.get("ML_PROJECT_ROOT") or Path(__file__).resolve().parents[2]).resolve()
CONFIG_DIR = PROJECT_ROOT / "configs"

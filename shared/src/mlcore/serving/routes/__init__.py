"""The serving app's routes, one module per concern; each builds an ``APIRouter`` for a spec."""

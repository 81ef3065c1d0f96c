"""The demo app of every project (Streamlit): a person tries the model, sees why it answered, and
says whether it was right. It talks to the service only over HTTP (``client``), builds its input
from the service's own OpenAPI document (``contract``), draws the explanation ``/explain`` returns
(``draw``), and ``page`` lays it out; ``python -m mlcore.webapp`` is ``make app``."""

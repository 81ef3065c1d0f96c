"""The demo app: `make app` runs it with Streamlit on http://127.0.0.1:8501 against this project's
service (started when it is not running). Template-owned: edit templates/ml-project, then `make sync`.

The page (``mlcore.webapp.page``) asks the service only over HTTP: its input is built from the
service's request schema, its drawing from ``/explain``'s answer, its buttons send ``/feedback``.
"""

from mlcore.webapp.page import show

if __name__ == "__main__":  # Streamlit runs the file as __main__
    show(title="Image Classifier")

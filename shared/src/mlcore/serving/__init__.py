"""Serving: the predictor contract (no web imports), the app factory, the prediction log, test servers."""

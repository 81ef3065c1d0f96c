"""Monitoring: drift tests and the drift report."""

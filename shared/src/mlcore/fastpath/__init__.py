"""Compiled fast paths: fitted pipelines turned into plain arrays for serving."""

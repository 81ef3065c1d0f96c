"""DVC stage entry points: each reads params.yaml, calls a plain function, writes its outputs."""

"""Foundation: config, paths, atomic io, logs, progress. No ML imports."""

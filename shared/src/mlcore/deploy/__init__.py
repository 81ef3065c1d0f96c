"""Containers: the engine (podman or docker), the suite's Debian base image, a project's serving
image (``python -m mlcore.deploy.image``) and a container run on loopback for tests and benchmarks."""

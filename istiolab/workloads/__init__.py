"""Local implementations of the sample apps, and the in-pod HTTP client.

A Deployment's image picks the implementation (`resolve`, `SUPPORTED_IMAGES`); the runtime
starts it as ``python -m istiolab.workloads serve ...`` (see `istiolab.workloads.__main__`)
and sends in-pod requests with `istiolab.workloads.client` (`send`, `load`, `format_fortio`).
"""

from istiolab.workloads.images import (
    SUPPORTED_IMAGES,
    UnsupportedImageError,
    WorkloadImpl,
    repository_name,
    resolve,
)

__all__ = [
    "SUPPORTED_IMAGES",
    "UnsupportedImageError",
    "WorkloadImpl",
    "repository_name",
    "resolve",
]

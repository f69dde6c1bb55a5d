"""Which built-in implementation runs for a container image.

An image is matched by its repository name, ignoring the registry, the tag and the digest:
``docker.io/istio/examples-bookinfo-reviews-v2:1.20.2`` is reviews v2,
``mccutchen/go-httpbin@sha256:...`` is httpbin. Pure data: the runtime calls `resolve` to
validate every Deployment before it starts anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from istiolab import versions
from istiolab.errors import ConfigError

BOOKINFO_PORT = 9080
# the fortio release the lab deploys on a cluster (versions.FORTIO_IMAGE), so the local fortio's
# banners, echo pages and User-Agent name the same version
FORTIO_VERSION = versions.FORTIO_IMAGE.rpartition(":")[2]


@dataclass(frozen=True)
class WorkloadImpl:
    """A built-in implementation of a sample application image."""

    kind: str  # productpage | details | reviews | ratings | httpbin | sleep | fortio | tcp-echo
    # | helloworld
    version: str  # v1, v2, v3 (bookinfo) or "" when the image has no version
    ports: tuple[int, ...]  # ports the image listens on by default
    serves: bool  # False for client-only images (sleep/curl): nothing listens
    image: str = ""  # the image as written in the Deployment

    @property
    def name(self) -> str:
        """``reviews-v2``, ``httpbin``: the implementation's display name."""
        return f"{self.kind}-{self.version}" if self.version else self.kind

    def listen_ports(
        self, container_ports: Sequence[int] = (), args: Sequence[str] = ()
    ) -> tuple[int, ...]:
        """The ports to serve: the Deployment's containerPorts, else the image's defaults.

        On a cluster the container's command decides where it listens (Istio's httpbin
        sample runs kong/httpbin on 8080 instead of the image's 80) and declares it as
        containerPort, so declared ports win.
        """
        if not self.serves:
            return ()
        if self.kind == "tcp-echo":  # Istio's tcp-echo-server: args ["9000,9001", "one"]
            listed = [int(p) for p in (args[0] if args else "").split(",") if p.isdigit()]
            return tuple(dict.fromkeys([*container_ports, *(listed or self.ports)]))
        return tuple(dict.fromkeys(int(p) for p in container_ports)) or self.ports


# repository name (last path component) -> (kind, version, default ports, serves)
_CATALOGUE: dict[str, tuple[str, str, tuple[int, ...], bool]] = {
    "examples-bookinfo-productpage-v1": ("productpage", "v1", (BOOKINFO_PORT,), True),
    "examples-bookinfo-details-v1": ("details", "v1", (BOOKINFO_PORT,), True),
    "examples-bookinfo-details-v2": ("details", "v2", (BOOKINFO_PORT,), True),
    "examples-bookinfo-reviews-v1": ("reviews", "v1", (BOOKINFO_PORT,), True),
    "examples-bookinfo-reviews-v2": ("reviews", "v2", (BOOKINFO_PORT,), True),
    "examples-bookinfo-reviews-v3": ("reviews", "v3", (BOOKINFO_PORT,), True),
    "examples-bookinfo-ratings-v1": ("ratings", "v1", (BOOKINFO_PORT,), True),
    "httpbin": ("httpbin", "", (80,), True),  # kennethreitz/httpbin, kong/httpbin
    "go-httpbin": ("httpbin", "", (8080,), True),  # mccutchen/go-httpbin
    "curl": ("sleep", "", (), False),  # curlimages/curl, pstauffer/curl
    "curl-ssl": ("sleep", "", (), False),  # governmentpaas/curl-ssl
    "sleep": ("sleep", "", (), False),
    "fortio": ("fortio", "", (8080, 8079), True),  # fortio/fortio
    "tcp-echo-server": ("tcp-echo", "", (9000, 9001, 9002), True),  # istio/tcp-echo-server
    "examples-helloworld-v1": ("helloworld", "v1", (5000,), True),
    "examples-helloworld-v2": ("helloworld", "v2", (5000,), True),
}

SUPPORTED_IMAGES: tuple[str, ...] = (
    "docker.io/istio/examples-bookinfo-productpage-v1",
    "docker.io/istio/examples-bookinfo-details-v1",
    "docker.io/istio/examples-bookinfo-details-v2",
    "docker.io/istio/examples-bookinfo-reviews-v1",
    "docker.io/istio/examples-bookinfo-reviews-v2",
    "docker.io/istio/examples-bookinfo-reviews-v3",
    "docker.io/istio/examples-bookinfo-ratings-v1",
    "docker.io/kong/httpbin",
    "docker.io/kennethreitz/httpbin",
    "docker.io/mccutchen/go-httpbin",
    "docker.io/curlimages/curl",
    "governmentpaas/curl-ssl",
    "pstauffer/curl",
    "fortio/fortio",
    "docker.io/istio/tcp-echo-server",
    "docker.io/istio/examples-helloworld-v1",
    "docker.io/istio/examples-helloworld-v2",
)


class UnsupportedImageError(ConfigError):
    """A Deployment names an image istiolab has no local implementation for."""

    def __init__(self, image: str, deployment: str = "", where: str = "") -> None:
        self.image, self.deployment = image, deployment
        where = where or (f"Deployment {deployment}" if deployment else "")
        super().__init__(
            f"{where + ': ' if where else ''}image {image!r} has no local implementation "
            f"(supported images, any registry and tag: {', '.join(SUPPORTED_IMAGES)})"
        )


def repository_name(image: str) -> str:
    """``docker.io/istio/examples-bookinfo-reviews-v2:1.20.2`` -> ``istio/examples-...-v2``."""
    ref = image.strip().split("@", 1)[0]
    parts = ref.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]  # a registry host
    last = parts[-1]
    if ":" in last:
        parts[-1] = last.rsplit(":", 1)[0]  # the tag
    return "/".join(parts).lower()


def is_proxy(image: str) -> bool:
    """``istio/proxyv2``: a gateway proxy Deployment (the runtime runs a standalone Envoy)."""
    return bool(image) and repository_name(image).rsplit("/", 1)[-1] == "proxyv2"


def resolve(image: str, *, deployment: str = "", where: str = "") -> WorkloadImpl:
    """The implementation for `image`; `UnsupportedImageError` names the supported images.

    `deployment` (``namespace/name``) only makes the error message name the Deployment;
    `where` (``FILE: document N (Deployment/name)``), when given, is named instead.
    """
    repo = repository_name(image) if image else ""
    entry = _CATALOGUE.get(repo.rsplit("/", 1)[-1]) if repo else None
    if entry is None:
        raise UnsupportedImageError(image, deployment, where)
    kind, version, ports, serves = entry
    return WorkloadImpl(kind=kind, version=version, ports=ports, serves=serves, image=image)

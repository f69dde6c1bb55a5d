"""Image -> implementation resolution, and the refusal of unsupported images."""

from __future__ import annotations

import re

import pytest

from istiolab import versions
from istiolab.errors import ConfigError
from istiolab.workloads import SUPPORTED_IMAGES, UnsupportedImageError, repository_name, resolve
from istiolab.workloads.images import FORTIO_VERSION


@pytest.mark.parametrize(
    ("image", "kind", "version"),
    [
        ("docker.io/istio/examples-bookinfo-reviews-v2:1.20.2", "reviews", "v2"),
        ("istio/examples-bookinfo-reviews-v1", "reviews", "v1"),
        ("docker.io/istio/examples-bookinfo-reviews-v3:1.20.2", "reviews", "v3"),
        ("docker.io/istio/examples-bookinfo-productpage-v1:1.20.2", "productpage", "v1"),
        ("docker.io/istio/examples-bookinfo-details-v1:1.20.2", "details", "v1"),
        ("docker.io/istio/examples-bookinfo-ratings-v1:1.20.2", "ratings", "v1"),
        ("docker.io/kong/httpbin", "httpbin", ""),
        ("docker.io/mccutchen/go-httpbin:v2.15.0", "httpbin", ""),
        ("kennethreitz/httpbin", "httpbin", ""),
        ("curlimages/curl", "sleep", ""),
        ("docker.io/curlimages/curl:8.16.0", "sleep", ""),
        ("governmentpaas/curl-ssl", "sleep", ""),
        ("fortio/fortio:latest_release", "fortio", ""),
        ("localhost:5000/fortio/fortio@sha256:abcd", "fortio", ""),
    ],
)
def test_resolve_matches_repository_ignoring_registry_and_tag(image, kind, version):
    impl = resolve(image)
    assert (impl.kind, impl.version, impl.image) == (kind, version, image)


def test_default_ports_and_serving():
    assert resolve("istio/examples-bookinfo-productpage-v1").ports == (9080,)
    assert resolve("docker.io/kong/httpbin").ports == (80,)
    assert resolve("mccutchen/go-httpbin").ports == (8080,)
    assert resolve("fortio/fortio").ports == (8080, 8079)
    sleep = resolve("curlimages/curl")
    assert not sleep.serves and sleep.listen_ports([80]) == ()
    # declared containerPorts win (Istio's httpbin sample runs kong/httpbin on 8080)
    assert resolve("docker.io/kong/httpbin").listen_ports([8080]) == (8080,)
    assert resolve("docker.io/kong/httpbin").listen_ports([]) == (80,)
    assert resolve("istio/examples-bookinfo-reviews-v2").name == "reviews-v2"


def test_repository_name():
    assert repository_name("docker.io/istio/examples-bookinfo-reviews-v2:1.20.2") == (
        "istio/examples-bookinfo-reviews-v2"
    )
    assert repository_name("registry:5000/a/b:tag") == "a/b"
    assert repository_name("nginx") == "nginx"


def test_unsupported_image_names_deployment_image_and_supported_images():
    with pytest.raises(UnsupportedImageError) as info:
        resolve("docker.io/library/nginx:1.27", deployment="default/web")
    message = str(info.value)
    assert isinstance(info.value, ConfigError)
    assert message.startswith("Deployment default/web: image 'docker.io/library/nginx:1.27'")
    assert "has no local implementation" in message
    for image in SUPPORTED_IMAGES:
        assert image in message


def test_empty_image_is_refused():
    with pytest.raises(UnsupportedImageError, match="image '' has no local implementation"):
        resolve("")


def test_fortio_version_is_the_pinned_image_tag():
    """The local fortio reports the version the cluster lab deploys (one pin for both)."""
    assert versions.FORTIO_IMAGE.endswith(f"/fortio:{FORTIO_VERSION}")
    assert re.fullmatch(r"\d+\.\d+\.\d+", FORTIO_VERSION)

"""Every pinned version in one place: Istio, its charts and images, addons, cluster tools.

Bump here and everything (manifests, Pulumi components, render, labs, the workstation role's
defaults checked by tests/ansible/test_workstation_pins.py) follows. Each pin is a fact of the
upstream repositories (checked 2026-11-30):

- Istio 1.30.3: tag 1.30.3 of istio/istio; its Helm charts base/istiod/gateway (test copies in
  ../shared/istio-charts/1.30.3). Istio 1.30 supports Kubernetes 1.32 to 1.36 (istioctl's
  precheck minimum is 1.32).
- kind v0.32.0 ships and defaults to kindest/node:v1.36.1 (the digest below is that release's).
- minikube v1.38.1 is the newest minikube release; its newest Kubernetes is v1.35.1.
- k0s v1.36.3+k0s.2 is a k0s release tag (Kubernetes 1.36.3); k0sctl v0.32.2 installs it.
- Istio 1.30.3's samples: Bookinfo images registry.istio.io/release/examples-bookinfo-*:1.20.3,
  curl 8.16.0, go-httpbin v2.15.0; addons: Prometheus v3.10.0, Grafana 12.0.1, Kiali v2.26,
  Jaeger 2.14.0 (the v2 collector, configured by a file).
"""

from __future__ import annotations

ISTIO_VERSION = "1.30.3"  # Helm charts base/istiod/gateway, proxy images
ISTIO_HELM_REPO = "https://istio-release.storage.googleapis.com/charts"
# The Istio API schema used for validation comes from cloudcoil.models.istio, whose newest
# release models Istio 1.24 (there is none for 1.30; the v1 APIs the lab uses are unchanged).
ISTIO_API_SCHEMA_VERSION = "1.24.2.1"
BOOKINFO_REGISTRY = "registry.istio.io/release"  # examples-bookinfo-<svc>-<version>
BOOKINFO_TAG = "1.20.3"

# Kubernetes: the versions each cluster type runs (inside Istio 1.30's 1.32-1.36), and the
# schemas `kubernetes-validate` checks objects with (the newest of them).
KIND_VERSION = "v0.32.0"
KIND_NODE_IMAGE = (
    "kindest/node:v1.36.1@sha256:3489c7674813ba5d8b1a9977baea8a6e553784dab7b84759d1014dbd78f7ebd5"
)
MINIKUBE_VERSION = "v1.38.1"
MINIKUBE_KUBERNETES_VERSION = "v1.35.1"
K0S_VERSION = "v1.36.3+k0s.2"
K0SCTL_VERSION = "v0.32.2"
KUBECTL_VERSION = "v1.36.1"  # the workstation role's kubectl (the kind clusters' version)
KUBERNETES_SCHEMA_VERSION = "1.36"
# Kubernetes minor version per cluster type (render tests validate each stack against it);
# an existing cluster is checked against the newest version Istio 1.30 supports.
KUBERNETES_MINOR = {"kind": "1.36", "minikube": "1.35", "k0s": "1.36", "existing": "1.36"}
ISTIO_KUBERNETES_RANGE = ("1.32", "1.36")

# Sample and addon images (istiolab.manifests pins every image it deploys here)
HTTPBIN_IMAGE = "docker.io/mccutchen/go-httpbin:v2.15.0"
CURL_IMAGE = "docker.io/curlimages/curl:8.16.0"  # the `sleep` client
FORTIO_IMAGE = "docker.io/fortio/fortio:1.69.4"
PROMETHEUS_IMAGE = "docker.io/prom/prometheus:v3.10.0"
GRAFANA_IMAGE = "docker.io/grafana/grafana:12.0.1"
KIALI_IMAGE = "quay.io/kiali/kiali:v2.26"
JAEGER_IMAGE = "docker.io/jaegertracing/jaeger:2.14.0"

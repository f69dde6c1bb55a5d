"""Every pinned version in one place: Istio, its charts and images, addons, cluster tools.

Bump here and everything (manifests, Pulumi components, render, labs) follows.
"""

from __future__ import annotations

ISTIO_VERSION = "1.24.2"  # Helm charts base/istiod/gateway, proxy images, Istio API schema
ISTIO_HELM_REPO = "https://istio-release.storage.googleapis.com/charts"
BOOKINFO_TAG = "1.20.2"  # docker.io/istio/examples-bookinfo-*
KUBERNETES_SCHEMA_VERSION = "1.31"  # schemas `kubernetes-validate` checks core objects with

KIND_NODE_IMAGE = "kindest/node:v1.31.4"
MINIKUBE_KUBERNETES_VERSION = "v1.31.4"
K0S_VERSION = "v1.31.4+k0s.0"

# Sample and addon images (istiolab.manifests pins every image it deploys here)
HTTPBIN_IMAGE = "docker.io/mccutchen/go-httpbin:v2.15.0"
CURL_IMAGE = "docker.io/curlimages/curl:8.12.1"  # the `sleep` client
FORTIO_IMAGE = "docker.io/fortio/fortio:1.69.4"
PROMETHEUS_IMAGE = "docker.io/prom/prometheus:v2.54.1"
GRAFANA_IMAGE = "docker.io/grafana/grafana:11.3.1"
KIALI_IMAGE = "quay.io/kiali/kiali:v2.1.0"
JAEGER_IMAGE = "docker.io/jaegertracing/all-in-one:1.63.0"

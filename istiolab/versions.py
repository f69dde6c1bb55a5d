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

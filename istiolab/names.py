"""The names Istio and the lab give things, defined once: every layer imports them from here.

Facts of Istio: the control plane's namespace, the sidecar container's name, the ingress
gateway's name, PeerAuthentication's mTLS modes (the ones a lab may set). The lab's own
choices: the samples, addons and Istio profiles it can deploy.
"""

from __future__ import annotations

ISTIO_SYSTEM = "istio-system"  # where istiod, the ingress gateway and the mesh config live
PROXY_CONTAINER = "istio-proxy"  # the injected sidecar's container
INGRESS_GATEWAY = "istio-ingressgateway"  # the ingress gateway's Deployment and Service
MTLS_MODES: tuple[str, ...] = ("STRICT", "PERMISSIVE", "DISABLE")

#: every sample an environment may deploy (its file order in `render`'s output)
SAMPLES: tuple[str, ...] = ("bookinfo", "httpbin", "sleep", "fortio", "tcp-echo", "helloworld")
#: the samples an environment deploys unless it says otherwise
DEFAULT_SAMPLES: tuple[str, ...] = ("bookinfo", "httpbin", "sleep", "fortio")
ADDONS: tuple[str, ...] = ("prometheus", "grafana", "kiali", "jaeger")
PROFILES: tuple[str, ...] = ("default", "demo")
#: the Prometheus addon's Service in istio-system (Istio's tooling and Kiali expect it here)
PROMETHEUS_SERVICE = "prometheus"
PROMETHEUS_PORT = 9090
#: where proxies send Zipkin spans (meshConfig's default tracer address zipkin.istio-system)
ZIPKIN_SERVICE = "zipkin"
ZIPKIN_PORT = 9411
#: the Jaeger addon's query Service (its UI and API, under /jaeger)
TRACING_SERVICE = "tracing"
TRACING_PORT = 80

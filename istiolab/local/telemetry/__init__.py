"""The local mesh's telemetry: Istio's standard metrics from the proxies' gRPC access logs,
Zipkin spans, the Prometheus addon, and the pure views over them (graph, trace trees).

Modules, one concern each: attributes (Istio's labels for one access-log entry), als (the
gRPC access-log service), metrics (the per-proxy store and its Prometheus exposition),
spans (the span store in the state directory), traces (trace trees), graph (the Kiali-style
service graph), endpoints (the HTTP servers on loopback), prometheus (the addon), collector
(the object the mesh owns that ties them together).
"""

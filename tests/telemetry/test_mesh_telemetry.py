"""Istio's standard metrics, Prometheus and traces on the local mesh, on real Envoy (issue
15). One mesh for the module (Bookinfo, httpbin, fortio; the Prometheus addon); each test
reads counter deltas, so tests do not depend on each other's traffic."""

from __future__ import annotations

import functools
import json
import os
import threading
import time
import urllib.parse
import urllib.request
import uuid

import loopback
import pytest
from local.test_mesh import cli, running_mesh
from prometheus_client.parser import text_string_to_metric_families
from resilience.harness import ResilienceMesh
from support import require

from istiolab import manifests
from istiolab.local.supervisor import wait_until
from istiolab.local.telemetry.attributes import LABELS
from istiolab.workloads import client

pytestmark = [pytest.mark.envoy, pytest.mark.timeout(180)]

OCTET = loopback.take("telemetry")
GATEWAY = f"127.{OCTET}.0.3"
ISTIOD = f"127.{OCTET}.0.1"
FQDN = "{}.default.svc.cluster.local"
KIALI_LABELS = (
    "source_cluster", "source_workload_namespace", "source_workload",
    "source_canonical_service", "source_canonical_revision", "destination_cluster",
    "destination_service_namespace", "destination_service", "destination_service_name",
    "destination_workload_namespace", "destination_workload", "destination_canonical_service",
    "destination_canonical_revision", "response_code", "response_flags",
)  # fmt: skip


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    import shutil

    require(shutil.which("prometheus") is not None, "Debian's prometheus package")
    root = tmp_path_factory.mktemp("telemetry-mesh")
    samples = "bookinfo,httpbin,fortio"
    extra = ("--addons", "prometheus")
    with running_mesh(root, OCTET, samples, ResilienceMesh, "telemetry mesh", extra=extra) as m:
        yield m


def scrape(url: str = f"http://{ISTIOD}:15020/stats/prometheus") -> list[tuple[str, dict, float]]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        text = resp.read().decode()
    return [
        (s.name, dict(s.labels), s.value)
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
    ]


def settled(quiet: float = 1.0) -> list[tuple[str, dict, float]]:
    """A scrape once no entry is in flight: two scrapes `quiet` seconds apart (four of
    Envoy's ALS flush intervals) agree on every request count (earlier traffic, such as
    `up`'s readiness probe, or the later hops of a request, is then fully counted)."""
    seen: dict = {"last": scrape()}

    def stable() -> bool:
        time.sleep(quiet)
        now = scrape()
        same = total(now) == total(seen["last"])
        seen["last"] = now
        return same

    wait_until(stable, timeout=20, what="the telemetry to settle")
    return seen["last"]


def total(samples, name: str = "istio_requests_total", **match: str) -> float:
    return sum(
        v
        for n, labels, v in samples
        if n == name and all(labels.get(k) == x for k, x in match.items())
    )


def through_gateway(path: str, n: int, headers: dict | None = None) -> None:
    for _ in range(n):
        r = client.send(f"http://{GATEWAY}:8080{path}", timeout=30, headers=headers)
        assert r.status == 200, r.status


def wait_count(expected: float, before: list, **match: str) -> list:
    """Scrape until the delta of istio_requests_total{match} reaches `expected` (entries
    reach the control plane within Envoy's 0.25 s flush interval; retried with backoff)."""
    seen: dict = {}

    def done() -> bool:
        seen["now"] = scrape()
        return total(seen["now"], **match) - total(before, **match) >= expected

    wait_until(done, timeout=20, what=f"istio_requests_total{match} += {expected}")
    return seen["now"]


def delta(now, before, name: str = "istio_requests_total", **match) -> float:
    return total(now, name, **match) - total(before, name, **match)


def changed(now, before, **match) -> list[str]:
    """The request series that moved (for failure messages)."""
    old = {tuple(sorted(lb.items())): v for n, lb, v in before if n == "istio_requests_total"}
    keys = ("reporter", "source_workload", "destination_workload", "destination_service_name",
            "response_code", "response_flags")  # fmt: skip
    return [
        f"{','.join(lb.get(k, '?') for k in keys)} +{v - old.get(tuple(sorted(lb.items())), 0)}"
        for n, lb, v in now
        if n == "istio_requests_total"
        and all(lb.get(k) == x for k, x in match.items())
        and v != old.get(tuple(sorted(lb.items())), 0)
    ]


def test_bookinfo_edges_count_every_request_with_istio_labels(mesh):
    n = 12
    before = settled()
    through_gateway("/productpage", n)
    gw = {
        "source_workload": "istio-ingressgateway",
        "destination_service": FQDN.format("productpage"),
    }
    wait_count(n, before, reporter="destination", **gw)
    now = settled()  # every hop of every request reported
    # both reporters, exactly N per edge: gateway -> productpage, productpage -> details
    moved = changed(now, before)
    for reporter in ("source", "destination"):
        assert delta(now, before, reporter=reporter, **gw) == n, moved
        pp = {"reporter": reporter, "source_workload": "productpage-v1"}
        assert delta(now, before, destination_service=FQDN.format("details"), **pp) == n, moved
    # productpage -> reviews v1/v2/v3 (round robin: every version is called)
    per_version = {}
    for reporter in ("source", "destination"):
        for v in ("v1", "v2", "v3"):
            per_version[reporter, v] = delta(
                now, before, reporter=reporter, source_workload="productpage-v1",
                destination_workload=f"reviews-{v}", destination_version=v,
                destination_service=FQDN.format("reviews"),
            )  # fmt: skip
        assert sum(per_version[reporter, v] for v in ("v1", "v2", "v3")) == n, moved
        # Istio's default LEAST_REQUEST picks among the three: each is likely, not certain
        assert sum(per_version[reporter, v] > 0 for v in ("v1", "v2", "v3")) >= 2, moved
    # reviews v2/v3 -> ratings, once per call they served
    for reporter in ("source", "destination"):
        for v in ("v2", "v3"):
            got = delta(now, before, reporter=reporter, source_workload=f"reviews-{v}",
                        destination_workload="ratings-v1")  # fmt: skip
            assert got == per_version["destination", v]
        assert delta(now, before, reporter=reporter, source_workload="reviews-v1") == 0
    # Istio's label values: auto mTLS between sidecars, seen as mutual_tls by the destination
    series = [(labels, v) for name, labels, v in now if name == "istio_requests_total"]
    for labels, _ in series:
        assert set(LABELS) <= set(labels), sorted(set(LABELS) - set(labels))
        assert all(labels[k] for k in KIALI_LABELS), labels
        if labels["reporter"] == "destination":
            assert labels["connection_security_policy"] == "mutual_tls", labels
            assert labels["source_principal"].startswith("spiffe://cluster.local/ns/")
        else:
            assert labels["connection_security_policy"] == "unknown"
    sample = next(lb for lb, _ in series if lb["reporter"] == "source"
                  and lb["destination_workload"] == "reviews-v2")  # fmt: skip
    assert (
        sample["destination_principal"] == "spiffe://cluster.local/ns/default/sa/bookinfo-reviews"
    )
    assert sample["source_canonical_service"] == "productpage"
    assert sample["destination_canonical_revision"] == "v2"
    assert sample["request_protocol"] == "http" and sample["response_flags"] == "-"
    # histograms: one observation per request, Istio's buckets
    count = total(now, "istio_request_duration_milliseconds_count", reporter="destination", **gw)
    assert count - total(before, "istio_request_duration_milliseconds_count",
                         reporter="destination", **gw) == n  # fmt: skip
    les = {lb["le"] for nm, lb, _ in now if nm == "istio_request_duration_milliseconds_bucket"}
    assert {"0.5", "1", "5", "10", "25", "3.6e+06", "+Inf"} <= les


def test_unknown_source_from_outside_the_mesh_and_per_pod_endpoint(mesh):
    pod = mesh.pod("productpage-v1")
    url = f"http://{pod['ip']}:15020/stats/prometheus"
    before = scrape(url)
    r = client.send(f"http://{pod['ip']}:9080/productpage", timeout=30)
    assert r.status == 200
    match = {"reporter": "destination", "source_workload": "unknown",
             "destination_workload": "productpage-v1"}  # fmt: skip

    def seen() -> bool:
        return delta(scrape(url), before, **match) == 1

    wait_until(seen, timeout=20, what="the outside request on productpage's :15020")
    now = scrape(url)
    labels = next(lb for nm, lb, _ in now if nm == "istio_requests_total" and
                  all(lb.get(k) == v for k, v in match.items()))  # fmt: skip
    assert labels["source_principal"] == "unknown"
    assert labels["connection_security_policy"] == "none"
    # the pod's endpoint serves only its own proxy's istio series, merged with Envoy's stats
    assert {lb["reporter"] for nm, lb, _ in now if nm == "istio_requests_total"} <= {
        "source", "destination"}  # fmt: skip
    assert all(
        lb["source_workload"] == "productpage-v1" or lb["destination_workload"] == "productpage-v1"
        for nm, lb, _ in now if nm == "istio_requests_total"
    )  # fmt: skip
    assert any(nm.startswith("envoy_") for nm, _, _ in now)


# the circuit-breaking task's pool limits, without outlier detection (ejections would
# outlive the test)
BREAKER = manifests.traffic_preset("circuit-breaker", consecutive_5xx=0)


def _burst(send, codes: list[int], lock: threading.Lock) -> None:
    for _ in range(20):
        r = send("http://httpbin:8000/get", timeout=10)
        with lock:
            codes.append(r.status)


def test_tripped_breaker_503_carries_uo(mesh):
    mesh.apply(BREAKER)
    try:
        send = mesh.sender("fortio-deploy")
        match = {"reporter": "source", "source_workload": "fortio-deploy",
                 "destination_service": FQDN.format("httpbin")}  # fmt: skip
        for _attempt in range(5):  # until a burst overlaps enough to overflow
            before = settled()
            codes: list[int] = []
            burst = functools.partial(_burst, send, codes, threading.Lock())
            threads = [threading.Thread(target=burst) for _ in range(3)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            if 503 in codes:
                break
        assert 503 in codes, "the breaker never tripped in 5 bursts"
        now = wait_count(len(codes), before, **match)
        assert delta(now, before, response_code="503", response_flags="UO", **match) == codes.count(
            503
        )
        assert delta(now, before, response_code="200", response_flags="-", **match) == codes.count(
            200
        )
        uo = next(lb for nm, lb, _ in now if nm == "istio_requests_total"
                  and lb.get("response_flags") == "UO")  # fmt: skip
        assert uo["destination_workload"] == "unknown"  # never reached a destination
    finally:
        mesh.delete(BREAKER)


STRICT = manifests.security_preset("peer-authentication", mode="STRICT")


def test_strict_mtls_edges_are_mutual_tls(mesh):
    mesh.apply(STRICT)
    try:
        before = settled()
        through_gateway("/productpage", 3)
        match = {"reporter": "destination", "destination_service_name": "details"}
        now = wait_count(3, before, **match)
        assert delta(now, before, connection_security_policy="mutual_tls", **match) == 3
        assert delta(now, before, source_principal=(
            "spiffe://cluster.local/ns/default/sa/bookinfo-productpage"), **match) == 3  # fmt: skip
    finally:
        mesh.delete(STRICT)


def prom_query(expr: str) -> list[dict]:
    url = f"http://{ISTIOD}:9090/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=10) as resp:
        data = json.load(resp)
    assert data["status"] == "success", data
    return data["data"]["result"]


def test_prometheus_answers_the_seeds_queries(mesh):
    through_gateway("/productpage", 3)
    expr = 'istio_requests_total{destination_service="productpage.default.svc.cluster.local"}'
    found: dict = {}

    def ready() -> bool:
        found["rows"] = prom_query(expr)
        scraped = scrape()
        for reporter in ("source", "destination"):
            exact = total(scraped, reporter=reporter,
                          destination_service=FQDN.format("productpage"))  # fmt: skip
            got = sum(float(r["value"][1]) for r in found["rows"]
                      if r["metric"]["reporter"] == reporter)  # fmt: skip
            if got != exact or exact < 3:
                return False
        return True

    wait_until(ready, timeout=40, what="Prometheus scraped the proxies")
    reporters = {r["metric"]["reporter"] for r in found["rows"]}
    assert reporters == {"source", "destination"}
    row = next(r for r in found["rows"] if r["metric"]["reporter"] == "source")
    assert row["metric"]["source_workload"] == "istio-ingressgateway"
    assert row["metric"]["job"] == "kubernetes-pods"
    assert row["metric"]["namespace"] == "istio-system"  # the scraped pod's namespace
    # a Grafana / Kiali style expression: per-version request rate of reviews (a rate needs
    # two scrapes of a series: 5 s apart)
    expr = (
        'sum(rate(istio_requests_total{reporter="destination",'
        'destination_service_name="reviews"}[1m])) by (destination_version)'
    )

    def rated() -> bool:
        found["rates"] = prom_query(expr)
        return bool(found["rates"])

    wait_until(rated, timeout=30, what="a request rate per reviews version")
    assert {r["metric"]["destination_version"] for r in found["rates"]} <= {"v1", "v2", "v3"}


TRACING = """\
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata:
  name: mesh-default
  namespace: istio-system
spec:
  tracing:
  - randomSamplingPercentage: 100.0
"""


def spans_of(trace: dict) -> list[tuple[str | None, dict]]:
    """(parent service, span) for every span of a trace tree."""
    out: list[tuple[str | None, dict]] = []

    def walk(node: dict, parent: str | None) -> None:
        out.append((parent, node))
        for c in node["children"]:
            walk(c, node["service"])

    for root in trace["roots"]:
        walk(root, None)
    return out


def test_traced_request_through_the_gateway_has_every_hop(mesh):
    mesh.apply_yaml(TRACING)
    try:
        marker = f"trace-{uuid.uuid4()}"  # Envoy tags spans with the user agent
        through_gateway("/productpage", 1, headers={"user-agent": marker})
        found: dict = {}

        def complete() -> bool:  # each Envoy flushes its spans within 5 s
            out = json.loads(mesh.ok("traces", "--service", "productpage", "-o", "json"))
            ours = [t for t in out if any(s["tags"].get("user_agent") == marker
                                          for _, s in spans_of(t))]  # fmt: skip
            if len(ours) != 1:
                return False
            spans = spans_of(ours[0])
            clients = [s for _, s in spans if s["kind"] == "CLIENT"]
            found["trace"], found["spans"] = ours[0], spans
            # every hop: the gateway's span at the root, each client span with the server
            # span of the proxy it called (each proxy flushes on its own timer)
            roots = ours[0]["roots"]
            gateway_root = [r["service"] for r in roots] == ["istio-ingressgateway.istio-system"]
            return (
                gateway_root
                and len(clients) >= 3
                and all([c["kind"] for c in s["children"]] == ["SERVER"] for s in clients)
            )

        wait_until(complete, timeout=30, what="a trace with every hop")
        trace, spans = found["trace"], found["spans"]
        assert len(trace["roots"]) == 1
        root = trace["roots"][0]
        assert (root["service"], root["kind"]) == ("istio-ingressgateway.istio-system", "CLIENT")
        servers = {(parent, s["service"]) for parent, s in spans if s["kind"] == "SERVER"}
        assert {
            ("istio-ingressgateway.istio-system", "productpage.default"),
            ("productpage.default", "details.default"),
            ("productpage.default", "reviews.default"),
        } <= servers
        # reviews v2/v3 call ratings, v1 does not: the trace holds that hop iff it happened
        assert servers - {("reviews.default", "ratings.default")} == {
            ("istio-ingressgateway.istio-system", "productpage.default"),
            ("productpage.default", "details.default"),
            ("productpage.default", "reviews.default"),
        }
        assert len(spans) == 2 * len(servers)
        assert all(s["status"] == "200" for _, s in spans)
        text = mesh.ok("traces", "--service", "details", "--limit", "1")
        assert "details.default" in text and "ms" in text
    finally:
        mesh.delete_yaml(TRACING)


def test_graph_shows_reviews_versions(mesh):
    through_gateway("/productpage", 6)

    def has_versions() -> bool:
        # reviews is picked per request by Envoy's load balancer: traffic until each
        # version was reached (on its own, this test's first 6 may miss one)
        through_gateway("/productpage", 1)
        g = json.loads(mesh.ok("graph", "-o", "json"))
        versions = {n["version"] for n in g["nodes"] if n["app"] == "reviews"}
        return versions == {"v1", "v2", "v3"}

    wait_until(has_versions, timeout=20, what="reviews v1/v2/v3 in the graph")
    g = json.loads(mesh.ok("graph", "-o", "json"))
    edge = next(e for e in g["edges"] if e["target"] == "default/svc/productpage")
    assert edge["source"] == "istio-system/istio-ingressgateway"
    assert edge["mtls_share"] == 1.0 and edge["error_share"] == 0.0
    assert edge["p99_ms"] is not None
    dot = mesh.ok("graph", "-o", "dot")
    assert dot.startswith("digraph mesh {") and '"default/reviews-v2"' in dot


def test_graph_with_context_reads_the_prometheus_addon_through_the_api_server(mesh, monkeypatch):
    """As on a cluster: ``graph --context`` reads Istio's metrics from the Prometheus addon
    (``istio-system/prometheus:9090``) through the API server's service proxy, the way
    ``kubectl get --raw`` reaches it; the graph is the one the local view draws."""
    monkeypatch.setenv("KUBECONFIG", str(mesh.state.kubeconfig))
    monkeypatch.delenv("ISTIOLAB_CONTEXT", raising=False)
    kubectl = ["kubectl", "-n", "istio-system"]
    svc = json.loads(_run([*kubectl, "get", "svc", "prometheus", "-o", "json"]))
    assert [p["port"] for p in svc["spec"]["ports"]] == [9090]
    proxy = "/api/v1/namespaces/istio-system/services/prometheus:9090/proxy"
    raw = _run([*kubectl, "get", "--raw", f"{proxy}/api/v1/query?query=up"])
    assert json.loads(raw)["status"] == "success"
    through_gateway("/productpage", 6)
    found: dict = {}

    def complete() -> bool:  # Prometheus scrapes each proxy on its own 5 s schedule
        through_gateway("/productpage", 1)  # until every reviews version had some
        code, out, err = cli("graph", "-o", "json", "--window", "10m", "--context", "istiolab")
        assert code == 0, err
        found["graph"] = g = json.loads(out)
        versions = {n["version"] for n in g["nodes"] if n["app"] == "reviews"}
        ingress = [e for e in g["edges"] if e["target"] == "default/svc/productpage"]
        found["edge"] = ingress[0] if ingress else None
        return versions == {"v1", "v2", "v3"} and bool(ingress) and ingress[0]["requests"] >= 6

    wait_until(complete, timeout=60, what="the Bookinfo graph from Prometheus")
    edge = found["edge"]
    assert edge["source"] == "istio-system/istio-ingressgateway"
    assert edge["mtls_share"] == 1.0 and edge["error_share"] == 0.0


def test_traces_with_context_read_zipkins_api_through_the_api_server(mesh, monkeypatch):
    """``traces --context``: the spans from ``zipkin.istio-system:9411``'s read API (the
    mesh's collector; Istio's Zipkin addon on a cluster), the same trees as the local view."""
    monkeypatch.setenv("KUBECONFIG", str(mesh.state.kubeconfig))
    monkeypatch.delenv("ISTIOLAB_CONTEXT", raising=False)
    mesh.apply_yaml(TRACING)
    try:
        marker = f"trace-{uuid.uuid4()}"
        through_gateway("/productpage", 1, headers={"user-agent": marker})
        both: dict = {}

        def ours(*args: str) -> list[dict]:
            code, out, err = cli("traces", "--service", "details", "-o", "json", *args)
            assert code == 0, err
            tagged = [
                [s["tags"].get("user_agent") for _, s in spans_of(t)] for t in json.loads(out)
            ]
            return [
                t for t, agents in zip(json.loads(out), tagged, strict=True) if marker in agents
            ]

        hops = {"istio-ingressgateway.istio-system", "productpage.default",
                "details.default", "reviews.default"}  # fmt: skip

        def same() -> bool:  # each proxy flushes its spans on its own timer
            both["local"] = ours("--state-dir", str(mesh.root))
            both["kube"] = ours("--context", "istiolab")
            if len(both["local"]) != 1 or both["local"] != both["kube"]:
                return False
            return hops <= {s["service"] for _, s in spans_of(both["kube"][0])}

        wait_until(same, timeout=30, what="the same trace, with every hop, both ways")
    finally:
        mesh.delete_yaml(TRACING)


def test_observability_lab_through_the_kubernetes_api(mesh):
    """Lab 16 as on a cluster (KubeBackend): its graph, metric and trace checks read the
    Prometheus addon and the Zipkin API through the API server's service proxy."""
    from istiolab.backends.kube import KubeBackend
    from istiolab.labs import format as labformat
    from istiolab.labs import session

    backend = KubeBackend("istiolab", kubeconfig=str(mesh.state.kubeconfig))
    try:
        lab = labformat.find_lab(labformat.labs_root(), "16-observability")
        report = session.selftest(backend, lab)
    finally:
        backend.close()
    assert report.passed, "\n".join(report.problems)


def _run(args: list[str]) -> str:
    import subprocess

    proc = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"{' '.join(args)}: {proc.stderr}"
    return proc.stdout


TELEMETRY_API = """\
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata:
  name: details-telemetry
  namespace: default
spec:
  selector:
    matchLabels:
      app: details
  accessLogging:
  - disabled: true
  metrics:
  - providers:
    - name: prometheus
    overrides:
    - match:
        metric: REQUEST_COUNT
        mode: SERVER
      tagOverrides:
        request_protocol:
          operation: REMOVE
        request_host:
          value: request.host
"""


def test_telemetry_api_changes_logs_and_metric_tags(mesh):
    mesh.apply_yaml(TELEMETRY_API)
    try:
        before = settled()
        marker = f"telemetry-api-{uuid.uuid4()}"  # productpage forwards user-agent
        through_gateway("/productpage", 2, headers={"user-agent": marker})
        match = {"reporter": "destination", "destination_workload": "details-v1"}
        wait_count(2, before, request_host="details:9080", **match)
        now = settled()
        rows = [lb for nm, lb, _ in now if nm == "istio_requests_total" and
                lb.get("request_host") == "details:9080"]  # fmt: skip
        assert rows and all("request_protocol" not in lb for lb in rows)
        # other metrics and the source reporter keep Istio's labels
        src = {"reporter": "source", "destination_workload": "details-v1"}
        assert delta(now, before, request_protocol="http", **src) == 2
        assert delta(now, before, "istio_request_bytes_count", request_protocol="http",
                     **match) == 2  # fmt: skip
        # accessLogging disabled: the details sidecar writes no access-log line
        # (once productpage's sidecar, which still logs, has flushed its lines for them)
        mesh.wait_log("productpage-v1", "GET /details", marker, count=2)
        assert mesh.log_lines("details-v1", marker) == []
    finally:
        mesh.delete_yaml(TELEMETRY_API)


def test_dashboard_views(mesh):
    out = mesh.ok("dashboard", "prometheus")
    assert f"http://{ISTIOD}:9090" in out
    assert "istiolab graph" in mesh.ok("dashboard", "kiali")
    assert "istiolab traces" in mesh.ok("dashboard", "jaeger")
    code, _, err = mesh.cli("dashboard", "grafana")
    assert code == 1 and "no local equivalent" in err
    pod = mesh.pod("productpage-v1")
    out = mesh.ok("dashboard", "envoy", "productpage")
    path = out.split("--unix-socket ", 1)[1].split()[0]
    assert path.endswith(f"/a/{pod['ip']}.sock") and os.stat(path).st_mode & 0o077 == 0
    code, _, err = mesh.cli("dashboard", "envoy")
    assert code == 1 and "needs a WORKLOAD" in err


TCP_SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: aaa-httpbin-tcp
  namespace: default
spec:
  selector:
    app: httpbin
  ports:
  - name: tcp-web
    port: 8001
    targetPort: 8080
"""


def test_tcp_connections_and_bytes(mesh):
    """A `tcp-` port gets a TCP proxy on the sidecar: istio_tcp_* count the connection and
    its bytes exactly (the Service sorts first, so httpbin's 8080 becomes TCP)."""
    import socket

    mesh.apply_yaml(TCP_SERVICE)
    try:
        pod = mesh.pod("httpbin-v1")
        before = settled()
        request = b"GET /get HTTP/1.1\r\nHost: httpbin\r\nConnection: close\r\n\r\n"
        with socket.create_connection((pod["ip"], 8080), timeout=10) as conn:
            conn.sendall(request)
            received = b""
            while chunk := conn.recv(65536):
                received += chunk
        assert received.startswith(b"HTTP/1.1 200"), received[:100]
        match = {"reporter": "destination", "destination_workload": "httpbin-v1",
                 "source_workload": "unknown", "request_protocol": "tcp",
                 "connection_security_policy": "none"}  # fmt: skip
        seen: dict = {}

        def closed() -> bool:
            seen["now"] = scrape()
            return delta(seen["now"], before, "istio_tcp_connections_closed_total", **match) == 1

        wait_until(closed, timeout=20, what="the TCP connection reported closed")
        now = seen["now"]
        assert delta(now, before, "istio_tcp_connections_opened_total", **match) == 1
        assert delta(now, before, "istio_tcp_received_bytes_total", **match) == len(request)
        assert delta(now, before, "istio_tcp_sent_bytes_total", **match) == len(received)
    finally:
        mesh.delete_yaml(TCP_SERVICE)


def test_zipkin_read_api(mesh):
    """The collector answers Zipkin's read API over what it stored (posted here directly)."""
    span = {"traceId": "a" * 32, "id": "b" * 16, "name": "get", "timestamp": 1,
            "duration": 5, "kind": "SERVER",
            "localEndpoint": {"serviceName": "zipkin-api-test.default"}}  # fmt: skip
    req = urllib.request.Request(
        f"http://{ISTIOD}:9411/api/v2/spans", data=json.dumps([span]).encode(),
        headers={"Content-Type": "application/json"}, method="POST",
    )  # fmt: skip
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 202
    base = f"http://{ISTIOD}:9411/api/v2"
    with urllib.request.urlopen(f"{base}/services", timeout=10) as resp:
        assert "zipkin-api-test.default" in json.load(resp)
    url = f"{base}/traces?serviceName=zipkin-api-test.default&limit=5"
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert json.load(resp) == [[span]]

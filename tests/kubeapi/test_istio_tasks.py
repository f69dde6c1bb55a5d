"""The Istio docs' command sequences, verbatim through kubectl, with the outputs the docs show:
request routing, fault injection, circuit breaking (fortio pod, `pilot-agent request GET
stats`), mutual TLS migration (foo/bar/legacy curl matrix, 000 and exit code 56) and sidecar
injection (label, restart: 1/1 -> 2/2). Upstream YAML is not copied: the files are written
from istiolab.manifests, which carries the same facts."""

from __future__ import annotations

import json
import re

import pytest

from istiolab import manifests
from istiolab.local.supervisor import wait_until

pytestmark = [pytest.mark.envoy]


def _reviews_pod(kube, *headers: str) -> str:
    args = ["exec", "deploy/sleep", "--", "curl", "-s"]
    for h in headers:
        args += ["-H", h]
    return json.loads(kube.kc(*args, "http://reviews:9080/reviews/0"))["podname"]


def test_getting_started_checks(kube):
    ratings = kube.sh("kubectl get pod -l app=ratings -o 'jsonpath={.items[0].metadata.name}'")
    page = kube.sh(f'kubectl exec "{ratings}" -c ratings -- curl -sS productpage:9080/productpage')
    assert re.search("<title>.*</title>", page).group(0) == "<title>Simple Bookstore App</title>"
    assert "details" in kube.sh("kubectl get services").split()


def test_request_routing_and_fault_injection(kube, tmp_path):
    kube.kc(
        "apply",
        "-f",
        kube.write(tmp_path, "destination-rule-all.yaml", manifests.destination_rules()),
    )
    kube.kc(
        "apply",
        "-f",
        kube.write(tmp_path, "virtual-service-all-v1.yaml", manifests.traffic_preset("all-v1")),
    )
    hosts = kube.kc("get", "virtualservices").split()
    assert {"details", "productpage", "ratings", "reviews"} <= set(hosts)
    assert all(_reviews_pod(kube).startswith("reviews-v1-") for _ in range(6))
    user = kube.write(
        tmp_path, "virtual-service-reviews-test-v2.yaml", manifests.traffic_preset("user-route")
    )
    assert kube.kc("apply", "-f", user).strip() == (
        "virtualservice.networking.istio.io/reviews configured"
    )
    assert all(_reviews_pod(kube, "end-user: jason").startswith("reviews-v2-") for _ in range(4))
    assert _reviews_pod(kube).startswith("reviews-v1-")
    # fault injection: HTTP abort for jason on ratings
    abort = kube.write(
        tmp_path, "virtual-service-ratings-test-abort.yaml", manifests.traffic_preset("fault-abort")
    )
    assert kube.kc("apply", "-f", abort).strip() == (
        "virtualservice.networking.istio.io/ratings configured"
    )
    code = kube.sh(
        "kubectl exec deploy/sleep -- curl -s -o /dev/null -w '%{http_code}' -H 'end-user: jason' http://ratings:9080/ratings/0"
    )
    assert code == "500"
    body = kube.sh(
        "kubectl exec deploy/sleep -- curl -s -H 'end-user: jason' http://reviews:9080/reviews/0"
    )
    assert "Ratings service is currently unavailable" in body
    kube.kc("delete", "-f", kube.write(tmp_path, "all-v1.yaml", manifests.traffic_preset("all-v1")))


def test_circuit_breaking_with_fortio(kube, tmp_path):
    before = kube.run("kubectl get destinationrule httpbin -o json")  # `up` may deploy one
    rule = kube.write(tmp_path, "httpbin-dr.yaml", manifests.traffic_preset("circuit-breaker"))
    assert kube.kc("apply", "-f", rule).strip() in (
        "destinationrule.networking.istio.io/httpbin created",
        "destinationrule.networking.istio.io/httpbin configured",
    )
    fortio_pod = kube.sh("kubectl get pods -l app=fortio -o 'jsonpath={.items[0].metadata.name}'")
    assert fortio_pod.startswith("fortio-deploy-")
    exec_fortio = f'kubectl exec "{fortio_pod}" -c fortio -- /usr/bin/fortio'
    first = kube.sh(f"{exec_fortio} curl -quiet http://httpbin:8000/get")
    assert first.startswith("HTTP/1.1 200 OK")
    tripped = 0
    for _ in range(3):  # statistical: 3 connections against a limit of 1 trip within 3 runs
        out = kube.sh(
            f"{exec_fortio} load -c 3 -qps 0 -n 30 -loglevel Warning http://httpbin:8000/get"
        )
        assert re.search(r"^Code 200 : \d+ \(\d+\.\d %\)$", out, re.M), out
        found = re.search(r"^Code 503 : (\d+) \(\d+\.\d %\)$", out, re.M)
        tripped += int(found.group(1)) if found else 0
        if tripped:
            break
    assert tripped > 0, "no 503 in 3 fortio runs against maxConnections 1"
    stats = kube.sh(f'kubectl exec "{fortio_pod}" -c istio-proxy -- pilot-agent request GET stats')
    pending = [line for line in stats.splitlines() if "httpbin" in line and "pending" in line]
    overflow = next(
        line
        for line in pending
        if line.startswith(
            "cluster.outbound|8000||httpbin.default.svc.cluster.local.upstream_rq_pending_overflow:"
        )
    )
    assert int(overflow.rsplit(":", 1)[1]) >= tripped
    if before.returncode == 0:  # the samples' own DestinationRule back
        kube.sh("kubectl replace -f -", stdin=before.stdout)
    else:
        kube.sh("kubectl delete destinationrule httpbin")


def test_mutual_tls_migration(kube, tmp_path):
    for ns in ("foo", "bar", "legacy"):
        assert kube.kc("create", "namespace", ns).strip() == f"namespace/{ns} created"
        if ns != "legacy":
            kube.kc("label", "namespace", ns, "istio-injection=enabled")
            httpbin = kube.write(tmp_path, f"httpbin-{ns}.yaml", manifests.httpbin(ns))
            kube.sh(f"kubectl apply -f {httpbin} -n {ns}")
        sleep = kube.write(tmp_path, f"sleep-{ns}.yaml", manifests.sleep(ns))
        kube.sh(f"kubectl apply -f {sleep} -n {ns}")

    def matrix() -> dict[tuple[str, str], tuple[str, int]]:
        out = {}
        for src in ("foo", "bar", "legacy"):
            pod = kube.sh(
                f"kubectl get pod -l app=sleep -n {src} -o jsonpath={{.items..metadata.name}}"
            )
            for dst in ("foo", "bar"):
                proc = kube.run(
                    f'kubectl exec "{pod}" -c sleep -n {src} -- curl http://httpbin.{dst}:8000/ip '
                    f'-s -o /dev/null -w "sleep.{src} to httpbin.{dst}: %{{http_code}}\\n"'
                )
                assert proc.stdout.startswith(f"sleep.{src} to httpbin.{dst}: "), proc
                out[(src, dst)] = (proc.stdout.rsplit(" ", 1)[1].strip(), proc.returncode)
        return out

    try:
        assert set(matrix().values()) == {("200", 0)}
        strict = manifests.security_preset("peer-authentication", namespace="foo")
        kube.sh("kubectl apply -n foo -f -", stdin=manifests.to_yaml(strict))
        wait_until(lambda: matrix()[("legacy", "foo")] == ("000", 56), 20, "STRICT in foo")
        after = matrix()
        assert after.pop(("legacy", "foo")) == ("000", 56)
        assert set(after.values()) == {("200", 0)}
        proc = kube.run(
            "kubectl exec deploy/sleep -n legacy -- curl http://httpbin.foo:8000/ip -s -o /dev/null"
        )
        assert "command terminated with exit code 56" in proc.stderr
    finally:
        for ns in ("foo", "bar", "legacy"):
            kube.kubectl("delete", "namespace", ns)


def test_sidecar_injection_label_then_rollout_restart(kube, tmp_path):
    kube.kc("create", "namespace", "inject")
    try:
        sleep = kube.write(tmp_path, "sleep.yaml", manifests.sleep("inject"))
        kube.sh(f"kubectl apply -n inject -f {sleep}")

        def pods() -> list[list[str]]:
            out = kube.sh("kubectl get pods -n inject --no-headers")
            return [line.split() for line in out.splitlines()]

        before = pods()
        assert [p[1:3] for p in before] == [["1/1", "Running"]]
        assert kube.kc("label", "namespace", "inject", "istio-injection=enabled").strip() == (
            "namespace/inject labeled"
        )
        assert pods() == before or [p[:2] for p in pods()] == [p[:2] for p in before]
        assert kube.sh("kubectl rollout restart deployment/sleep -n inject").strip() == (
            "deployment.apps/sleep restarted"
        )
        kube.sh("kubectl rollout status deployment/sleep -n inject --timeout=60s")
        after = pods()
        assert [p[1:3] for p in after] == [["2/2", "Running"]]
        assert after[0][0] != before[0][0] and after[0][0].startswith("sleep-")
    finally:
        kube.kubectl("delete", "namespace", "inject")


def test_sidecar_injection_label_then_delete_pod(kube, tmp_path):
    """The "Installing the Sidecar" page: label the namespace, delete the pod, the new pod
    (new name) has the sidecar."""
    kube.sh("kubectl create namespace replace")
    try:
        sleep = kube.write(tmp_path, "sleep.yaml", manifests.sleep("replace"))
        kube.sh(f"kubectl apply -n replace -f {sleep}")
        before = kube.sh("kubectl get pod -n replace -l app=sleep --no-headers").split()
        assert before[1] == "1/1"
        kube.sh("kubectl label namespace replace istio-injection=enabled --overwrite")
        deleted = kube.sh("kubectl delete pod -n replace -l app=sleep")
        assert deleted.strip() == f'pod "{before[0]}" deleted'
        after = kube.sh("kubectl get pod -n replace -l app=sleep --no-headers").split()
        assert after[0] != before[0] and after[1:3] == ["2/2", "Running"]
    finally:
        kube.run("kubectl delete namespace replace")

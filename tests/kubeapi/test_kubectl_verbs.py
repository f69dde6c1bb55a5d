"""The real kubectl against the local mesh's Kubernetes API: each verb once, with the output
kubectl prints on a cluster, and the same objects seen through `istiolab get/apply`."""

from __future__ import annotations

import json
import os
import ssl
import stat
import subprocess
import threading
import urllib.error
import urllib.request

import pytest
import yaml

from istiolab.local.supervisor import wait_until

pytestmark = [pytest.mark.envoy]

DR = """apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: verbs
spec:
  host: details
  trafficPolicy:
    connectionPool:
      tcp:
        maxConnections: {n}
"""


def test_discovery_short_names_and_version(kube):
    out = kube.kc("api-resources")
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    for plural, short in (
        ("virtualservices", "vs"),
        ("destinationrules", "dr"),
        ("gateways", "gw"),
        ("serviceentries", "se"),
        ("peerauthentications", "pa"),
        ("requestauthentications", "ra"),
        ("authorizationpolicies", "ap"),
        ("deployments", "deploy"),
        ("pods", "po"),
    ):
        assert short in rows[plural], rows[plural]
    assert "Server Version: v1.32" in kube.kc("version")
    assert kube.kc("explain", "vs").startswith("GROUP:")


def test_get_pods_table_all_namespaces_and_selectors(kube):
    out = kube.kc("get", "pods")
    header = out.splitlines()[0].split()
    assert header == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    sleep = [line.split() for line in out.splitlines() if line.startswith("sleep-")]
    assert sleep and sleep[0][1:4] == ["2/2", "Running", "0"]
    everywhere = kube.kc("get", "pods", "-A")
    assert "istio-system   istio-ingressgateway" in everywhere
    names = kube.sh("kubectl get pods -l 'app=reviews,version!=v1' -o name").split()
    assert names and all(n.startswith("pod/reviews-v") and "-v1-" not in n for n in names)
    by_field = kube.sh("kubectl get pods -A --field-selector metadata.namespace=istio-system")
    assert "productpage" not in by_field and "istio-ingressgateway" in by_field
    istiod = kube.sh("kubectl get pods -n istio-system -l app=istiod --no-headers").split()
    assert istiod[0].startswith("istiod-") and istiod[1:4] == ["1/1", "Running", "0"]
    deploy = kube.kc("get", "deploy", "productpage-v1").splitlines()
    assert deploy[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert deploy[1].split()[:4] == ["productpage-v1", "1/1", "1", "1"]


def test_apply_configure_label_patch_replace_delete(kube, tmp_path):
    path = tmp_path / "dr.yaml"
    path.write_text(DR.format(n=1))
    assert kube.kc("apply", "-f", str(path)).strip() == (
        "destinationrule.networking.istio.io/verbs created"
    )
    assert kube.kc("apply", "-f", str(path)).strip().endswith("verbs unchanged")
    path.write_text(DR.format(n=2))
    assert kube.kc("apply", "-f", str(path)).strip().endswith("verbs configured")
    obj = json.loads(kube.sh("kubectl get dr verbs -o json"))
    md = obj["metadata"]
    assert md["generation"] == 2 and md["uid"] and md["resourceVersion"]
    assert md["creationTimestamp"].endswith("Z")
    # the same object through the project's own CLI
    assert "maxConnections: 2" in kube.ok("get", "dr", "verbs", "-o", "yaml")
    kube.kc("label", "dr", "verbs", "team=a")
    kube.kc("annotate", "dr", "verbs", "note=x")
    assert kube.sh("kubectl get dr -l team=a -o name").strip() == (
        "destinationrule.networking.istio.io/verbs"
    )
    kube.sh(
        "kubectl patch dr verbs --type merge -p "
        '\'{"spec":{"trafficPolicy":{"connectionPool":{"tcp":{"maxConnections":5}}}}}\''
    )
    kube.sh(
        "kubectl patch dr verbs --type json -p "
        '\'[{"op":"replace","path":"/spec/host","value":"ratings"}]\''
    )
    got = json.loads(kube.sh("kubectl get dr verbs -o json"))
    assert got["spec"]["host"] == "ratings"
    assert got["spec"]["trafficPolicy"]["connectionPool"]["tcp"]["maxConnections"] == 5
    assert got["metadata"]["annotations"]["note"] == "x"
    assert kube.kc("replace", "-f", "-", stdin=json.dumps(got)).strip().endswith("replaced")
    assert kube.kc("apply", "--server-side", "-f", str(path)).strip().endswith("serverside-applied")
    assert kube.kc("delete", "dr", "verbs").strip() == (
        'destinationrule.networking.istio.io "verbs" deleted'
    )
    gone = kube.kubectl("get", "dr", "verbs")
    assert gone.returncode == 1
    assert 'destinationrules.networking.istio.io "verbs" not found' in gone.stderr


def test_istiolab_apply_is_seen_by_kubectl(kube):
    kube.apply([yaml.safe_load(DR.replace("name: verbs", "name: from-cli").format(n=3))])
    try:
        assert "from-cli" in kube.kc("get", "destinationrules")
    finally:
        kube.kc("delete", "dr", "from-cli")
    assert "from-cli" not in kube.ok("get", "dr")


def test_strict_validation_names_the_field_and_applies_nothing(kube, tmp_path):
    bad = tmp_path / "bad.yaml"
    good = DR.replace("name: verbs", "name: first").format(n=1)
    typo = DR.replace("name: verbs", "name: second").format(n=1)
    typo = typo.replace("maxConnections", "maxConnection")
    bad.write_text(good + "---\n" + typo)
    proc = kube.kubectl("apply", "-f", str(bad))
    assert proc.returncode == 1
    assert (
        'Error from server (BadRequest): error when creating "' + str(bad) + '": DestinationRule '
        'in version "v1" cannot be handled as a DestinationRule: strict decoding error: '
        'unknown field "spec.trafficPolicy.connectionPool.tcp.maxConnection"'
    ) in proc.stderr
    assert "did you mean maxConnections?" in proc.stderr
    assert "second" not in kube.kc("get", "dr")
    kube.kubectl("delete", "dr", "first")  # kubectl applies document by document


def test_watch_wait_and_rollout_status(kube):
    watch = kube.popen("get", "deploy", "details-v1", "-w", "--output-watch-events")
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(watch.stdout.readline, "")))
    reader.start()
    try:
        wait_until(lambda: len(lines) >= 1, 20, "the watch's first event")
        kube.kc("annotate", "deploy", "details-v1", "watched=yes")
        wait_until(lambda: any("MODIFIED" in line for line in lines), 20, "a MODIFIED event")
    finally:
        watch.terminate()
        watch.wait(10)
        reader.join(10)
    assert lines[0].split()[:2] == ["EVENT", "NAME"]
    assert lines[1].split()[:2] == ["ADDED", "details-v1"]
    out = kube.kc("wait", "--for=condition=available", "deployment/details-v1", "--timeout=30s")
    assert out.strip() == "deployment.apps/details-v1 condition met"
    out = kube.sh("kubectl wait --for=condition=Ready pod -l app=details --timeout=30s")
    assert "condition met" in out
    out = kube.kc("rollout", "status", "deployment/details-v1", "--timeout=30s")
    assert out.strip() == 'deployment "details-v1" successfully rolled out'


def test_exec_curl_flags_and_exit_codes(kube):
    out = kube.sh("kubectl exec deploy/sleep -- curl -s http://httpbin:8000/headers")
    assert json.loads(out)["headers"]["User-Agent"] == ["curl/8.16.0"]
    code = kube.sh(
        "kubectl exec deploy/sleep -- curl -s -o /dev/null -w '%{http_code}' -X POST -d a=b http://httpbin:8000/post"
    )
    assert code == "200"
    head = kube.sh("kubectl exec deploy/sleep -- curl -sI http://httpbin:8000/status/418")
    assert head.startswith("HTTP/1.1 418")
    verbose = kube.run(
        "kubectl exec deploy/sleep -- curl -sv -H 'x-test: 1' http://httpbin:8000/get"
    )
    assert "> x-test: 1" in verbose.stderr and "< HTTP/1.1 200 OK" in verbose.stderr
    bad = kube.run("kubectl exec deploy/sleep -- curl --nope http://httpbin:8000/")
    assert bad.returncode == 2 and "curl: option --nope: is unknown" in bad.stderr
    assert "command terminated with exit code 2" in bad.stderr
    unsupported = kube.run("kubectl exec deploy/sleep -- ls /")
    assert unsupported.returncode == 127
    assert "supported: curl" in unsupported.stderr and "pilot-agent request" in unsupported.stderr


def test_exec_proxy_admin_and_logs(kube):
    kube.sh("kubectl exec deploy/sleep -- curl -s http://httpbin:8000/status/200")
    stats = kube.sh("kubectl exec deploy/sleep -c istio-proxy -- pilot-agent request GET stats")
    assert "cluster.outbound|8000||httpbin.default.svc.cluster.local.upstream_rq_total" in stats
    ready = kube.sh("kubectl exec deploy/sleep -c istio-proxy -- curl -s localhost:15000/ready")
    assert ready.strip() == "LIVE"
    wait_until(  # Envoy flushes its access log once a second
        lambda: (
            '"GET /status/200 HTTP/1.1" 200'
            in kube.sh("kubectl logs deploy/sleep -c istio-proxy --tail=5")
        ),
        20,
        "the request in istio-proxy's access log",
    )
    assert kube.kc("logs", "deploy/httpbin-v1").startswith("ready ")
    bad = kube.kubectl("logs", "deploy/sleep", "-c", "nope")
    assert "container nope is not valid" in bad.stderr


def test_exec_pilot_discovery_syncz_in_istiod(kube):
    """What ``istioctl proxy-status`` reads: istiod's /debug/syncz, a CSDS ClientConfig for
    every proxy, each xDS type SYNCED once the mesh is converged."""
    pod = kube.sh("kubectl get pods -n istio-system -l app=istiod -o name").strip()
    out = kube.kc("exec", "-n", "istio-system", pod, "-c", "discovery", "--",
                  "pilot-discovery", "request", "GET", "/debug/syncz")  # fmt: skip
    configs = json.loads(out)
    nodes = {c["node"]["id"].split("~")[2] for c in configs}
    assert any(n.startswith("productpage-v1-") for n in nodes)
    assert any(n.startswith("istio-ingressgateway") for n in nodes)
    types = ("Cluster", "Listener", "ClusterLoadAssignment", "RouteConfiguration")
    for c in configs:
        kinds = {x["typeUrl"].rsplit(".", 1)[-1]: x["configStatus"] for x in c["genericXdsConfigs"]}
        assert kinds == dict.fromkeys(types, "SYNCED"), c
    wrong = kube.kubectl("exec", "-n", "istio-system", pod, "--", "pilot-discovery", "request",
                         "GET", "/debug/nosuch")  # fmt: skip
    assert wrong.returncode == 1 and "404 page not found" in wrong.stderr


def test_exec_openssl_shows_the_workload_certificate(kube):
    # the server's sidecar asks for a client certificate (mTLS) after the handshake: whether
    # openssl sees that alert before it exits (exit 1) or not (exit 0) is timing, as on a cluster
    out = kube.run(
        "kubectl exec deploy/sleep -c istio-proxy -- "
        "openssl s_client -showcerts -connect httpbin:8000"
    ).stdout
    assert "-----BEGIN CERTIFICATE-----" in out
    assert "issuer=O = cluster.local" in out
    refused = kube.run("kubectl exec deploy/sleep -c istio-proxy -- openssl enc")
    assert refused.returncode == 127 and "openssl s_client -connect" in refused.stderr


def test_security_token_loopback_and_modes(kube):
    assert stat.S_IMODE(os.stat(kube.kubeconfig).st_mode) == 0o600
    for name in ("token", "server.key"):
        assert stat.S_IMODE(os.stat(kube.state.kubeapi / name).st_mode) == 0o600
    config = yaml.safe_load(kube.kubeconfig.read_text())
    assert config["current-context"] == "istiolab"
    server = config["clusters"][0]["cluster"]["server"]
    assert server.startswith("https://127.") and server.endswith(":6443")
    assert kube.ok("kubeconfig").strip() == str(kube.kubeconfig)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(server + "/api/v1/pods", context=ctx, timeout=10)
    assert info.value.code == 401
    wrong = kube.kubectl("get", "pods", "--token", "not-the-token")
    assert wrong.returncode == 1 and "Unauthorized" in wrong.stderr


def test_port_forward_service_and_pod(kube):
    local = f"127.{kube_octet(kube)}.0.9"
    forward = subprocess.Popen(
        [kube.kubectl_binary, "port-forward", "svc/httpbin", "18000:8000", "--address", local],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=kube.env(),
    )
    try:
        assert forward.stdout.readline().startswith(f"Forwarding from {local}:18000 -> 8080")
        with urllib.request.urlopen(f"http://{local}:18000/status/418", timeout=10) as resp:
            pytest.fail(f"expected 418, got {resp.status}")
    except urllib.error.HTTPError as exc:
        assert exc.code == 418
        body = b"x" * 200_000  # several SPDY frames each way
        req = urllib.request.Request(
            f"http://{local}:18000/anything", data=body, headers={"Content-Type": "text/plain"}
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert json.loads(resp.read())["data"] == body.decode()
    finally:
        forward.terminate()
        forward.wait(10)


def test_service_proxy_reaches_a_pod_as_the_api_server_does(kube):
    """``kubectl get --raw .../services/NAME:PORT/proxy/PATH``: to a ready pod's IP at the
    target port (httpbin behind its sidecar, PERMISSIVE), path and query kept, the API
    server's credentials not passed on."""
    base = "/api/v1/namespaces/default/services"
    got = json.loads(kube.kc("get", "--raw", f"{base}/httpbin:8000/proxy/get?lab=a%2Fb"))
    assert got["args"] == {"lab": ["a/b"]}
    assert got["url"].endswith("/get?lab=a%2Fb")
    assert "authorization" not in {k.lower() for k in got["headers"]}
    by_name = json.loads(kube.kc("get", "--raw", f"{base}/http:httpbin:http/proxy/headers"))
    assert "headers" in by_name  # the port by name, with the explicit scheme
    missing = kube.kubectl("get", "--raw", f"{base}/nosuch:80/proxy/")
    assert missing.returncode == 1 and 'services "nosuch" not found' in missing.stderr
    https = kube.kubectl("get", "--raw", f"{base}/https:httpbin:8000/proxy/")
    assert https.returncode == 1 and "plain HTTP" in https.stderr


def kube_octet(kube) -> str:
    return str(kube.state.load_settings().octet)


def test_scale_and_diff(kube):
    assert kube.kc("scale", "deploy/ratings-v1", "--replicas=2").strip() == (
        "deployment.apps/ratings-v1 scaled"
    )
    try:
        pods = kube.sh("kubectl get pods -l app=ratings --no-headers").splitlines()
        assert [p.split()[1] for p in pods] == ["2/2", "2/2"]
        assert kube.kc("get", "deploy", "ratings-v1").splitlines()[1].split()[1] == "2/2"
    finally:
        kube.kc("scale", "deploy/ratings-v1", "--replicas=1")
    live = kube.sh("kubectl get deploy ratings-v1 -o yaml")
    assert kube.kubectl("diff", "-f", "-", stdin=live).returncode == 0  # dry run, no change
    changed = kube.kubectl("diff", "-f", "-", stdin=live.replace("replicas: 1", "replicas: 4"))
    assert changed.returncode == 1 and "+  replicas: 4" in changed.stdout
    assert len(kube.sh("kubectl get pods -l app=ratings --no-headers").splitlines()) == 1


def test_ingress_host_and_port_as_the_docs_read_them(kube):
    host = kube.sh(
        "kubectl -n istio-system get service istio-ingressgateway "
        "-o 'jsonpath={.status.loadBalancer.ingress[0].ip}'"
    )
    port = kube.sh(
        "kubectl -n istio-system get service istio-ingressgateway "
        "-o 'jsonpath={.spec.ports[?(@.name==\"http2\")].port}'"
    )
    with urllib.request.urlopen(f"http://{host}:{port}/productpage", timeout=10) as resp:
        assert resp.status == 200 and b"<title>Simple Bookstore App</title>" in resp.read()
    rows = [r.split() for r in kube.sh("kubectl get svc -n istio-system --no-headers").splitlines()]
    assert rows[0][:4] == ["istio-ingressgateway", "LoadBalancer", "<none>", host]
    # the span collector the proxies report to, at istiod's address, as zipkin.istio-system
    assert rows[1][:5] == ["zipkin", "ClusterIP", host.rsplit(".", 2)[0] + ".0.1", "<none>",
                           "9411/TCP"]  # fmt: skip
    forbidden = kube.kubectl("delete", "namespace", "default")
    assert forbidden.returncode == 1 and "may not be deleted" in forbidden.stderr

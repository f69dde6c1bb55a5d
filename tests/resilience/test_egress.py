"""Egress on the local mesh: ServiceEntry (MESH_EXTERNAL) and the outbound traffic policy,
against an "external" HTTP server the test starts on loopback, outside the mesh."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.envoy, pytest.mark.timeout(120)]

HOST = "api.weather.example"

# Seed 004 ("2.2 Egress traffic", the openweathermap ServiceEntry): same shape, with the
# test's host and port, and an endpoint address since nothing outside loopback may be
# resolved or reached.
SEED_SERVICE_ENTRY = """\
apiVersion: networking.istio.io/v1alpha3
kind: ServiceEntry
metadata:
  name: openweathermap
spec:
  hosts:
  - {host}
  ports:
  - number: {port}
    name: http
    protocol: HTTP
  resolution: {resolution}
  location: MESH_EXTERNAL
  endpoints:
  - address: {address}
"""


def mesh_config(mode: str) -> str:
    """The `istio` ConfigMap's MeshConfig, as `kubectl -n istio-system edit cm istio` holds it."""
    return f"""\
apiVersion: v1
kind: ConfigMap
metadata:
  name: istio
  namespace: istio-system
data:
  mesh: |-
    outboundTrafficPolicy:
      mode: {mode}
"""


@pytest.mark.parametrize("resolution", ["DNS", "STATIC"])
def test_service_entry_reaches_the_external_server(clean, external, resolution):
    """Istio task "Accessing External Services" / seed 004's ServiceEntry: a MESH_EXTERNAL
    host with DNS or STATIC resolution is routed by the sleep sidecar to its own
    `outbound|<port>||<host>` cluster and reaches the server outside the mesh."""
    mesh = clean
    server = external(label="weather")
    ip, port = server.address
    entry = SEED_SERVICE_ENTRY.format(host=HOST, port=port, resolution=resolution, address=ip)
    out = mesh.apply_yaml(entry)
    assert "serviceentry.networking.istio.io/openweathermap created" in out
    path = f"/data/2.5/weather?q=Mannheim&via={resolution}"
    response = mesh.send("sleep", f"http://{HOST}:{port}{path}")
    assert response.status == 200, response
    assert response.json()["server"] == "weather"
    assert [h[:2] for h in server.hits] == [(path, f"{HOST}:{port}")]
    [line] = mesh.wait_log("sleep", f'"GET {path} ')
    assert f"outbound|{port}||{HOST}" in line and f'"{ip}:{port}"' in line


def test_allow_any_lets_unknown_hosts_through(clean, external):
    """Istio task "Accessing External Services", ALLOW_ANY (the default): a host no
    ServiceEntry names passes through the sidecar's PassthroughCluster."""
    mesh = clean
    server = external(label="unknown")
    ip, port = server.address
    response = mesh.send("sleep", f"http://{ip}:{port}/anything-goes")
    assert response.status == 200 and response.json()["server"] == "unknown"
    assert [h[0] for h in server.hits] == ["/anything-goes"]
    [line] = mesh.wait_log("sleep", "/anything-goes")
    assert " PassthroughCluster " in line


def test_registry_only_blocks_unknown_hosts_with_502(clean, external):
    """Istio task "Accessing External Services", REGISTRY_ONLY: a host no ServiceEntry
    names gets 502 from the sidecar (route `block_all`) and never reaches the server; a
    registered ServiceEntry host still works; back to ALLOW_ANY, the host passes again."""
    mesh = clean
    unknown = external(label="unknown")
    registered = external(label="registered")
    u_ip, u_port = unknown.address
    r_ip, r_port = registered.address
    mesh.apply_yaml(
        SEED_SERVICE_ENTRY.format(host=HOST, port=r_port, resolution="STATIC", address=r_ip)
    )
    out = mesh.apply_yaml(mesh_config("REGISTRY_ONLY"))
    assert "configmap/istio created" in out

    response = mesh.send("sleep", f"http://{u_ip}:{u_port}/blocked")
    assert response.status == 502
    assert unknown.hits == []
    [line] = mesh.wait_log("sleep", "/blocked")
    # as istiod programs it for HTTP: the catch-all virtual host `block_all` answers 502
    # itself (TCP traffic would go to the BlackHoleCluster)
    assert " 502 - direct_response " in line and line.endswith(" block_all"), line
    assert mesh.send("sleep", f"http://{HOST}:{r_port}/allowed").status == 200
    assert [h[0] for h in registered.hits] == ["/allowed"]

    mesh.apply_yaml(mesh_config("ALLOW_ANY"))
    assert mesh.send("sleep", f"http://{u_ip}:{u_port}/open-again").status == 200
    assert [h[0] for h in unknown.hits] == ["/open-again"]

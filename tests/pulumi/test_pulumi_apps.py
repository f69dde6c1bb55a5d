"""Bookinfo, Samples, FortioClient, Observability and MeshSecurity under Pulumi's mocks."""

from __future__ import annotations

import json
import time

import jwt
import pulumi
import pulumi_kubernetes as k8s
from pulumi_harness import unwrap

from components.bookinfo import Bookinfo, BookinfoArgs
from components.fortio_client import FortioClient, FortioClientArgs
from components.istio_mesh import IstioMesh, IstioMeshArgs
from components.mesh_security import MeshSecurity, MeshSecurityArgs
from components.observability import Observability, ObservabilityArgs
from components.samples import Samples, SamplesArgs
from istiolab import manifests
from istiolab.manifests.jwks import DEFAULT_ISSUER, jwks_from_public_pem


def with_mesh(build):
    """A program: provider, mesh, then `build(provider, mesh)`."""

    def program():
        provider = k8s.Provider("k8s", kubeconfig="apiVersion: v1\nkind: Config\n")
        mesh = IstioMesh("istio", IstioMeshArgs(provider=provider))
        build(provider, mesh)

    return program


def group_objs(run, name) -> list[dict]:
    return run.named(name).inputs["objs"]


def test_bookinfo(run_pulumi):
    run = run_pulumi(with_mesh(lambda p, m: Bookinfo("bookinfo", BookinfoArgs(provider=p, mesh=m))))
    ns = run.named("bookinfo-ns-default")
    # `default` exists in every cluster: patched (label added, removed on destroy), not created
    assert ns.type == "kubernetes:core/v1:NamespacePatch"
    assert ns.inputs["metadata"] == {"name": "default", "labels": {"istio-injection": "enabled"}}
    workloads = group_objs(run, "bookinfo-workloads")
    assert workloads == manifests.bookinfo("default")
    istio = group_objs(run, "bookinfo-istio")
    assert istio == manifests.bookinfo_gateway("default") + manifests.destination_rules(
        "default", services=["details", "ratings", "reviews", "productpage"]
    )
    assert {o["kind"] for o in istio} == {"Gateway", "VirtualService", "DestinationRule"}
    # namespace label before any workload; workloads after istiod's injection webhook;
    # custom resources after the CRDs
    assert run.depends_on("bookinfo-workloads", "bookinfo-ns-default")
    assert run.depends_on("bookinfo-workloads", "istio-istiod")
    assert run.depends_on("bookinfo-istio", "istio-base")
    assert run.depends_on("bookinfo-istio", "bookinfo-ns-default")
    assert run.ancestors("bookinfo-istio") == ["bookinfo"]
    assert run.named("bookinfo").type == "istiolab:index:Bookinfo"


def test_samples_in_their_own_namespace(run_pulumi):
    run = run_pulumi(
        with_mesh(
            lambda p, m: Samples(
                "samples",
                SamplesArgs(provider=p, mesh=m, namespace="demo", httpbin_versions=("v1",)),
            )
        )
    )
    ns = run.named("samples-ns-demo")
    assert ns.type == "kubernetes:core/v1:Namespace"
    assert ns.inputs["metadata"]["labels"] == {"istio-injection": "enabled"}
    workloads = group_objs(run, "samples-workloads")
    assert workloads == manifests.httpbin("demo") + manifests.sleep("demo") + manifests.fortio(
        "demo"
    )
    fortio = next(
        o
        for o in workloads
        if o["kind"] == "Deployment" and o["metadata"]["name"] == "fortio-deploy"
    )
    annotations = fortio["spec"]["template"]["metadata"]["annotations"]
    stats = json.loads(annotations["proxy.istio.io/config"])["proxyStatsMatcher"]
    assert "cluster.outbound" in stats["inclusionPrefixes"]  # what circuit breaking reads
    assert [o["metadata"]["name"] for o in group_objs(run, "samples-istio")] == ["httpbin"]
    assert run.depends_on("samples-workloads", "samples-ns-demo")
    assert run.depends_on("samples-istio", "istio-base")


def test_fortio_client_load_generator(run_pulumi):
    holder = {}

    def build(p, m):
        holder["c"] = FortioClient("load", FortioClientArgs(provider=p, mesh=m))

    run = run_pulumi(with_mesh(build))
    assert run.named("load-ns-load").inputs["metadata"] == {
        "name": "load", "labels": {"istio-injection": "enabled"}
    }  # fmt: skip
    assert group_objs(run, "load-workloads") == manifests.fortio("load")
    assert run.depends_on("load-workloads", "load-ns-load")
    assert holder["c"].exec_command.startswith(
        "kubectl -n load exec deploy/fortio-deploy -c fortio"
    )


def test_observability_addons_with_node_ports(run_pulumi):
    holder = {}

    def build(p, m):
        holder["o"] = Observability(
            "observability",
            ObservabilityArgs(provider=p, mesh=m, addons=("kiali", "prometheus"), node_ports=True),
        )

    run = run_pulumi(with_mesh(build))
    objs = group_objs(run, "observability-workloads")
    assert objs == manifests.addons("istio-system", names=("kiali", "prometheus"), node_port=True)
    services = {o["metadata"]["name"]: o["spec"] for o in objs if o["kind"] == "Service"}
    assert services["kiali"]["type"] == "NodePort"
    assert {p["nodePort"] for p in services["kiali"]["ports"]} == {30007, 30008}  # seed 002
    assert services["prometheus"]["ports"][0]["nodePort"] == 30009
    assert run.depends_on("observability-workloads", "istio-istiod")
    assert holder["o"].dashboards == {
        "prometheus": "kubectl -n istio-system port-forward svc/prometheus 9090:9090  "
        "# then open http://localhost:9090",
        "kiali": "kubectl -n istio-system port-forward svc/kiali 20001:20001  "
        "# then open http://localhost:20001/kiali",
    }


def test_mesh_security_modes_and_presets(run_pulumi):
    def build(p, m):
        MeshSecurity(
            "security",
            MeshSecurityArgs(provider=p, mesh=m, mtls="STRICT", preset="deny-all"),
        )

    run = run_pulumi(with_mesh(build))
    objs = group_objs(run, "security-istio")
    pa = objs[0]
    assert (pa["kind"], pa["metadata"]) == (
        "PeerAuthentication", {"name": "default", "namespace": "istio-system"}
    )  # fmt: skip
    assert pa["spec"] == {"mtls": {"mode": "STRICT"}}
    assert objs[1]["kind"] == "AuthorizationPolicy" and objs[1]["spec"]["action"] == "DENY"
    assert run.depends_on("security-istio", "istio-base")
    assert not run.of_type("tls:index/privateKey:PrivateKey")


def test_request_authentication_with_a_stack_generated_key(run_pulumi):
    holder = {}

    def build(p, m):
        s = MeshSecurity(
            "security", MeshSecurityArgs(provider=p, mesh=m, jwt=True, jwt_required=True)
        )
        holder["key"] = s.jwt_private_key_pem
        pulumi.export("key", s.jwt_private_key_pem)
        pulumi.export("jwks", s.jwks)

    run = run_pulumi(with_mesh(build))
    key = run.named("security-jwt-key").inputs
    assert (key["algorithm"], key["rsaBits"]) == ("RSA", 2048)
    assert "key" in run.secret_outputs and "jwks" not in run.secret_outputs
    objs = group_objs(run, "security-jwt")
    ra = objs[0]
    assert ra["kind"] == "RequestAuthentication"
    assert ra["metadata"] == {"name": "ingress-jwt", "namespace": "istio-system"}
    assert ra["spec"]["selector"] == {"matchLabels": {"istio": "ingressgateway"}}
    rule = ra["spec"]["jwtRules"][0]
    assert rule["issuer"] == DEFAULT_ISSUER and "jwksUri" not in rule  # no external URL
    assert objs[1]["kind"] == "AuthorizationPolicy"  # jwt_required: a token is needed
    assert run.depends_on("security-jwt", "istio-base")
    # A token signed with the exported private key verifies against the inline JWKS.
    jwks = json.loads(rule["jwks"])
    assert jwks == json.loads(run.outputs["jwks"])
    private_pem = run.outputs["key"]
    token = jwt.encode(
        {"iss": DEFAULT_ISSUER, "sub": "learner", "exp": int(time.time()) + 60},
        private_pem,
        algorithm="RS256",
        headers={"kid": jwks["keys"][0]["kid"]},
    )
    public = jwt.PyJWK(jwks["keys"][0]).key
    assert (
        jwt.decode(token, public, algorithms=["RS256"], issuer=DEFAULT_ISSUER)["sub"] == "learner"
    )


def test_jwks_kid_is_the_rfc7638_thumbprint():
    from pulumi_harness import _rsa_pems

    jwks = jwks_from_public_pem(_rsa_pems(2048, 1)[1])
    (key,) = jwks["keys"]
    assert set(key) == {"kty", "alg", "use", "kid", "e", "n"} and key["e"] == "AQAB"
    thumb = jwt.PyJWK(key).key  # parses as an RSA key
    assert thumb.key_size == 2048
    assert len(key["kid"]) == 43  # base64url of a SHA-256 digest, no padding
    assert unwrap(jwks) == jwks

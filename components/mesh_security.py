"""MeshSecurity: mesh-wide PeerAuthentication mode, a security preset (AuthorizationPolicy,
namespace PeerAuthentication, ...) and, optionally, JWT authentication at the ingress gateway
with a key pair the stack generates.

The RequestAuthentication carries the JWKS inline (built from the pulumi-tls public key in an
apply, no resource is created inside it), so tokens for the lab can be issued offline from
the exported private key (`pulumi stack output --show-secrets jwtPrivateKeyPem`) and no
external URL is ever fetched.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_tls as tls

from components._k8s import ISTIO_SYSTEM, deploy, object_group
from istiolab import manifests
from istiolab.manifests.jwks import DEFAULT_ISSUER, jwks_from_public_pem
from istiolab.manifests.security import request_authentication

INGRESS_SELECTOR = {"istio": "ingressgateway"}


@dataclass
class MeshSecurityArgs:
    provider: k8s.Provider
    mesh: pulumi.Resource | None = None
    namespace: str = "default"
    mtls: str = "PERMISSIVE"  # mesh-wide; PERMISSIVE (Istio's default) creates no policy
    preset: str = "none"
    preset_params: dict[str, Any] = field(default_factory=dict)
    jwt: bool = False
    jwt_issuer: str = DEFAULT_ISSUER
    jwt_required: bool = False
    objects: list[dict] | None = None  # exact mtls/preset objects instead of the above
    depends_on: list[pulumi.Resource] = field(default_factory=list)


def security_objects(a: MeshSecurityArgs) -> list[dict]:
    if a.objects is not None:
        return list(a.objects)
    objs: list[dict] = []
    if a.mtls != "PERMISSIVE":
        objs += manifests.security_preset(
            "peer-authentication", namespace=a.namespace, scope="mesh", mode=a.mtls
        )
    if a.preset != "none":
        objs += manifests.security_preset(a.preset, namespace=a.namespace, **a.preset_params)
    return objs


def request_authentication_objects(issuer: str, jwks: dict, required: bool) -> list[dict]:
    return request_authentication(
        ISTIO_SYSTEM,
        issuer=issuer,
        jwks=jwks,
        selector=INGRESS_SELECTOR,
        require=required,
        name="ingress-jwt",
    )


class MeshSecurity(pulumi.ComponentResource):
    def __init__(
        self, name: str, args: MeshSecurityArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("istiolab:index:MeshSecurity", name, None, opts)
        self.objects = security_objects(args)
        after = [*([args.mesh] if args.mesh else []), *args.depends_on]
        self.namespaces, self.groups = deploy(
            name, self.objects, parent=self, provider=args.provider, depends_on=after
        )
        self.jwks: pulumi.Output[str] | None = None
        self.jwt_private_key_pem: pulumi.Output[str] | None = None
        outputs: dict[str, Any] = {}
        if args.jwt:
            key = tls.PrivateKey(
                f"{name}-jwt-key",
                algorithm="RSA",
                rsa_bits=2048,
                opts=pulumi.ResourceOptions(parent=self),
            )
            jwks = key.public_key_pem.apply(jwks_from_public_pem)
            objs = jwks.apply(
                lambda j: request_authentication_objects(args.jwt_issuer, j, args.jwt_required)
            )
            self.request_authentication = object_group(
                f"{name}-jwt", objs, parent=self, provider=args.provider, depends_on=after
            )
            self.jwks = jwks.apply(lambda j: json.dumps(j, sort_keys=True))
            self.jwt_private_key_pem = pulumi.Output.secret(key.private_key_pem)
            outputs = {"jwks": self.jwks, "jwtPrivateKeyPem": self.jwt_private_key_pem}
        self.register_outputs(outputs)

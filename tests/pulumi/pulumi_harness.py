"""Pulumi's own mock runtime for the program and components.

`run_pulumi(fn, stack=...)` installs fresh mocks (a MockMonitor subclass that records every
RegisterResource request: type, name, parent, dependencies, provider, inputs with secrets still
marked) and runs `fn` as a Pulumi program, waiting for every registration. The mock engine
answers like the real providers where a value flows on: `kind get kubeconfig` prints a
kubeconfig, `minikube ip` an address, pulumi-tls keys are real RSA keys.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime.config import set_all_config
from pulumi.runtime.settings import ROOT
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

PEM_CERT_BEGIN = "-----BEGIN CERTIFICATE-----"
REPO = Path(__file__).resolve().parents[2]
STACKS = ("kind", "minikube", "k0s", "existing")
FAKE_KUBECONFIG = (
    "apiVersion: v1\nkind: Config\nclusters:\n- name: lab\n  cluster:\n"
    "    server: https://127.0.0.1:6443\ncontexts:\n- name: lab\n  context: {cluster: lab}\n"
    "current-context: lab\n"
)


@functools.lru_cache(maxsize=4)
def _rsa_pems(bits: int, which: int) -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def _self_signed(inputs: dict) -> str:
    """A real self-signed CA certificate for pulumi-tls SelfSignedCert's inputs."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    key = serialization.load_pem_private_key(inputs["privateKeyPem"].encode(), password=None)
    subject = inputs.get("subject") or {}
    name = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, subject.get("organization", "x")),
        x509.NameAttribute(NameOID.COMMON_NAME, subject.get("commonName", "x")),
    ])  # fmt: skip
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(hours=inputs.get("validityPeriodHours", 24)))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@dataclass
class Registration:
    type: str
    name: str
    urn: str
    parent: str
    dependencies: list[str]
    provider: str
    custom: bool
    raw_inputs: dict  # secrets still wrapped (rpc secret markers)
    additional_secret_outputs: list[str] = field(default_factory=list)

    @property
    def inputs(self) -> dict:
        return unwrap(self.raw_inputs)

    def is_secret(self, key: str) -> bool:
        return rpc.is_rpc_secret(self.raw_inputs.get(key))


def unwrap(value: Any) -> Any:
    if rpc.is_rpc_secret(value):
        return unwrap(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


class LabMocks(pulumi_mocks.Mocks):
    def __init__(self) -> None:
        self.keys = 0

    def new_resource(self, args: pulumi_mocks.MockResourceArgs):
        state = dict(args.inputs)
        if args.typ == "command:local:Command":
            create = unwrap(args.inputs).get("create", "")
            state["stdout"] = "192.168.49.2\n" if " ip " in create else FAKE_KUBECONFIG
            state["stderr"] = ""
        elif args.typ == "tls:index/privateKey:PrivateKey":
            self.keys += 1
            bits = int(unwrap(args.inputs).get("rsaBits", 2048))
            private, public = _rsa_pems(bits, self.keys % 2)
            state.update(privateKeyPem=private, publicKeyPem=public)
        elif args.typ == "tls:index/selfSignedCert:SelfSignedCert":
            state["certPem"] = _self_signed(unwrap(args.inputs))
        elif args.typ == "tls:index/locallySignedCert:LocallySignedCert":
            state["certPem"] = (
                f"-----BEGIN CERTIFICATE-----\n{args.name}\n-----END CERTIFICATE-----\n"
            )
        elif args.typ == "tls:index/certRequest:CertRequest":
            state["certRequestPem"] = f"-----BEGIN CERTIFICATE REQUEST-----\n{args.name}\n"
        return f"{args.name}_id", state

    def call(self, args: pulumi_mocks.MockCallArgs):
        return {}


class RecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks: pulumi_mocks.Mocks) -> None:
        super().__init__(mocks)
        self.registrations: list[Registration] = []

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.registrations.append(
                Registration(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    parent=request.parent,
                    dependencies=list(request.dependencies),
                    provider=request.provider,
                    custom=request.custom,
                    raw_inputs=rpc.deserialize_properties(request.object, keep_unknowns=True),
                    additional_secret_outputs=list(request.additionalSecretOutputs),
                )
            )
        return response


@dataclass
class Run:
    registrations: list[Registration]
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)

    def of_type(self, type_: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == type_]

    def named(self, name: str) -> Registration:
        found = [r for r in self.registrations if r.name == name]
        assert len(found) == 1, f"{len(found)} resources named {name!r}: " + ", ".join(
            r.name for r in self.registrations
        )
        return found[0]

    def by_urn(self, urn: str) -> Registration:
        return next(r for r in self.registrations if r.urn == urn)

    def depends_on(self, dependent: str, dependency: str) -> bool:
        """`dependent` (a name) waits for `dependency` (a name): directly, or through
        the dependencies of its parents (a component's depends_on applies to its children)."""
        target = self.named(dependency).urn
        seen, todo = set(), [self.named(dependent)]
        while todo:
            r = todo.pop()
            if r.urn in seen:
                continue
            seen.add(r.urn)
            if target in r.dependencies:
                return True
            todo += [self.by_urn(u) for u in r.dependencies if u != r.urn]
            if r.parent and not r.parent.endswith(
                "pulumi:pulumi:Stack::" + r.parent.split("::")[-1]
            ):
                parents = [p for p in self.registrations if p.urn == r.parent]
                todo += parents
        return False

    def ancestors(self, name: str) -> list[str]:
        out, r = [], self.named(name)
        while r.parent:
            parents = [p for p in self.registrations if p.urn == r.parent]
            if not parents:
                break
            r = parents[0]
            out.append(r.name)
        return out

    def kubernetes_objects(self) -> list[dict]:
        """Every Kubernetes object the program registered (Helm releases aside)."""
        objs: list[dict] = []
        for r in self.registrations:
            i = r.inputs
            if r.type == "kubernetes:yaml/v2:ConfigGroup":
                objs += i.get("objs") or []
            elif r.type.startswith("kubernetes:") and r.custom and "helm.sh" not in r.type:
                obj = {"apiVersion": i["apiVersion"], "kind": i["kind"], "metadata": i["metadata"]}
                for k, v in i.items():
                    if k not in obj:
                        obj[k] = v
                objs.append(obj)
        return objs


def _config_env(config: dict[str, Any]) -> str:
    """The PULUMI_CONFIG the CLI hands a program: scalars as text, objects as JSON text."""
    out = {}
    for key, value in config.items():
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, dict | list):
            out[key] = json.dumps(value)
        else:
            out[key] = str(value)
    return json.dumps(out)


def stack_config(name: str) -> dict[str, Any]:
    return yaml.safe_load((REPO / f"Pulumi.{name}.yaml").read_text())["config"]


class Runner:
    """run_pulumi(fn, stack="kind", config={...}) -> Run; `.monitor` is the last run's monitor
    (its registrations are there even when the program raised)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.monitor: RecordingMonitor | None = None

    def __call__(
        self, fn: Callable[[], Any], *, stack: str = "test", config: dict[str, Any] | None = None
    ) -> Run:
        set_all_config({})
        self.monkeypatch.chdir(REPO)  # `pulumi` runs the program in the project directory
        self.monkeypatch.setenv("PULUMI_CONFIG", _config_env(config or {}))
        ROOT.set(None)
        mocks = LabMocks()
        self.monitor = monitor = RecordingMonitor(mocks)
        pulumi.runtime.set_mocks(
            mocks, project="istiolab", stack=stack, preview=False, monitor=monitor
        )
        _sync_await(run_pulumi_func(fn))
        result = Run(monitor.registrations)
        root = ROOT.get()
        for key, value in (root.outputs if root is not None else {}).items():
            out = pulumi.Output.from_input(value)
            result.outputs[key] = unwrap(_sync_await(out.future()))
            if _sync_await(out.is_secret()):
                result.secret_outputs.add(key)
        return result


@pytest.fixture
def run_pulumi(monkeypatch) -> Runner:
    """Run a program under fresh mocks (see Runner)."""
    return Runner(monkeypatch)


@pytest.fixture
def big_host(monkeypatch):
    """kind's capacity is this machine's; pin it so the tests do not depend on the runner."""
    from istiolab import sizing

    monkeypatch.setattr(sizing, "host_resources", lambda: (8, 16384))

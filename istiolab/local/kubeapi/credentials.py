"""The Kubernetes API's credentials and the kubeconfig that carries them.

- Serving certificate: issued by the mesh CA (the state directory's own root), for the API's
  loopback address; regenerated when the address changes. Key file mode 0600.
- Bearer token: 32 random bytes (URL-safe), kept across restarts in ``kubeapi/token``
  (0600); requests without it get 401.
- ``<state-dir>/kubeconfig`` (0600): cluster, user and context ``istiolab``, the CA inline,
  so ``export KUBECONFIG=$(istiolab kubeconfig)`` is all kubectl needs.
"""

from __future__ import annotations

import base64
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import yaml

from istiolab.local.pki import MeshCA, server_cert
from istiolab.local.state import write_json_text  # atomic, 0600 from the start

CONTEXT = "istiolab"
API_PORT = 6443


@dataclass(frozen=True)
class Credentials:
    token: str
    cert_file: Path
    key_file: Path
    ca_pem: str

    def authorized(self, header: str | None) -> bool:
        """Whether an Authorization header carries the token (constant-time compare)."""
        scheme, _, value = (header or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(value.strip(), self.token)


def ensure_credentials(directory: Path, ca: MeshCA, host: str) -> Credentials:
    """The token and a serving certificate for `host` under `directory` (created 0700)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    token_file = directory / "token"
    token = token_file.read_text().strip() if token_file.exists() else ""
    if not token:
        token = secrets.token_urlsafe(32)
        write_json_text(token_file, token + "\n")
    authority = ca.own_authority()
    cert_file, key_file, host_file = (
        directory / "server.crt",
        directory / "server.key",
        directory / "server.host",
    )
    current = host_file.read_text().strip() if host_file.exists() else ""
    if current != f"{host}/{authority.fingerprint}" or not key_file.exists():
        chain, key = server_cert(authority, [host], ["localhost"])
        write_json_text(key_file, key)
        write_json_text(cert_file, chain)
        write_json_text(host_file, f"{host}/{authority.fingerprint}\n")
    return Credentials(token, cert_file, key_file, authority.root_pem)


def kubeconfig_text(server: str, creds: Credentials) -> str:
    """A kubeconfig with one cluster, user and context, all named :data:`CONTEXT`."""
    ca = base64.b64encode(creds.ca_pem.encode()).decode()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": CONTEXT, "cluster": {"server": server, "certificate-authority-data": ca}}
        ],
        "users": [{"name": CONTEXT, "user": {"token": creds.token}}],
        "contexts": [
            {
                "name": CONTEXT,
                "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": "default"},
            }
        ],
        "current-context": CONTEXT,
        "preferences": {},
    }
    return yaml.safe_dump(config, sort_keys=False)


def write_kubeconfig(path: Path, server: str, creds: Credentials) -> Path:
    write_json_text(path, kubeconfig_text(server, creds))
    return path

"""What an app process knows about its pod: name, namespace, env, outbound HTTP session."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from istiolab.workloads.client import Session


class HostsFile(Mapping):
    """A JSON hosts map on disk (``ISTIOLAB_HOSTS_FILE``), read again whenever the file was
    replaced or changed, so Services created after the pod started resolve too."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._stamp: tuple[int, int, int] | None = None
        self._data: dict = {}

    def _current(self) -> dict:
        try:
            st = os.stat(self.path)
            stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
            if stamp != self._stamp:
                with open(self.path, encoding="utf-8") as f:
                    self._data = json.load(f)
                self._stamp = stamp
        except (OSError, ValueError):
            pass  # missing or mid-replace: keep the last good map
        return self._data

    def __getitem__(self, key: str):
        return self._current()[key]

    def __iter__(self):
        return iter(self._current())

    def __len__(self) -> int:
        return len(self._current())


@dataclass
class PodContext:
    pod_name: str
    namespace: str
    env: Mapping[str, str] = field(default_factory=dict)
    pod_ip: str = ""
    session: Session = field(default_factory=Session)

    def getenv(self, name: str, default: str | None = None) -> str | None:
        return self.env.get(name, default)

    @classmethod
    def from_environ(
        cls,
        pod_name: str,
        namespace: str,
        listen_hosts: list[str],
        environ: Mapping[str, str] | None = None,
        user_agent: str = "",
    ) -> PodContext:
        """Build from the process env as the runtime sets it (see ``python -m ... --help``).

        Outbound calls go through ``HTTP_PROXY`` (the sidecar) when set, else names are
        resolved with the JSON hosts map in ``ISTIOLAB_HOSTS``, or the file named by
        ``ISTIOLAB_HOSTS_FILE`` (re-read when it changes). The pod IP (the source
        address of outbound calls) is ``POD_IP``/``INSTANCE_IP``, else the proxy's host,
        else the first listen address.
        """
        env = dict(os.environ if environ is None else environ)
        proxy = env.get("HTTP_PROXY") or env.get("http_proxy") or None
        hosts: Mapping = json.loads(env["ISTIOLAB_HOSTS"]) if env.get("ISTIOLAB_HOSTS") else {}
        if env.get("ISTIOLAB_HOSTS_FILE"):  # the runtime's live map (Services come and go)
            hosts = HostsFile(env["ISTIOLAB_HOSTS_FILE"])
        pod_ip = env.get("POD_IP") or env.get("INSTANCE_IP") or ""
        if not pod_ip and proxy:
            pod_ip = urlsplit(proxy if "://" in proxy else f"http://{proxy}").hostname or ""
        if not pod_ip and listen_hosts:
            pod_ip = listen_hosts[0]
        if pod_ip in ("0.0.0.0", ""):
            pod_ip = ""
        session = Session(source_ip=pod_ip or None, proxy=proxy, hosts=hosts, namespace=namespace)
        session.user_agent = user_agent or session.user_agent
        return cls(pod_name, namespace, env, pod_ip, session)

"""The Prometheus addon (``istiolab up --addons prometheus``): a real Prometheus (Debian's
``prometheus`` package, or any ``prometheus`` on PATH) run by the mesh's supervisor.

It listens on ``<istiod ip>:9090`` (the local ``prometheus.istio-system:9090``), keeps its
data in the state directory's ``telemetry/prometheus/`` and scrapes every proxy's merged
endpoint ``<pod ip>:15020/stats/prometheus`` every 5 s, as Istio's ``kubernetes-pods`` job
does, with the pod's ``namespace``, ``pod`` and ``app`` as target labels. Targets come from
a file (``file_sd``) rewritten on every change of the mesh, so pods that come and go are
scraped without a restart.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

import yaml

from istiolab.errors import MeshError
from istiolab.local.model import Proxy
from istiolab.local.supervisor import ProcessSpec
from istiolab.local.telemetry.endpoints import METRICS_PATH, METRICS_PORT
from istiolab.names import PROMETHEUS_PORT, PROMETHEUS_SERVICE

NAME = PROMETHEUS_SERVICE
PORT = PROMETHEUS_PORT
SCRAPE_INTERVAL = "5s"
MISSING = (
    "the prometheus addon needs the `prometheus` binary: install Debian's package "
    "(apt-get install prometheus) or put prometheus on PATH"
)


def find_prometheus() -> str:
    found = os.environ.get("ISTIOLAB_PROMETHEUS") or shutil.which("prometheus")
    if not found:
        raise MeshError(MISSING)
    return found


def config(targets_file: Path) -> dict:
    return {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
        "scrape_configs": [
            {
                "job_name": "kubernetes-pods",
                "metrics_path": METRICS_PATH,
                "file_sd_configs": [{"files": [str(targets_file)], "refresh_interval": "5s"}],
            }
        ],
    }


def targets(proxies: Iterable[Proxy]) -> list[dict]:
    out = []
    for proxy in sorted(proxies, key=lambda p: p.pod.ip):
        pod = proxy.pod
        labels = {"namespace": pod.namespace, "pod": pod.name}
        if pod.labels.get("app"):
            labels["app"] = pod.labels["app"]
        out.append({"targets": [f"{pod.ip}:{METRICS_PORT}"], "labels": labels})
    return out


def _write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


class PrometheusAddon:
    def __init__(self, root: Path, ip: str, logs: Path) -> None:
        self.dir = root / "telemetry" / "prometheus"
        self.ip = ip
        self.logs = logs
        self.url = f"http://{ip}:{PORT}"

    @property
    def targets_file(self) -> Path:
        return self.dir / "targets.json"

    def write_targets(self, proxies: Iterable[Proxy]) -> None:
        _write(self.targets_file, json.dumps(targets(proxies), indent=1))

    def spec(self, binary: str, proxies: Iterable[Proxy]) -> ProcessSpec:
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        (self.dir / "data").mkdir(mode=0o700, exist_ok=True)
        self.write_targets(proxies)
        config_file = self.dir / "prometheus.yml"
        _write(config_file, yaml.safe_dump(config(self.targets_file), sort_keys=False))
        return ProcessSpec(
            name=f"istio-system/{NAME}",
            argv=[
                binary,
                f"--config.file={config_file}",
                f"--storage.tsdb.path={self.dir / 'data'}",
                f"--web.listen-address={self.ip}:{PORT}",
                "--storage.tsdb.retention.time=1d",
                "--log.level=warn",
            ],
            log=self.logs / f"istio-system.{NAME}.log",
            probe=self.ready,
            labels={"pod": NAME, "role": "addon"},
        )

    def ready(self) -> bool:
        conn = http.client.HTTPConnection(self.ip, PORT, timeout=2)
        try:
            conn.request("GET", "/-/ready")
            return conn.getresponse().status == 200
        except OSError:
            return False
        finally:
            conn.close()


LOCAL_VIEWS = {
    "kiali": "`istiolab graph` draws the service graph from the mesh's metrics",
    "jaeger": "`istiolab traces` prints the traces the mesh collected",
    "zipkin": "`istiolab traces` prints the traces the mesh collected",
    "grafana": "no local Grafana; with --addons prometheus, query Prometheus directly",
}


def parse_addons(text: str | None) -> str:
    """``--addons`` as a normalised comma list; only ``prometheus`` runs locally."""
    names = [n.strip().lower() for n in (text or "").split(",") if n.strip()]
    for name in names:
        if name == NAME:
            continue
        hint = LOCAL_VIEWS.get(name, "the local mesh runs: prometheus")
        raise MeshError(f"--addons {name}: not run by the local mesh ({hint})")
    return ",".join(dict.fromkeys(names))

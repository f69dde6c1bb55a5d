"""Memory per sidecar: RSS, its anonymous and file-backed parts, PSS and USS of every Envoy
sidecar of a running Bookinfo mesh, for the runtime's Envoy settings and for variants.

- RSS counts every resident page, including the Envoy binary's code pages, which all the
  Envoys on a host share (one copy in RAM however many sidecars run);
- PSS divides each shared page among the processes sharing it (what one more sidecar costs
  on a host with N sidecars);
- USS counts the pages only this process holds (what stopping it would give back).

Each variant starts its own in-process mesh (Bookinfo: 6 sidecars + gateway) on a random
127.<octet>, sends 100 requests through the gateway, waits 3 s, reads /proc, and stops it.

    .venv/bin/python benchmarks/bench_rss.py                 # the runtime's settings
    .venv/bin/python benchmarks/bench_rss.py --variants      # plus the experiments below
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _mesh import pick_octet

from istiolab.local import bootstrap as bootstrap_module
from istiolab.local import envoy as envoy_module
from istiolab.local.mesh import Mesh, default_samples
from istiolab.local.model import MeshSettings
from istiolab.local.state import StateDir

Patch = Callable[[], contextlib.AbstractContextManager]


def proc_kb(pid: int) -> dict[str, int]:
    """VmRSS, RssAnon, RssFile (status) and Pss, Private_* (smaps_rollup), in kB."""
    out: dict[str, int] = {}
    for source in ("status", "smaps_rollup"):
        for line in Path(f"/proc/{pid}/{source}").read_text().splitlines():
            key, _, rest = line.partition(":")
            parts = rest.split()
            if len(parts) == 2 and parts[1] == "kB":
                out[key] = int(parts[0])
    out["USS"] = out.get("Private_Clean", 0) + out.get("Private_Dirty", 0)
    return out


@contextlib.contextmanager
def measured_mesh(octet: int) -> Iterator[tuple[Mesh, str]]:
    host = f"127.{octet}.0.3"
    with tempfile.TemporaryDirectory(prefix="istiolab-rss-") as tmp:
        mesh = Mesh(StateDir(tmp), MeshSettings(octet=octet, gateway_host=host))
        mesh.start()
        try:
            mesh.apply(default_samples(["bookinfo"]))
            yield mesh, host
        finally:
            mesh.stop()


def measure(label: str, patch: Patch) -> dict[str, float]:
    with patch(), measured_mesh(pick_octet()) as (mesh, host):
        for _ in range(100):
            c = http.client.HTTPConnection(host, 8080, timeout=10)
            c.request("GET", "/productpage")
            assert c.getresponse().read()
            c.close()
        time.sleep(3)  # let allocators settle (a measurement pause, not a readiness wait)
        pids = [
            m.pid
            for pod in mesh.pods()
            for name, m in ((n, mesh.supervisor.get(n)) for n in pod["pids"])
            if name.endswith("/istio-proxy") and m is not None
        ]
        rows = [proc_kb(pid) for pid in pids]
    keys = ("VmRSS", "RssAnon", "RssFile", "Pss", "USS")
    means = {k: statistics.fmean(r[k] for r in rows) / 1024 for k in keys}
    shown = " ".join(f"{k}={v:.1f}MB" for k, v in means.items())
    print(f"{label:34} n={len(rows)} {shown}", flush=True)
    return means


@contextlib.contextmanager
def nothing():
    yield


@contextlib.contextmanager
def env(**values: str):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def bootstrap_extra(**fields):
    original = bootstrap_module.bootstrap

    def patched(proxy, settings):
        return {**original(proxy, settings), **fields}

    bootstrap_module.bootstrap = patched
    try:
        yield
    finally:
        bootstrap_module.bootstrap = original


@contextlib.contextmanager
def extra_flags(*flags: str):
    original = envoy_module.envoy_argv

    def patched(*args, **kwargs):
        return [*original(*args, **kwargs), *flags]

    envoy_module.envoy_argv = patched
    try:
        yield
    finally:
        envoy_module.envoy_argv = original


VARIANTS: dict[str, Patch] = {
    "tcmalloc: no hugepage allocator": lambda: env(TCMALLOC_HPAA_CONTROL="0"),
    "memory_allocator_manager 1s": lambda: bootstrap_extra(
        memory_allocator_manager={"bytes_to_release": 1 << 20, "memory_release_interval": "1s"}
    ),
    "--disable-extensions (wasm, lua)": lambda: extra_flags(
        "--disable-extensions",
        "envoy.filters.http.wasm,envoy.filters.network.wasm,envoy.wasm.runtime.v8,"
        "envoy.filters.http.lua",
    ),
    "stats: reject all (not usable)": lambda: bootstrap_extra(
        stats_config={"use_all_default_tags": False, "stats_matcher": {"reject_all": True}}
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--variants", action="store_true", help="also measure the experiments")
    args = parser.parse_args()
    measure("runtime settings", nothing)
    if args.variants:
        for label, patch in VARIANTS.items():
            measure(label, patch)


if __name__ == "__main__":
    main()

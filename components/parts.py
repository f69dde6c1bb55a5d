"""Which component deploys which object of the environment: a pure split of
`istiolab.env.environment_files(spec)`, so the stack deploys exactly what `istiolab render`
writes (same builders, same parameters, same preset replacements), each part with its
component's ordering.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from istiolab.env import EnvSpec, environment_files
from istiolab.manifests import ISTIO_SYSTEM
from istiolab.manifests.samples import BOOKINFO_SERVICES


@dataclass
class Parts:
    mesh: list[dict] = field(default_factory=list)  # the istio-system Namespace
    bookinfo: list[dict] = field(default_factory=list)
    samples: list[dict] = field(default_factory=list)
    addons: list[dict] = field(default_factory=list)
    security: list[dict] = field(default_factory=list)

    def all(self) -> list[dict]:
        return self.mesh + self.bookinfo + self.samples + self.addons + self.security


def _short_host(obj: dict) -> str:
    spec = obj.get("spec") or {}
    host = spec.get("host") or (spec.get("hosts") or [""])[0]
    return str(host).split(".")[0]


def split_environment(spec: EnvSpec) -> Parts:
    parts = Parts()
    has_bookinfo = "bookinfo" in spec.apps.samples
    has_samples = any(s != "bookinfo" for s in spec.apps.samples)
    apps = "bookinfo" if has_bookinfo else "samples"  # who creates the apps namespace

    def by_host(obj: dict) -> str:
        if has_bookinfo and _short_host(obj) in BOOKINFO_SERVICES:
            return "bookinfo"
        return "samples" if has_samples else apps

    for file_name, objs in environment_files(spec):
        number = int(file_name.split("-", 1)[0])
        for obj in objs:
            if number == 0:  # namespaces
                name = obj["metadata"]["name"]
                if name == spec.apps.namespace:
                    target = apps
                elif name == ISTIO_SYSTEM:
                    target = "mesh"
                else:
                    target = "addons"
            elif 10 <= number < 20:
                target = "bookinfo" if file_name.endswith("-bookinfo.yaml") else "samples"
            elif 20 <= number < 50:
                target = "addons"
            elif number == 50:
                target = "bookinfo"
            elif number in (52, 54):
                target = "security"
            else:  # 51 destination rules, 53 traffic presets: follow the service they address
                target = by_host(obj)
            getattr(parts, target).append(obj)
    return parts

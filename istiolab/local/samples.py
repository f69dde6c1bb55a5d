"""The samples `istiolab up --samples` deploys on the local mesh (Bookinfo by default)."""

from __future__ import annotations

from collections.abc import Iterable

from istiolab.errors import ParameterError
from istiolab.names import SAMPLES


def default_samples(samples: Iterable[str], namespace: str = "default") -> list[dict]:
    """The objects `up` deploys: the namespace (labelled for injection) and the samples."""
    from istiolab import manifests as m

    chosen = [s.strip() for s in samples if s.strip() and s.strip() != "none"]
    bad = [s for s in chosen if s not in SAMPLES]
    if bad:
        raise ParameterError("--samples", ",".join(bad), "any of " + ", ".join(SAMPLES))
    out: list[dict] = [m.namespace(namespace, injection=True)]
    for s in chosen:
        out += getattr(m, s)(namespace)
        if s == "bookinfo":
            out += m.bookinfo_gateway(namespace)
    return out

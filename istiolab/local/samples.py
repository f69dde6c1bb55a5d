"""What `istiolab up --samples ... --set ...` deploys on the local mesh: the environment spec
with those samples (istiolab.env.local_spec) and settings, as the same objects
`istiolab render` writes for that spec."""

from __future__ import annotations

from collections.abc import Iterable

from istiolab.env import SettingError, apply_sets, environment_objects, local_spec
from istiolab.errors import ParameterError
from istiolab.names import SAMPLES


def default_samples(
    samples: Iterable[str], namespace: str = "default", sets: Iterable[str] = ()
) -> list[dict]:
    """The objects `up` deploys: the namespace (labelled for injection), the samples, the
    Bookinfo gateway and the DestinationRules of the spec, changed by `sets` (`--set`)."""
    chosen = [s.strip() for s in samples if s.strip() and s.strip() != "none"]
    bad = [s for s in chosen if s not in SAMPLES]
    if bad:
        raise ParameterError("--samples", ",".join(bad), "any of " + ", ".join(SAMPLES))
    try:
        spec = local_spec(tuple(dict.fromkeys(chosen)), namespace)
    except SettingError as exc:
        raise exc.named(exc.path, "--samples: ") from None
    return environment_objects(apply_sets(spec, sets))

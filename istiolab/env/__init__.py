"""istiolab.env: ONE typed spec of what an environment holds (mesh settings, samples, addons,
security and traffic presets), its two syntaxes (stack files, `--set`) and the objects it
stands for. Pure: `istiolab up`, `istiolab render` and the Pulumi program all read it.
"""

from __future__ import annotations

from istiolab.env.compose import environment_files, environment_objects
from istiolab.env.schema import SettingError, UnknownSetting
from istiolab.env.sets import apply_sets, set_keys
from istiolab.env.spec import (
    SECTIONS,
    AddonsSpec,
    AppsSpec,
    EnvSpec,
    MeshSpec,
    SecuritySpec,
    from_sections,
    local_spec,
)

__all__ = [
    "SECTIONS",
    "AddonsSpec",
    "AppsSpec",
    "EnvSpec",
    "MeshSpec",
    "SecuritySpec",
    "SettingError",
    "UnknownSetting",
    "apply_sets",
    "environment_files",
    "environment_objects",
    "from_sections",
    "local_spec",
    "set_keys",
]

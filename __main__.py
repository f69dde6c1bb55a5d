"""istiolab's Pulumi program: `pulumi up` stands up the lab the selected stack describes.

The stack config (Pulumi.<stack>.yaml, schema in istiolab/stack_config.py) is read and
validated here, once; then components/program.py checks sizing and composes
cluster -> mesh -> samples -> addons -> security -> load generator. A config or sizing error
stops the program before any resource is registered, as one clean message (pulumi.RunError).
"""

import pulumi

from components.program import build
from istiolab.errors import IstiolabError
from istiolab.stack_config import from_pulumi

try:
    outputs = build(from_pulumi())
except IstiolabError as exc:
    raise pulumi.RunError(str(exc)) from None

for name, value in outputs.items():
    pulumi.export(name, value)

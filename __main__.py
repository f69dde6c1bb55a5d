"""istiolab's Pulumi program: `pulumi up` stands up the lab the selected stack describes.

The stack config (Pulumi.<stack>.yaml, schema in istiolab/stack_config.py) is read and
validated here, once; then components/program.py checks sizing and composes
cluster -> mesh -> samples -> addons -> security -> load generator.
"""

import pulumi

from components.program import build
from istiolab.stack_config import from_pulumi

for _name, _value in build(from_pulumi()).items():
    pulumi.export(_name, _value)

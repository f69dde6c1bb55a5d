"""The lab engine: the lab format (:mod:`.format`), the check vocabulary (:mod:`.checks`,
:mod:`.matchers`, :mod:`.observe`), progress (:mod:`.progress`) as the pure core, and the
adapters that measure checks through a backend (:mod:`.runner`) and run a lab's lifecycle
and self-test (:mod:`.session`). Lab content lives in the repository's ``labs/`` folder,
shipped with the package as ``istiolab/labs/library``."""

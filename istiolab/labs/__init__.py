"""The lab engine. Pure core: the lab format (:mod:`.format`), the check vocabulary
(:mod:`.checks`), normalised field matchers (:mod:`.matchers`), judging a response
(:mod:`.measure`), reading Envoy's and the apps' texts (:mod:`.observe`) and progress
(:mod:`.progress`). Adapters, through :class:`istiolab.backends.Backend` only: the runner
(:mod:`.runner`, with the probes of :mod:`.traffic` and :mod:`.proxies`, HTTPS in
:mod:`.https`) and a lab's lifecycle and self-test (:mod:`.session`). Lab content lives in the
repository's ``labs/`` folder, shipped with the package as ``istiolab/labs/library``."""

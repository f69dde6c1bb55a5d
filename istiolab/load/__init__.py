"""The load-test engine: scenarios with expectations, judged on one result format.

Pure core (no I/O, no Locust): :mod:`~istiolab.load.expect` (the expectation language),
:mod:`~istiolab.load.result` (the result format), :mod:`~istiolab.load.convert` (fortio,
Nighthawk and h2load output in, fortio JSON out), :mod:`~istiolab.load.intervals`
(Wilson intervals, percentiles), :mod:`~istiolab.load.search` (--find-max-rps).

Adapters on top: :mod:`~istiolab.load.scenario` and :mod:`~istiolab.load.user` (Locust
files and their users), :mod:`~istiolab.load.runner` (Locust's Python API, through
:class:`istiolab.backends.Backend`), :mod:`~istiolab.load.probes` (Envoy counters and
access-log flags), :mod:`~istiolab.load.report` and :mod:`~istiolab.load.live` (Rich tables,
matplotlib plots, report files). Importing the adapters that import Locust monkey-patches
the process for gevent; the core never does.
"""

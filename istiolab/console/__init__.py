"""The workshop console: one local web page for the learner and the instructor.

Pages: Labs (instructions, live checks, hints, solve/skip, reset), Graph (the service graph,
live), Traces (recent traces, a trace's spans as a timeline), Load runs (verdicts, plots,
Locust's report, compare two runs) and Mesh (pods, proxies, config objects with their status
and analyzer findings). Served on loopback only, behind a per-session token, against the local
mesh or a cluster (through :mod:`istiolab.backends`). Live parts are pushed with Server-Sent
Events. Modules: :mod:`.auth` (token), :mod:`.sources` (the data each page shows),
:mod:`.app` (routes and pages), :mod:`.server` (running it).
"""

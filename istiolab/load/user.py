"""``MeshUser``: a Locust user whose requests can leave from a mesh workload.

Scenarios (``loadtests/NAME.py``) subclass it and call ``self.client.get("/path")`` as with
Locust's ``HttpUser``. Run by plain ``locust -f loadtests/NAME.py`` it talks to ``--host``
directly. Run by ``istiolab load NAME --from fortio`` it leaves from that pod as the pod's own
app would: bound to the pod's address, through its sidecar's outbound listener (absolute-form
requests routed by ``Host``), so the client-side circuit breaker, retries and outlier
detection of the sidecar apply. Requests go through :class:`istiolab.workloads.client.Session`
(keep-alive, one connection per user, like fortio's ``-c``), cooperative under gevent.

Each request is reported to Locust (its stats, HTML report, ``--csv``) and to the run's
:class:`Recorder` (exact latencies in microseconds, status codes, timestamps).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from locust import User
from locust.exception import StopUser

from istiolab.load.result import NO_RESPONSE, Sample
from istiolab.workloads.client import Session

USER_AGENT = "istiolab-load"


@dataclass(frozen=True)
class Egress:
    """Where requests leave from: the pod's app address and its sidecar (None: direct)."""

    source_ip: str | None = None
    proxy: str | None = None  # http://<pod ip>:15001
    namespace: str = ""
    hosts: Mapping[str, object] | None = None  # name resolution without a sidecar
    label: str = ""  # WORKLOAD.NS, for reports


@dataclass
class Recorder:
    """Every sample of one run, a request budget (``--requests``) and the run's tag."""

    run_id: str = "run"
    budget: int | None = None  # requests still allowed; None: unlimited
    samples: list[Sample] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    gate: object | None = None  # waited on before each request: Rounds (lockstep), Pacer (rate)

    in_flight: int = 0

    def take(self) -> bool:
        """May one more request be sent? (Counts it as in flight.)"""
        if self.budget is not None:
            if self.budget <= 0:
                return False
            self.budget -= 1
        self.in_flight += 1
        return True

    def drain(self, timeout: float = 30.0) -> None:
        """Refuse new requests and wait (cooperatively) until none is on the wire, so the
        samples match what the proxies counted."""
        import gevent

        self.budget = 0
        deadline = time.perf_counter() + timeout
        while self.in_flight > 0 and time.perf_counter() < deadline:
            gevent.sleep(0.01)


class MeshClient:
    """``get``/``post``/``request`` as in Locust's HttpSession, through the user's egress."""

    def __init__(self, user: MeshUser) -> None:
        self.user = user
        egress: Egress = user.egress or Egress()
        self.base = (user.host or "").rstrip("/")
        self.session = Session(
            source_ip=egress.source_ip,
            proxy=egress.proxy,
            hosts=egress.hosts,  # type: ignore[arg-type]
            namespace=egress.namespace,
        )
        recorder = user.recorder or Recorder()
        self.recorder = recorder
        self.session.user_agent = f"{USER_AGENT}/{recorder.run_id}"

    def request(
        self,
        method: str,
        path: str,
        *,
        name: str | None = None,
        headers: Mapping[str, str] | None = None,
        data: bytes | str | None = None,
        timeout: float = 30.0,
        ok: tuple[int, ...] = (),
    ):
        """Send one request; a code in ``ok`` (or any 2xx/3xx) is a Locust success."""
        rec = self.recorder
        if not rec.take():
            raise StopUser()
        if rec.gate is not None:
            try:
                rec.gate.wait()  # type: ignore[attr-defined]
            except BaseException:
                rec.in_flight -= 1
                raise
        url = path if "://" in path else f"{self.base}{path}"
        label = name or f"{method.upper()} {path}"
        try:
            sent = time.perf_counter()
            resp = self.session.request(
                url, method=method, headers=headers, data=data, timeout=timeout
            )
            latency = time.perf_counter() - sent
            code = resp.status if resp.error is None else NO_RESPONSE
            rec.samples.append(Sample(sent - rec.started, label, code, latency, resp.error or ""))
        finally:
            rec.in_flight -= 1
        failure = None
        if resp.error is not None:
            failure = ConnectionError(f"{resp.error}: {resp.describe()}")
        elif not (200 <= code < 400 or code in ok):
            failure = RuntimeError(f"HTTP {code}")
        self.user.environment.events.request.fire(
            request_type=method.upper(),
            name=label.removeprefix(f"{method.upper()} "),  # Locust shows the method apart
            response_time=latency * 1000.0,
            response_length=len(resp.body),
            response=resp,
            context={"status_code": code},
            exception=failure,
            start_time=time.time() - latency,
            url=url,
        )
        return resp

    def get(self, path: str, **kw):
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw):
        return self.request("POST", path, **kw)

    def close(self) -> None:
        self.session.close()


class MeshUser(User):
    """Base class of the scenarios' users (abstract: Locust does not run it alone)."""

    abstract = True
    egress: Egress | None = None  # set by `istiolab load --from`
    recorder: Recorder | None = None  # set by `istiolab load`

    def __init__(self, environment) -> None:
        super().__init__(environment)
        self.client = MeshClient(self)

    def on_stop(self) -> None:
        self.client.close()

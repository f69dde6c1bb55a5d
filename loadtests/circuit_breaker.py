"""Circuit breaking: httpbin /get from the fortio pod's sidecar, with seed 003's
DestinationRule (maxConnections 1, http1MaxPendingRequests 1, maxRequestsPerConnection 1).

Three users send in lockstep rounds, so every round offers three requests at once to a pool
of one connection and one pending slot: the trip is certain. The verdict compares Envoy's
counters exactly: every 503 is one pending overflow (response flag UO in the sidecar's
access log), and no host is ejected by the breaker (seed 003 also sets outlierDetection with
consecutiveErrors 1: a local overflow must not count as an upstream error).

    istiolab apply -f circuit-breaker.yaml
    istiolab load circuit-breaker --from fortio --users 3 --requests 30
    locust -f loadtests/circuit_breaker.py --headless -u 3 -t 10s   # plain Locust, direct
"""

from locust import constant, task

from istiolab.load.user import MeshUser

TARGET = "http://httpbin:8000"
FROM = "fortio"
USERS = 3
SPAWN_RATE = 3
REQUESTS = 30
LOCKSTEP = True

EXPECT = """
share(503) between 0.2 and 0.8                      (tolerance 99%, retries 3)
share(200) + share(503) == 1
flag(UO) == count(503)
stat(upstream_rq_pending_overflow) grew == count(503)
stat(outlier_detection.ejections_enforced_total) grew == 0
p99 < 2s
"""


class Fortio(MeshUser):
    host = TARGET
    wait_time = constant(0)

    @task
    def get(self) -> None:
        self.client.get("/get", ok=(503,))

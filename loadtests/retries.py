"""Retries: httpbin's /status/200,503 answers 503 half of the time; with the VirtualService
of loadtests/retries.yaml (attempts 3, retryOn 5xx) the fortio pod's sidecar retries, so a
call fails only when all four tries do (p = 1/16). Every failure the client sees has response
flag URX (retry limit exceeded) and came after three retries.

    istiolab apply -f loadtests/retries.yaml
    istiolab load retries --from fortio
"""

from locust import constant, task

from istiolab.load.user import MeshUser

TARGET = "http://httpbin:8000"
FROM = "fortio"
USERS = 4
SPAWN_RATE = 4
REQUESTS = 200
FORTIO_PATH = "/status/200,503"  # what --engine fortio requests

EXPECT = """
share(200) >= 0.85                                  (tolerance 99%, retries 2)
share(200) + share(503) == 1
stat(upstream_rq_retry) grew >= 3 * count(503)
stat(upstream_rq_retry) grew >= 0.25 * requests
flag(URX) == count(503)
"""


class Fortio(MeshUser):
    host = TARGET
    wait_time = constant(0)

    @task
    def flaky(self) -> None:
        self.client.get("/status/200,503", name="GET /status/200,503", ok=(503,))

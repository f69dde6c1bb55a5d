"""Fault injection: the VirtualService of loadtests/fault_injection.yaml delays half of the
requests to httpbin by 200ms. The latency distribution shows both modes: the fast fifth of
the requests is far below the delay, the slow fifth at or above it, and nothing fails.

    istiolab apply -f loadtests/fault_injection.yaml
    istiolab load fault-injection --from sleep
"""

from locust import constant, task

from istiolab.load.user import MeshUser

TARGET = "http://httpbin:8000"
FROM = "sleep"
USERS = 4
SPAWN_RATE = 4
REQUESTS = 40

EXPECT = """
p20 < 100ms
p80 >= 200ms
max < 2s
share(2xx) == 1
flag(DI) >= 0.2 * requests
flag(DI) <= 0.8 * requests
"""


class Sleep(MeshUser):
    host = TARGET
    wait_time = constant(0)

    @task
    def get(self) -> None:
        self.client.get("/get")

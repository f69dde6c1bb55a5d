"""Local rate limit: loadtests/rate_limit.yaml has httpbin's sidecar admit about 10 requests a
second (a token bucket of 5, one token back every 100 ms) and answer the rest 429 itself.
Offered evenly below that rate, nothing is limited; above it, the excess is; `--find-max-rps`
finds the limit by doubling the rate, then bisecting.

    istiolab apply -f loadtests/rate_limit.yaml
    istiolab load rate-limit --rate 5            # passes: no 429
    istiolab load rate-limit --rate 20           # fails: about half are 429
    istiolab load rate-limit --find-max-rps      # max rps in [10.6, 11.2) or so
"""

from locust import constant, task

from istiolab.load.user import MeshUser

TARGET = "http://httpbin:8000"
FROM = "sleep"
USERS = 4
SPAWN_RATE = 4
DURATION = 4  # seconds: over 4 s the bucket admits 5 + 40 requests, i.e. 11.25 rps

EXPECT = """
share(429) == 0
"""


class Client(MeshUser):
    host = TARGET
    wait_time = constant(0)

    @task
    def get(self) -> None:
        self.client.get("/get", ok=(429,))

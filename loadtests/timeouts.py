"""Timeouts: the route of loadtests/timeouts.yaml gives up after 0.5s. httpbin's /delay/1
then always ends in 504 with response flag UT after about half a second, counted by the
cluster's upstream_rq_timeout, while /get is untouched.

    istiolab apply -f loadtests/timeouts.yaml
    istiolab load timeouts --from sleep
"""

from locust import constant, task

from istiolab.load.user import MeshUser

TARGET = "http://httpbin:8000"
FROM = "sleep"
USERS = 2
SPAWN_RATE = 2
REQUESTS = 16

EXPECT = """
in "GET /delay/1": share(504) == 1
in "GET /delay/1": p50 between 450ms and 990ms
in "GET /get": share(200) == 1
flag(UT) == count(504)
stat(upstream_rq_timeout) grew == count(504)
"""


class Sleep(MeshUser):
    host = TARGET
    wait_time = constant(0)

    @task
    def slow(self) -> None:
        self.client.get("/delay/1", ok=(504,))

    @task
    def fast(self) -> None:
        self.client.get("/get")

"""Outlier detection: two httpbin replicas behind one Service, one of them really broken
(loadtests/outlier_detection.yaml). The fortio pod's sidecar ejects the failing replica after
two consecutive 5xx, so nearly every request succeeds on the healthy one; after
baseEjectionTime (1s) the replica is let back in, fails again and is ejected again, which is
what a second enforced ejection within the run proves (traffic recovered, then re-judged).

    istiolab apply -f loadtests/outlier_detection.yaml
    istiolab load outlier-detection --from fortio
"""

from locust import constant, task

from istiolab.load.user import MeshUser

TARGET = "http://httpbin:8000"
FROM = "fortio"
USERS = 2
SPAWN_RATE = 2
DURATION = 5

EXPECT = """
stat(outlier_detection.ejections_enforced_total) grew >= 2
stat(outlier_detection.ejections_consecutive_5xx) grew >= 1
share(200) >= 0.75
share(200) + share(503) == 1
count(503) >= 2
"""


class Fortio(MeshUser):
    host = TARGET
    wait_time = constant(0.005)

    @task
    def get(self) -> None:
        self.client.get("/get", ok=(503,))

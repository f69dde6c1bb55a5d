"""Bookinfo browse mix through the ingress gateway: anonymous readers (product page, static
assets, the details and reviews APIs) and logged-in readers (log in as a named user, read the
page with their session cookie, log out), as Locust user classes with weights 3:1. Nothing
may fail, and the page stays responsive.

    istiolab load bookinfo-mix --users 20 --duration 30s
"""

import random

from locust import between, task

from istiolab.load.user import MeshUser

TARGET = "gateway"  # the ingress gateway's URL (istiolab gateway-url)
USERS = 20
SPAWN_RATE = 10
DURATION = 30
STATS = r"^cluster\.outbound\|9080\|\|productpage\.default\.svc\.cluster\.local\."

EXPECT = """
share(5xx) == 0
share(error) == 0
each: share(5xx) == 0
in "GET /productpage": p99 < 3s
stat(upstream_rq_5xx) grew == 0
stat(upstream_rq_completed) grew == requests
"""


class Anonymous(MeshUser):
    weight = 3
    wait_time = between(0.1, 0.5)

    @task(5)
    def page(self) -> None:
        self.client.get("/productpage")

    @task(1)
    def api(self) -> None:
        self.client.get("/api/v1/products/0/reviews")
        self.client.get("/api/v1/products/0/ratings")


class LoggedIn(MeshUser):
    weight = 1
    wait_time = between(0.1, 0.5)

    def on_start(self) -> None:
        user = random.choice(["jason", "alice", "bob"])
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        resp = self.client.post("/login", data=f"username={user}&passwd=x", headers=form)
        cookie = resp.headers.get("set-cookie", "").split(";", 1)[0]
        self.cookie = {"Cookie": cookie} if cookie else {}

    @task(4)
    def page(self) -> None:
        self.client.get("/productpage", headers=self.cookie, name="GET /productpage (logged in)")

    @task(1)
    def relogin(self) -> None:
        self.client.get("/logout", name="GET /logout")
        self.on_start()

"""Bookinfo's details, reviews v1/v2/v3 and ratings, and what all four services share.

Behaviours reproduced from the upstream sample (written anew here):

- productpage (`istiolab.workloads.productpage`) uses the timeouts and texts defined here.
- reviews v1 never calls ratings; v2 (black stars) calls it with a 10 s timeout, v3 (red)
  with 2.5 s; a failed call still answers 200 with a per-review
  ``"Ratings service is currently unavailable"``. reviews names its pod (``podname``).
- ratings answers ``{"id": 0, "ratings": {"Reviewer1": 5, "Reviewer2": 4}}``.
"""

from __future__ import annotations

import json
import random
import re
import sys
import threading
import time

from istiolab.workloads.client import Response as Upstream
from istiolab.workloads.context import PodContext
from istiolab.workloads.server import App, Request, Response

DETAILS_TIMEOUT = 3.0
REVIEWS_TIMEOUT = 3.0
REVIEWS_TRIES = 2
RATINGS_TIMEOUT_BLACK = 10.0  # reviews v2 (black stars)
RATINGS_TIMEOUT_OTHER = 2.5  # reviews v3 (red stars) and any other color
RATINGS_DELAY_V_DELAYED = 7.0  # ratings SERVICE_VERSION=v-delayed

RATINGS_UNAVAILABLE = "Ratings service is currently unavailable"
DETAILS_UNAVAILABLE = "Sorry, product details are currently unavailable for this book."
REVIEWS_UNAVAILABLE = "Sorry, product reviews are currently unavailable for this book."
RATINGS_UNAVAILABLE_PP = "Sorry, product ratings are currently unavailable for this book."

# Headers an app copies from its inbound request to its outbound calls (tracing, context).
FORWARD_HEADERS = (
    "x-request-id",
    "x-ot-span-context",
    "x-datadog-trace-id",
    "x-datadog-parent-id",
    "x-datadog-sampling-priority",
    "traceparent",
    "tracestate",
    "x-cloud-trace-context",
    "grpc-trace-bin",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-parentspanid",
    "x-b3-sampled",
    "x-b3-flags",
    "b3",
    "sw8",
    "end-user",
    "user-agent",
    "cookie",
    "authorization",
    "jwt",
)
B3_HEADERS = ("x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid", "x-b3-sampled", "x-b3-flags")

PRODUCTS = [
    {
        "id": 0,
        "title": "The Comedy of Errors",
        "descriptionHtml": (
            '<a href="https://en.wikipedia.org/wiki/The_Comedy_of_Errors">Wikipedia Summary</a>:'
            " The Comedy of Errors is one of <b>William Shakespeare's</b> early plays. It is"
            " his shortest and one of his most farcical comedies, with a major part of the"
            " humour coming from slapstick and mistaken identity, in addition to puns and"
            " word play."
        ),
    }
]

REVIEWS = (
    (
        "Reviewer1",
        "An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!",
    ),
    (
        "Reviewer2",
        "Absolutely fun and entertaining."
        " The play lacks thematic depth when compared to other plays by Shakespeare.",
    ),
)


def service_url(ctx: PodContext, service: str, port: str = "9080") -> str:
    """``http://<NAME_HOSTNAME or name><.SERVICES_DOMAIN>:<port>`` as the samples build it."""
    host = ctx.getenv(f"{service.upper()}_HOSTNAME") or service
    domain = ctx.getenv("SERVICES_DOMAIN")
    return f"http://{host}{'.' + domain if domain else ''}:{port}"


def forward_headers(request: Request, names: tuple[str, ...] = FORWARD_HEADERS) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in names:
        value = request.headers.get(name)
        if value is not None:
            out[name] = value
    return out


def json_response(data: object, status: int = 200) -> Response:
    return Response(status, json.dumps(data).encode(), "application/json")


def get_json(resp: Upstream) -> object | None:
    try:
        return resp.json()
    except ValueError:
        return None


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- details


def book_details(product_id: int) -> dict:
    return {
        "id": product_id,
        "author": "William Shakespeare",
        "year": 1595,
        "type": "paperback",
        "pages": 200,
        "publisher": "PublisherA",
        "language": "English",
        "ISBN-10": "1234567890",
        "ISBN-13": "123-1234567890",
    }


def details_app(ctx: PodContext) -> App:
    def app(request: Request) -> Response:
        path = request.path
        if path == "/health":
            return json_response({"status": "Details is healthy"})
        if path == "/details" or path.startswith("/details/"):
            last = path.rstrip("/").split("/")[-1]
            try:
                product_id = int(last)
            except ValueError:
                return json_response({"error": "please provide numeric product id"}, 400)
            return json_response(book_details(product_id))
        return Response.text("Not Found", 404)

    return app


# ---------------------------------------------------------------- reviews


def reviews_app(ctx: PodContext, version: str) -> App:
    image_defaults = {"v1": ("false", "black"), "v2": ("true", "black"), "v3": ("true", "red")}
    enabled_default, color_default = image_defaults.get(version, ("false", "black"))
    ratings_enabled = (ctx.getenv("ENABLE_RATINGS") or enabled_default).lower() == "true"
    star_color = ctx.getenv("STAR_COLOR") or color_default
    timeout = RATINGS_TIMEOUT_BLACK if star_color == "black" else RATINGS_TIMEOUT_OTHER
    ratings_url = service_url(ctx, "ratings", ctx.getenv("RATINGS_SERVICE_PORT") or "9080")
    podname = ctx.getenv("HOSTNAME") or ctx.pod_name
    clustername = ctx.getenv("CLUSTER_NAME") or "null"
    session = ctx.session

    def ratings_for(product_id: int, request: Request) -> dict | None:
        headers = forward_headers(request)
        headers.setdefault("accept", "application/json")
        resp = session.request(
            f"{ratings_url}/ratings/{product_id}", headers=headers, timeout=timeout
        )
        if resp.status == 200:
            data = get_json(resp)
            return data if isinstance(data, dict) else None
        if resp.error:
            _log(f"Error: unable to contact {ratings_url}/ratings got exception {resp.error}")
        else:
            _log(f"Error: unable to contact {ratings_url}/ratings got status of {resp.status}")
        return None

    def app(request: Request) -> Response:
        if request.path == "/health":
            return json_response({"status": "Reviews is healthy"})
        match = re.fullmatch(r"/reviews/(-?\d+)", request.path)
        if not match:
            return Response.text("Not Found", 404)
        product_id = int(match.group(1))
        stars: dict[str, int] = {}
        if ratings_enabled:
            data = ratings_for(product_id, request) or {}
            ratings = data.get("ratings")
            if isinstance(ratings, dict):
                stars = {k: v for k, v in ratings.items() if isinstance(v, int)}
        reviews = []
        for reviewer, text in REVIEWS:
            review: dict = {"reviewer": reviewer, "text": text}
            if ratings_enabled:
                if reviewer in stars:
                    review["rating"] = {"stars": stars[reviewer], "color": star_color}
                else:
                    review["rating"] = {"error": RATINGS_UNAVAILABLE}
            reviews.append(review)
        body = {
            "id": str(product_id),
            "podname": podname,
            "clustername": clustername,
            "reviews": reviews,
        }
        return json_response(body)

    return app


# ---------------------------------------------------------------- ratings


def ratings_app(ctx: PodContext) -> App:
    added: dict[int, dict] = {}
    lock = threading.Lock()
    mode = ctx.getenv("SERVICE_VERSION") or ""
    state = {"unavailable": False, "healthy": True, "since": time.monotonic()}
    period = {"v-unavailable": 60.0, "v-unhealthy": 900.0}.get(mode)

    def toggled() -> None:
        if period is None:
            return
        flips = int((time.monotonic() - state["since"]) // period)
        state["unavailable"] = flips % 2 == 1
        if mode == "v-unhealthy":
            state["healthy"] = not state["unavailable"]

    def local(product_id: int) -> dict:
        with lock:
            if product_id in added:
                return added[product_id]
        return {"id": product_id, "ratings": {"Reviewer1": 5, "Reviewer2": 4}}

    def compact(data: object, status: int = 200) -> Response:
        body = json.dumps(data, separators=(",", ":")).encode()
        return Response(status, body, "application/json")

    def app(request: Request) -> Response:
        toggled()
        if request.path == "/health" and request.method == "GET":
            if state["healthy"]:
                return compact({"status": "Ratings is healthy"})
            return compact({"status": "Ratings is not healthy"}, 500)
        if re.match(r"^/ratings/[0-9]*", request.path):
            last = request.path.split("/")[-1]
            match = re.match(r"\s*[+-]?\d+", last)
            if not match:
                return compact({"error": "please provide numeric product ID"}, 400)
            product_id = int(match.group(0))
            if request.method == "POST":
                try:
                    ratings = json.loads(request.body)
                except ValueError:
                    return compact({"error": "please provide valid ratings JSON"}, 400)
                with lock:
                    added[product_id] = {"id": product_id, "ratings": ratings}
                return compact(local(product_id))
            if request.method != "GET":
                return Response.text("Not Found", 404)
            if mode == "v-faulty" and random.random() <= 0.5:
                return compact({"error": "Service unavailable"}, 503)
            if mode == "v-delayed" and random.random() <= 0.5:
                time.sleep(RATINGS_DELAY_V_DELAYED)
            if mode in ("v-unavailable", "v-unhealthy") and state["unavailable"]:
                return compact({"error": "Service unavailable"}, 503)
            return compact(local(product_id))
        return Response.text("Not Found", 404)

    return app

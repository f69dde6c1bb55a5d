"""Bookinfo's productpage: the page, its sign-in session and its calls to details and reviews.

productpage calls ``details:9080/details/0`` once and ``reviews:9080/reviews/0`` up to twice
(the deliberate double try the fault-injection task shows), each with a 3 s timeout. It
forwards the tracing and context headers, and ``end-user: <name>`` once a user signed in
(``POST /login`` with form field ``username``; a signed ``session`` cookie, like Flask's).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from urllib.parse import parse_qs

from istiolab.workloads import productpage_html as pages
from istiolab.workloads.bookinfo import (
    B3_HEADERS,
    DETAILS_TIMEOUT,
    DETAILS_UNAVAILABLE,
    FORWARD_HEADERS,
    PRODUCTS,
    RATINGS_UNAVAILABLE_PP,
    REVIEWS_TIMEOUT,
    REVIEWS_TRIES,
    REVIEWS_UNAVAILABLE,
    forward_headers,
    get_json,
    json_response,
    service_url,
)
from istiolab.workloads.context import PodContext
from istiolab.workloads.server import App, Request, Response

_SESSION_KEY = b"istiolab-bookinfo-productpage"  # shared by every replica, like upstream


def _sign(payload: bytes) -> str:
    return hmac.new(_SESSION_KEY, payload, hashlib.sha256).hexdigest()[:32]


def encode_session(data: dict) -> str:
    payload = base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode())
    return f"{payload.decode().rstrip('=')}.{_sign(payload.rstrip(b'='))}"


def decode_session(cookie: str) -> dict:
    payload, _, signature = cookie.partition(".")
    if not payload or not hmac.compare_digest(_sign(payload.encode()), signature):
        return {}
    try:
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _session_user(request: Request) -> str:
    cookies = request.cookies()
    user = decode_session(cookies.get("session", "")).get("user")
    return str(user) if user else ""


def _trace_headers(request: Request) -> dict[str, str]:
    """b3 propagation: the incoming span's ids verbatim, or a fresh sampled trace."""
    if request.headers.get("x-b3-traceid") and request.headers.get("x-b3-spanid"):
        out = forward_headers(request, B3_HEADERS)
        out.setdefault("x-b3-sampled", "1")
        return out
    trace_id = secrets.token_hex(8)
    return {"x-b3-traceid": trace_id, "x-b3-spanid": trace_id, "x-b3-sampled": "1"}


def productpage_headers(request: Request) -> dict[str, str]:
    headers = _trace_headers(request)
    user = _session_user(request)
    if user:
        headers["end-user"] = user
    names = tuple(n for n in FORWARD_HEADERS if n not in B3_HEADERS and n != "end-user")
    headers.update(forward_headers(request, names))
    return headers


def productpage_app(ctx: PodContext) -> App:
    details_url = service_url(ctx, "details")
    reviews_url = service_url(ctx, "reviews")
    ratings_url = service_url(ctx, "ratings")
    session = ctx.session
    # FLOOD_FACTOR: extra, ignored reviews calls per page (the rate-limiting demo)
    flood = ctx.getenv("FLOOD_FACTOR") or "0"
    flood_factor = int(flood) if flood.isdigit() else 0

    def fetch(
        url: str, headers: dict, timeout: float, error: str, tries: int = 1
    ) -> tuple[int, object]:
        """GET `url` until it answers 200 with JSON (at most `tries` times): (200, data);
        otherwise the last status (500 when none) and ``{"error": error}``."""
        status = 0
        for _ in range(tries):
            resp = session.request(url, headers=headers, timeout=timeout)
            if resp.status == 200:
                data = get_json(resp)
                if data is not None:
                    return 200, data
            status = resp.status
        return status or 500, {"error": error}

    def get_details(product_id: str, headers: dict) -> tuple[int, object]:
        url = f"{details_url}/details/{product_id}"
        return fetch(url, headers, DETAILS_TIMEOUT, DETAILS_UNAVAILABLE)

    def get_reviews(product_id: str, headers: dict) -> tuple[int, object]:
        url = f"{reviews_url}/reviews/{product_id}"
        return fetch(url, headers, REVIEWS_TIMEOUT, REVIEWS_UNAVAILABLE, REVIEWS_TRIES)

    def get_ratings(product_id: str, headers: dict) -> tuple[int, object]:
        url = f"{ratings_url}/ratings/{product_id}"
        return fetch(url, headers, DETAILS_TIMEOUT, RATINGS_UNAVAILABLE_PP)

    def redirect_back(request: Request, cookie: str) -> Response:
        location = request.headers.get("referer") or "/productpage"
        body = pages.redirect_page(location)
        return Response(
            302,
            body.encode(),
            "text/html; charset=utf-8",
            [("Location", location), ("Set-Cookie", cookie)],
        )

    def app(request: Request) -> Response:
        path = request.path
        if path in ("/", "/index.html"):
            return Response.html(pages.index_page())
        if path == "/health":
            return Response.html("Product page is healthy")
        if path == "/login":
            if request.method != "POST":
                return Response.html(pages.error_page(405), 405)
            form = dict(request.query)
            ctype = request.headers.get("content-type", "")
            if "application/x-www-form-urlencoded" in ctype or not ctype:
                form.update(parse_qs(request.body.decode("utf-8", "replace")))
            user = (form.get("username") or [""])[0]
            cookie = f"session={encode_session({'user': user})}; HttpOnly; Path=/"
            return redirect_back(request, cookie)
        if path == "/logout":
            cookie = f"session={encode_session({})}; HttpOnly; Path=/"
            return redirect_back(request, cookie)
        if path == "/productpage":
            headers = productpage_headers(request)
            d_status, details = get_details("0", headers)
            for _ in range(flood_factor):
                get_reviews("0", headers)
            r_status, reviews = get_reviews("0", headers)
            html = pages.product_page(
                PRODUCTS[0], d_status, details, r_status, reviews, _session_user(request)
            )
            return Response.html(html)
        if path == "/api/v1/products":
            return json_response(PRODUCTS)
        match = re.fullmatch(r"/api/v1/products/([^/]+)(/reviews|/ratings)?", path)
        if match:
            headers = productpage_headers(request)
            fetch = {None: get_details, "/reviews": get_reviews, "/ratings": get_ratings}
            status, data = fetch[match.group(2)](match.group(1), headers)
            return json_response(data, status)
        if path.startswith("/static/"):
            asset = pages.static_asset(path[len("/static/") :])
            if asset:
                return Response(200, asset[1], asset[0])
        return Response.html(pages.error_page(404), 404)

    return app

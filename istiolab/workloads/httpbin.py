"""httpbin: the endpoints the Istio tasks use, with httpbin's JSON shapes.

Headers are reported with title-case names (``X-B3-Traceid``), repeated headers joined
with commas, and the proxy/environment headers (``X-Request-Id``, ``X-Forwarded-For``,
``X-Forwarded-Proto``...) hidden unless ``?show_env=1``, as httpbin does.
"""

from __future__ import annotations

import json
import random
import re
import time
from base64 import b64decode
from urllib.parse import parse_qs, quote

from istiolab.workloads.context import PodContext
from istiolab.workloads.server import App, Request, Response

MAX_DELAY = 10.0
MAX_BYTES = 100 * 1024
ENV_HEADERS = {
    "x-varnish",
    "x-request-start",
    "x-heroku-queue-depth",
    "x-real-ip",
    "x-forwarded-proto",
    "x-forwarded-protocol",
    "x-forwarded-ssl",
    "x-heroku-queue-wait-time",
    "x-forwarded-for",
    "x-heroku-dynos-in-use",
    "x-forwarded-port",
    "x-request-id",
    "via",
    "total-route-time",
    "connect-time",
}
REDIRECT_CODES = {301, 302, 303, 305, 307, 308}
TEAPOT = b"\n    -=[ teapot ]=-\n\n  I'm a teapot, short and stout.\n"
GO_TEAPOT = b"I'm a teapot!"  # mccutchen/go-httpbin (the image Istio's sample runs)

HTML = """<!DOCTYPE html>
<html>
  <head>
  </head>
  <body>
      <h1>Herman Melville - Moby-Dick</h1>

      <div>
        <p>
          Call me Ishmael. Some years ago, never mind how long precisely, having little or
          no money in my purse, and nothing particular to interest me on shore, I thought I
          would sail about a little and see the watery part of the world.
        </p>
      </div>
  </body>
</html>"""

INDEX = """<!DOCTYPE html>
<html><head><title>httpbin</title></head>
<body><h1>httpbin</h1><p>A simple HTTP Request &amp; Response Service.</p>
<ul>
<li>/get /post /put /patch /delete /anything</li>
<li>/headers /ip /user-agent /uuid</li>
<li>/status/:code /delay/:n /bytes/:n /response-headers?key=val</li>
<li>/html /json /xml /robots.txt /cookies /redirect/:n /basic-auth/:user/:passwd</li>
</ul></body></html>
"""


def title_case(name: str) -> str:
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def headers_dict(request: Request, go: bool = False) -> dict[str, object]:
    """httpbin: ``{"X-B3-Traceid": "v"}`` without the env headers; go-httpbin: every header,
    each a list of values (``{"X-B3-Traceid": ["v"]}``)."""
    if go:
        lists: dict[str, list[str]] = {}
        for name, value in request.header_items:
            lists.setdefault(title_case(name), []).append(value)
        return dict(lists)
    show_env = bool(request.arg("show_env"))
    out: dict[str, str] = {}
    for name, value in request.header_items:
        if not show_env and name.lower() in ENV_HEADERS:
            continue
        key = title_case(name)
        out[key] = f"{out[key]},{value}" if key in out else value
    return dict(out)


def _flat(multi: dict[str, list[str]]) -> dict[str, object]:
    return {k: v[0] if len(v) == 1 else v for k, v in multi.items()}


def origin(request: Request) -> str:
    return request.headers.get("x-forwarded-for") or request.client[0]


def full_url(request: Request) -> str:
    if request.target.startswith("http://") or request.target.startswith("https://"):
        return request.target
    proto = request.headers.get("x-forwarded-proto") or "http"
    return f"{proto}://{request.headers.get('host', request.local[0])}{request.target}"


def _body_fields(request: Request) -> dict[str, object]:
    ctype = request.headers.get("content-type", "")
    text = request.body.decode("utf-8", "replace")
    form: dict[str, object] = {}
    data = text
    parsed = None
    if "application/x-www-form-urlencoded" in ctype:
        form = _flat(parse_qs(text, keep_blank_values=True))
        data = ""
    else:
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = None
    return {"data": data, "files": {}, "form": form, "json": parsed}


def _json(data: object, status: int = 200) -> Response:
    return Response.json(data, status, indent=2)


def _request_info(
    request: Request, *, method: bool, body: bool, go: bool = False
) -> dict[str, object]:
    if go:  # go-httpbin: lists for args and headers, the method always, then the body
        info: dict[str, object] = {"args": dict(request.query)}
        info["headers"] = headers_dict(request, go=True)
        info.update(method=request.method, origin=origin(request), url=full_url(request))
        if body:
            fields = _body_fields(request)
            form = fields["form"]
            if isinstance(form, dict):
                fields["form"] = {k: v if isinstance(v, list) else [v] for k, v in form.items()}
            info.update(fields)
        return info
    info = {"args": _flat(request.query)}
    if body:
        info.update(_body_fields(request))
    info["headers"] = headers_dict(request)
    if method:
        info["method"] = request.method
    info["origin"] = origin(request)
    info["url"] = full_url(request)
    return info


def _status(spec: str, go: bool = False) -> Response:
    choices: list[tuple[int, float]] = []
    try:
        for part in spec.split(","):
            code, _, weight = part.partition(":")
            choices.append((int(code), float(weight) if weight else 1.0))
    except ValueError:
        return Response.text("Invalid status code", 400)
    codes = [c for c, _ in choices]
    code = random.choices(codes, weights=[w for _, w in choices])[0]
    if not 100 <= code <= 599:
        return Response.text("Invalid status code", 400)
    content_type = "text/plain; charset=utf-8" if go else "text/html; charset=utf-8"
    response = Response(code, b"", content_type)
    if code in REDIRECT_CODES:
        response.headers.append(("Location", "/redirect/1"))
    elif code == 401:
        response.headers.append(("WWW-Authenticate", 'Basic realm="Fake Realm"'))
    elif code == 418:
        response.body = GO_TEAPOT if go else TEAPOT
        name = "X-More-Info" if go else "x-more-info"
        response.headers.append((name, "http://tools.ietf.org/html/rfc2324"))
    return response


def _response_headers(request: Request) -> Response:
    pairs = [(k, v) for k, values in request.query.items() for v in values]
    body_data: dict[str, object] = {"Content-Type": "application/json"}
    for k, v in pairs:
        if k in body_data:
            prev = body_data[k]
            body_data[k] = [*prev, v] if isinstance(prev, list) else [prev, v]
        else:
            body_data[k] = v
    body = b""
    for _ in range(5):  # Content-Length is part of the body: iterate to a fixed point
        body = (json.dumps(body_data, indent=2) + "\n").encode()
        if body_data.get("Content-Length") == str(len(body)):
            break
        body_data["Content-Length"] = str(len(body))
    return Response(200, body, "application/json", pairs)


METHOD_ROUTES = {
    "/get": "GET",
    "/post": "POST",
    "/put": "PUT",
    "/patch": "PATCH",
    "/delete": "DELETE",
}


def httpbin_app(ctx: PodContext, flavor: str = "httpbin") -> App:
    """`flavor` "go-httpbin" (mccutchen/go-httpbin) reports args and headers as lists."""
    go = flavor == "go-httpbin"

    def app(request: Request) -> Response:
        path = request.path.rstrip("/") or "/"
        method = request.method
        if path in METHOD_ROUTES:
            allowed = METHOD_ROUTES[path]
            head_ok = allowed == "GET" and method == "HEAD"
            if method not in (allowed, "OPTIONS") and not head_ok:
                return Response.html("<h1>Method Not Allowed</h1>", 405)
            return _json(_request_info(request, method=False, body=allowed != "GET", go=go))
        if path == "/anything" or path.startswith("/anything/"):
            return _json(_request_info(request, method=True, body=True, go=go))
        if path == "/headers":
            return _json({"headers": headers_dict(request, go)})
        if path == "/ip":
            return _json({"origin": origin(request)})
        if path == "/hostname" and go:  # go-httpbin only: the pod's name, which names its version
            return _json({"hostname": ctx.pod_name})
        if path == "/user-agent":
            return _json({"user-agent": request.headers.get("user-agent")})
        if path == "/uuid":
            import uuid  # lazily: uuid pulls in platform, slow to import at start-up

            return _json({"uuid": str(uuid.uuid4())})
        if m := re.fullmatch(r"/status/([^/]+)", path):
            return _status(m.group(1), go)
        if m := re.fullmatch(r"/delay/([0-9.]+)", path):
            time.sleep(min(float(m.group(1)), MAX_DELAY))
            return _json(_request_info(request, method=False, body=True, go=go))
        if m := re.fullmatch(r"/bytes/(\d+)", path):
            n = min(int(m.group(1)), MAX_BYTES)
            seed = request.arg("seed")
            rng = random.Random(int(seed)) if seed.isdigit() else random.Random()
            return Response(200, rng.randbytes(n), "application/octet-stream")
        if path == "/response-headers":
            return _response_headers(request)
        if path == "/html":
            return Response.html(HTML)
        if path == "/json":
            slides = [{"title": "Wake up", "type": "all"}]
            return _json({"slideshow": {"author": "istiolab", "title": "Slides", "slides": slides}})
        if path == "/xml":
            xml = '<?xml version="1.0"?>\n<slideshow title="Sample Slide Show"></slideshow>\n'
            return Response(200, xml.encode(), "application/xml")
        if path == "/robots.txt":
            return Response.text("User-agent: *\nDisallow: /deny\n")
        if path == "/cookies":
            return _json({"cookies": request.cookies()})
        if path == "/cookies/set":
            pairs = [(k, v[0]) for k, v in request.query.items()]
            headers = [("Location", "/cookies")]
            headers += [("Set-Cookie", f"{k}={quote(v)}; Path=/") for k, v in pairs]
            return Response(302, b"", "text/html; charset=utf-8", headers)
        if m := re.fullmatch(r"/(?:relative-)?redirect/(\d+)", path):
            n = int(m.group(1))
            location = "/get" if n <= 1 else f"/relative-redirect/{n - 1}"
            return Response(302, b"", "text/html; charset=utf-8", [("Location", location)])
        if path == "/redirect-to":
            code = int(request.arg("status_code") or 302)
            return Response(code, b"", "text/html", [("Location", request.arg("url"))])
        if m := re.fullmatch(r"/basic-auth/([^/]+)/([^/]+)", path):
            auth = request.headers.get("authorization", "")
            expected = f"{m.group(1)}:{m.group(2)}"
            try:
                ok = auth.startswith("Basic ") and b64decode(auth[6:]).decode() == expected
            except ValueError:
                ok = False
            if not ok:
                return Response(401, b"", "", [("WWW-Authenticate", 'Basic realm="Fake Realm"')])
            return _json({"authenticated": True, "user": m.group(1)})
        if path == "/":
            return Response.html(INDEX)
        return Response.html("<h1>Not Found</h1>", 404)

    return app

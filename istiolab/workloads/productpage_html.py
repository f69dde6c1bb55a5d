"""The HTML productpage serves: the Bookinfo page, the index page, the sign-in form.

The observable texts match the sample (``<title>Simple Bookstore App</title>``,
``Book Details``, ``Book Reviews``, ``Error fetching product details``, the star markup
``<span class="glyphicon glyphicon-star">`` in a ``<font color="black|red">``,
``Reviews served by:``); the markup and the stylesheet are our own.
"""

from __future__ import annotations

from html import escape

STYLESHEET = """
body { font-family: "Helvetica Neue", Helvetica, Arial, sans-serif; margin: 0; color: #333; }
.navbar { background: #222; color: #eee; padding: 0 2em; display: flex;
  justify-content: space-between; align-items: center; min-height: 50px; }
.navbar-brand { color: #eee; font-size: 18px; text-decoration: none; }
.navbar-text a { color: #9cf; }
.container-fluid { padding: 1em 2em; }
.row { display: flex; flex-wrap: wrap; gap: 2em; }
.col-md-6 { flex: 1 1 24em; }
.text-center { text-align: center; }
.text-primary { color: #337ab7; }
dt { font-weight: bold; }
blockquote { border-left: 5px solid #eee; margin: 0 0 1em; padding: 0.5em 1em; }
blockquote small { display: block; color: #777; }
blockquote small:before { content: "\\2014 \\00A0"; }
.glyphicon-star:before { content: "\\2605"; }
.glyphicon-star-empty:before { content: "\\2606"; }
.glyphicon-user:before { content: "\\263A"; }
.btn { padding: 6px 12px; border: 1px solid #ccc; border-radius: 4px; background: #fff; }
.btn-primary { background: #337ab7; color: #fff; border-color: #2e6da4; }
#login-modal { border: 1px solid #999; border-radius: 6px; padding: 1.5em; }
#login-modal input { display: block; margin: 0.5em 0; padding: 6px; width: 18em; }
table { border-collapse: collapse; } td, th { border: 1px solid #ddd; padding: 4px 8px; }
"""

_STATIC = {
    "bootstrap/css/bootstrap.min.css": ("text/css; charset=utf-8", STYLESHEET.encode()),
    "bookinfo.css": ("text/css; charset=utf-8", STYLESHEET.encode()),
}


def static_asset(name: str) -> tuple[str, bytes] | None:
    """(content type, bytes) for /static/<name>, or None (404)."""
    return _STATIC.get(name)


def _head(title: str = "Simple Bookstore App") -> str:
    return f"""<!DOCTYPE html>
<html>
  <head>
    <meta charset="utf-8">
    <meta http-equiv="X-UA-Compatible" content="IE=edge">
    <meta name="viewport" content="width=device-width, initial-scale=1.0">
    <title>{title}</title>
    <link rel="stylesheet" href="static/bootstrap/css/bootstrap.min.css">
  </head>
  <body>
"""


def _nav(user: str) -> str:
    if user:
        right = (
            '<p class="navbar-text navbar-right">\n'
            '      <i class="glyphicon glyphicon-user" aria-hidden="true"></i>\n'
            f'      <span style="padding-left: 5px;">{escape(user)} '
            '( <a href="logout">sign out</a> )</span>\n'
            "    </p>"
        )
    else:
        right = (
            '<button type="button" class="btn btn-default navbar-btn navbar-right" '
            "onclick=\"document.getElementById('login-modal').showModal()\">Sign in</button>"
        )
    return f"""<nav class="navbar navbar-inverse navbar-static-top">
  <a class="navbar-brand" href="#">BookInfo Sample</a>
  {right}
</nav>
<dialog id="login-modal">
  <h4>Please sign in</h4>
  <form method="post" action="login" name="login_form">
    <input type="text" class="form-control" name="username" id="username" placeholder="User Name">
    <input type="password" class="form-control" name="passwd" placeholder="Password">
    <button type="submit" class="btn btn-primary">Sign in</button>
    <button type="button" class="btn btn-default"
      onclick="document.getElementById('login-modal').close()">Cancel</button>
  </form>
</dialog>
"""


def _stars(rating: dict) -> str:
    stars = rating.get("stars")
    if isinstance(stars, int) and stars:
        full = '\n          <span class="glyphicon glyphicon-star"></span>' * stars
        empty = '\n          <span class="glyphicon glyphicon-star-empty"></span>' * max(
            0, 5 - stars
        )
        color = escape(str(rating.get("color", "black")))
        return (
            f'\n        <font color="{color}">\n          <!-- full stars: -->{full}'
            f"\n          <!-- empty stars: -->{empty}\n        </font>"
        )
    if rating.get("error"):
        return f"\n        <p><i>{escape(str(rating['error']))}</i></p>"
    return ""


def _details(status: int, details: object) -> str:
    d = details if isinstance(details, dict) else {}
    if status == 200:
        rows = "".join(
            f"\n        <dt>{label}:</dt>{escape(str(d.get(key, '')))}"
            for label, key in (
                ("Type", "type"),
                ("Pages", "pages"),
                ("Publisher", "publisher"),
                ("Language", "language"),
                ("ISBN-10", "ISBN-10"),
                ("ISBN-13", "ISBN-13"),
            )
        )
        title = '<h4 class="text-center text-primary">Book Details</h4>'
        return f"{title}\n      <dl>{rows}\n      </dl>"
    error = f"\n      <p>{escape(str(d['error']))}</p>" if d.get("error") else ""
    return f'<h4 class="text-center text-primary">Error fetching product details!</h4>{error}'


def _reviews(status: int, reviews: object) -> str:
    r = reviews if isinstance(reviews, dict) else {}
    if status != 200:
        error = f"\n      <p>{escape(str(r['error']))}</p>" if r.get("error") else ""
        return f'<h4 class="text-center text-primary">Error fetching product reviews!</h4>{error}'
    parts = ['<h4 class="text-center text-primary">Book Reviews</h4>']
    for review in r.get("reviews") or []:
        rating = review.get("rating") if isinstance(review, dict) else None
        parts.append(
            f"""
      <blockquote>
        <p>{escape(str(review.get("text", "")))}</p>
        <small>{escape(str(review.get("reviewer", "")))}</small>{_stars(rating or {})}
      </blockquote>"""
        )
    cluster = r.get("clustername")
    on_cluster = (
        f"\n        on cluster <u>{escape(str(cluster))}</u>"
        if cluster and cluster != "null"
        else ""
    )
    parts.append(
        f"""
      <dl>
        <dt>Reviews served by:</dt>
        <u>{escape(str(r.get("podname", "")))}</u>{on_cluster}
      </dl>"""
    )
    return "".join(parts)


def product_page(
    product: dict,
    details_status: int,
    details: object,
    reviews_status: int,
    reviews: object,
    user: str,
) -> str:
    return f"""{_head()}{_nav(user)}
<div class="container-fluid">
  <div class="row">
    <div class="col-md-12">
      <h3 class="text-center text-primary">{escape(product["title"])}</h3>
      <p>Summary: {product["descriptionHtml"]}</p>
    </div>
  </div>

  <div class="row">
    <div class="col-md-6">
      {_details(details_status, details)}
    </div>

    <div class="col-md-6">
      {_reviews(reviews_status, reviews)}
    </div>
  </div>
</div>
  </body>
</html>
"""


def index_page() -> str:
    rows = "".join(
        f"<tr><td>{name}</td><td>http://{host}:9080</td><td>{endpoint}</td></tr>"
        for name, host, endpoint in (
            ("productpage", "details", "details"),
            ("details", "details", "details"),
            ("reviews", "reviews", "reviews"),
            ("ratings", "ratings", "ratings"),
        )
    )
    return f"""{_head()}<div class="container-fluid">
  <h3 class="text-primary">Hello! This is a simple bookstore application consisting of three
  services as shown below</h3>
  <table class="table table-condensed table-bordered table-hover">
    <tr><th>service</th><th>name</th><th>endpoint</th></tr>{rows}
  </table>
  <p><h4>Click on one of the links below to auto generate a request to the backend as a real
  user or a tester</h4></p>
  <p><a href="/productpage?u=normal">Normal user</a></p>
  <p><a href="/productpage?u=test">Test user</a></p>
</div>
  </body>
</html>
"""


def redirect_page(location: str) -> str:
    target = escape(location)
    return (
        "<!doctype html>\n<html lang=en>\n<title>Redirecting...</title>\n"
        "<h1>Redirecting...</h1>\n<p>You should be redirected automatically to the target URL: "
        f'<a href="{target}">{target}</a>. If not, click the link.\n'
    )


def error_page(status: int) -> str:
    titles = {404: "404 Not Found", 405: "405 Method Not Allowed"}
    title = titles.get(status, f"{status} Error")
    return f"<!doctype html>\n<html lang=en>\n<title>{title}</title>\n<h1>{title[4:]}</h1>\n"

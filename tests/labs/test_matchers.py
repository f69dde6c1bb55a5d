"""The lab checks' field matchers: a learner's value written differently from the solution
(180s vs 3m, 100 vs 100.0, a short host name, a set-like list in another order) matches; a
different value does not. Pure: no mesh."""

from __future__ import annotations

import pytest

from istiolab.labs import matchers
from istiolab.labs.matchers import PathError

VS = {
    "metadata": {"name": "reviews", "namespace": "default"},
    "spec": {
        "hosts": ["reviews.default.svc.cluster.local", "reviews.example.com"],
        "http": [
            {
                "match": [{"headers": {"end-user": {"exact": "jason"}}}],
                "route": [{"destination": {"host": "reviews", "subset": "v2"}}],
                "timeout": "0.5s",
            },
            {
                "route": [
                    {"destination": {"host": "reviews", "subset": "v1"}, "weight": 50},
                    {"destination": {"host": "reviews", "subset": "v3"}, "weight": 50},
                ]
            },
        ],
    },
}
DR = {
    "metadata": {"name": "httpbin", "namespace": "default"},
    "spec": {
        "host": "httpbin",
        "trafficPolicy": {
            "connectionPool": {"http": {"http1MaxPendingRequests": 1}},
            "outlierDetection": {"baseEjectionTime": "180s", "interval": "1s"},
        },
    },
}


def ok(obj: dict, path: str, spec) -> bool:
    return matchers.matches(list(matchers.resolve(obj, path)), spec, "default")


@pytest.mark.parametrize(
    ("obj", "path", "spec", "expected"),
    [
        # durations compare by length
        (DR, "spec.trafficPolicy.outlierDetection.baseEjectionTime", "3m", True),
        (DR, "spec.trafficPolicy.outlierDetection.baseEjectionTime", "180000ms", True),
        (DR, "spec.trafficPolicy.outlierDetection.baseEjectionTime", "2m", False),
        (DR, "spec.trafficPolicy.outlierDetection.baseEjectionTime", {"lte": "5m"}, True),
        (DR, "spec.trafficPolicy.outlierDetection.baseEjectionTime", {"lte": "10s"}, False),
        (VS, "spec.http[0].timeout", "500ms", True),
        (VS, "spec.http[0].timeout", "5s", False),
        # numbers by value
        (DR, "spec.trafficPolicy.connectionPool.http.http1MaxPendingRequests", 1.0, True),
        (DR, "spec.trafficPolicy.connectionPool.http.http1MaxPendingRequests", "1", True),
        (DR, "spec.trafficPolicy.connectionPool.http.http1MaxPendingRequests", 2, False),
        # a typo'd field is not set: the check names it <not set>
        (DR, "spec.trafficPolicy.connectionPool.http.http1MaxPendingRequest", 1, False),
        # hosts: short names in the object's namespace
        (DR, "spec.host", "httpbin.default.svc.cluster.local", True),
        (DR, "spec.host", "httpbin.default", True),
        (DR, "spec.host", "httpbin.foo", False),
        # set-like lists in any order, ordered lists in order
        (VS, "spec.hosts", ["reviews.example.com", "reviews"], True),
        (VS, "spec.hosts", ["reviews"], False),
        (VS, "spec.http[1].route[*].destination.subset", "v3", True),
        (VS, "spec.http[*].route[*].destination.subset", "v4", False),
        # selectors: by index, any element, by a (dotted) field
        (VS, "spec.http[0].match[0].headers.end-user.exact", "jason", True),
        (VS, "spec.http[1].route[destination.subset=v3].weight", 50, True),
        (VS, "spec.http[1].route[destination.subset=v1].weight", 100, False),
        (VS, "spec.http[-1].route[0].weight", 50, True),
        # expected mappings are subsets
        (VS, "spec.http[0].route[0].destination", {"subset": "v2"}, True),
        (VS, "spec.http[0].route[0].destination", {"subset": "v2", "port": 1}, False),
        # operators
        (VS, "spec.hosts", {"contains": "reviews.example.com"}, True),
        (VS, "spec.http[0].fault", {"exists": False}, True),
        (VS, "spec.http[0].fault", {"exists": True}, False),
        (VS, "spec.http[0].route[0].destination.subset", {"in": ["v2", "v3"]}, True),
        (VS, "spec.http[0].mirror", {"in": ["x", None]}, True),
        (VS, "spec.http[0].route[0].destination.subset", {"not": "v1"}, True),
        (VS, "spec.http[0].match[0].headers.end-user.exact", {"matches": "^ja"}, True),
        (VS, "spec.http[1].route[0].weight", {"gte": 50, "lt": 51}, True),
    ],
)
def test_matches(obj, path, spec, expected):
    assert ok(obj, path, spec) is expected


@pytest.mark.parametrize("path", ["spec..x", "spec.http[", "spec.http[a b]", ""])
def test_bad_paths_are_authoring_errors(path):
    with pytest.raises(PathError):
        list(matchers.resolve(VS, path))


def test_descriptions_for_the_failure_line():
    values = list(matchers.resolve(DR, "spec.trafficPolicy.outlierDetection.consecutive5xxErrors"))
    assert matchers.describe(values) == "<not set>"
    assert matchers.describe_spec({"gte": 1}) == ">= 1"
    assert matchers.describe_spec({"exists": False}) == "not set"
    assert matchers.describe_spec("3m") == "3m"

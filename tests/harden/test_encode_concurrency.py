"""Encoding one large configuration from several threads at once (issue 10 item 6).

``json_format.ParseDict`` removes ``"@type"`` from nested ``Any`` dicts while it parses and
restores it afterwards; the translation shares module-level dicts (the previous_hosts retry
predicate) between every route, and the xDS server encodes on several gRPC threads. Every
encoding must still succeed and give the same bytes, and the shared dicts must stay intact.
"""

from __future__ import annotations

import threading

from istiolab.local.model import ROUTE_TYPE
from istiolab.local.translate import resilience
from istiolab.local.xds import to_any
from istiolab.local.xds.protos import Encoder
from istiolab.local.xds.server import canonical

ROUTES = 1000
THREADS = 4
ROUNDS = 6


def big_route_config() -> dict:
    routes = []
    for i in range(ROUTES):
        routes.append(
            {
                "name": f"r{i}",
                "match": {"prefix": f"/p{i}"},
                "route": {
                    "cluster": f"outbound|80||s{i}.default.svc.cluster.local",
                    # one shared module-level dict (PREVIOUS_HOSTS) in every route
                    "retry_policy": resilience.retry_policy(None),
                },
            }
        )
    return {
        "@type": ROUTE_TYPE,
        "name": "80",
        "virtual_hosts": [{"name": "all", "domains": ["*"], "routes": routes}],
    }


def test_parallel_encodings_of_one_shared_config_all_succeed_and_agree():
    config = big_route_config()
    expected = to_any(config).SerializeToString(deterministic=True)
    failures: list[str] = []
    results: list[bytes] = []
    start = threading.Barrier(THREADS)

    def work() -> None:
        start.wait()
        for _ in range(ROUNDS):
            try:
                results.append(to_any(config).SerializeToString(deterministic=True))
            except Exception as exc:  # any failure is the race
                failures.append(repr(exc))

    threads = [threading.Thread(target=work) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert len(results) == THREADS * ROUNDS
    assert all(r == expected for r in results)
    assert "@type" in resilience.PREVIOUS_HOSTS["typed_config"]


def test_server_encoder_never_touches_the_resource_dict():
    config = big_route_config()
    before = canonical(config)
    encoder = Encoder()
    encoder.encode(before, config)
    assert canonical(config) == before

"""Bounded disk: logs are rotated at a cap without losing the newest lines (item 10)."""

from __future__ import annotations

import uuid

import pytest

from harden.conftest import LOG_CAP
from istiolab.local.logrotate import rotate
from istiolab.local.supervisor import wait_until
from istiolab.workloads import client


def test_rotate_copies_then_truncates(tmp_path):
    log = tmp_path / "a.log"
    with open(log, "ab") as writer:  # a writer that keeps its file open, as processes do
        writer.write(b"old\n" * 2000 + b"x" * 4000 + b"\n")
        writer.flush()
        assert rotate(log, 4096)
        writer.write(b"newest\n")
        writer.flush()
    kept = (tmp_path / "a.log.1").read_bytes()  # the last whole lines, at most the cap
    assert kept.endswith(b"old\n" + b"x" * 4000 + b"\n") and len(kept) <= 4096
    assert log.read_bytes() == b"newest\n"  # appended at the new end, no hole
    assert not rotate(log, 4096)


@pytest.mark.envoy
def test_access_logs_stay_bounded_and_keep_the_newest_lines(mesh):
    httpbin, sleep = mesh.pod_in("httpbin-v1", "foo"), mesh.pod_in("sleep", "foo")
    out = mesh.state.logs / f"foo.{httpbin['name']}.envoy.out"
    marker = ""

    def send(count: int) -> None:
        nonlocal marker
        for _ in range(count):
            marker = uuid.uuid4().hex
            resp = client.send(
                f"http://httpbin.foo:8000/get?m={marker}",
                source_ip=sleep["app_ip"],
                proxy=f"http://{sleep['ip']}:15001",
                namespace="foo",
            )
            assert resp.status == 200

    def rotated() -> bool:
        send(50)
        return out.with_name(out.name + ".1").exists()

    wait_until(rotated, 60, "a rotated access log")  # about 200 requests
    send(5)
    wait_until(lambda: marker in out.read_text(errors="replace"), 10, "the newest line")
    for path in mesh.state.logs.iterdir():  # the cap, plus one check interval of writing
        limit = LOG_CAP if path.name.endswith(".1") else 4 * LOG_CAP
        assert path.stat().st_size <= limit, path
    assert mesh.pod_in("httpbin-v1", "foo")["ready"]

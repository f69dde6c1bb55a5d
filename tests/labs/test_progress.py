"""Lab progress in the state directory: private, per backend, kept across runs."""

from __future__ import annotations

import stat

from istiolab.labs.progress import Progress


def test_progress_is_private_and_survives(tmp_path):
    p = Progress.in_state_dir(tmp_path)
    p.start("local", "02-request-routing")
    assert p.record("local", "02-request-routing", [1], 2) == [1]
    assert p.record("local", "02-request-routing", [1], 2) == []  # first pass only
    assert stat.S_IMODE(p.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(p.path.parent.stat().st_mode) == 0o700
    again = Progress.in_state_dir(tmp_path)  # a new process, after down/up
    assert again.active("local") == "02-request-routing"
    entry = again.lab("local", "02-request-routing")
    assert list(entry["tasks"]) == ["1"] and entry["completed"] is None
    assert again.record("local", "02-request-routing", [1, 2], 2) == [2]
    assert again.lab("local", "02-request-routing")["completed"]
    assert again.all("istiolab") == {}  # another backend has its own progress
    again.stop("local", "02-request-routing")
    assert again.active("local") is None

"""`istiolab lab selftest` for every lab of the library on the local mesh: the start state
fails the checks declared to fail, each task's solution passes all of its checks, and the lab
cleans up after itself. A lab whose solution does not pass, or whose start state already
passes, fails the build."""

from __future__ import annotations

import pytest

from istiolab.labs import format as labformat
from istiolab.labs import session

pytestmark = [pytest.mark.envoy, pytest.mark.timeout(240)]

LABS = labformat.lab_names(labformat.labs_root())


@pytest.mark.parametrize("name", LABS)
def test_lab_selftest(backend, name):
    lab = labformat.find_lab(labformat.labs_root(), name)
    report = session.selftest(backend, lab)
    assert report.passed, "\n".join(report.problems)
    assert session.cleanup(backend, lab) == []  # nothing left behind

"""Bounded disk for the local mesh's logs, as a cluster's log rotation bounds containers'.

Every log in ``<state>/logs`` (apps' stdout, Envoys' stdout with their access logs, Envoys'
own logs, the supervisor's) is capped at ``ISTIOLAB_LOG_MAX_BYTES`` (default 50 MiB): a
larger file has its last `cap` bytes (from a line start) copied to ``<name>.1`` (replacing
the older copy) and is truncated in place ("copytruncate": the processes keep writing to
the same file, which they opened for appending). Per log, at most the cap plus what is
written in one check interval stays on disk, plus the cap in ``.1``; readers (`logs`,
labs, telemetry) find the newest lines in the file and the ones before in ``<name>.1``,
and a reader that remembered an offset past the end starts again at 0.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from pathlib import Path

from istiolab.errors import ConfigError

ENV_MAX_BYTES = "ISTIOLAB_LOG_MAX_BYTES"
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
CHECK_INTERVAL = 1.0  # seconds between two looks at the sizes
SUFFIXES = (".log", ".out")


def max_bytes() -> int:
    raw = os.environ.get(ENV_MAX_BYTES, "")
    if not raw:
        return DEFAULT_MAX_BYTES
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 4096:
        raise ConfigError(f"{ENV_MAX_BYTES}={raw!r}: a number of bytes, at least 4096")
    return value


def rotate(path: Path, limit: int) -> bool:
    """Copy the last `limit` bytes of `path` to ``<path>.1`` and truncate it, when it is over
    `limit` bytes."""
    try:
        size = path.stat().st_size
    except OSError:
        return False
    if size <= limit:
        return False
    backup = path.with_name(path.name + ".1")
    tmp = path.with_name(f".{path.name}.1.tmp")
    with open(path, "rb") as src, open(tmp, "wb") as dst:
        src.seek(size - limit)
        src.readline()  # from the start of a line
        shutil.copyfileobj(src, dst, 1 << 20)
    os.chmod(tmp, 0o600)
    os.replace(tmp, backup)
    with open(path, "r+b") as f:
        f.truncate(0)
    return True


def rotate_all(folder: Path, limit: int) -> list[Path]:
    rotated = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            if entry.name.endswith(SUFFIXES) and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(OSError):
                    if rotate(Path(entry.path), limit):
                        rotated.append(Path(entry.path))
    return rotated


def start_rotation(folder: Path, stop: threading.Event) -> threading.Thread:
    """Check `folder` every few seconds until `stop` is set."""
    limit = max_bytes()

    def loop() -> None:
        while not stop.wait(CHECK_INTERVAL):
            rotate_all(folder, limit)

    thread = threading.Thread(target=loop, name="logrotate", daemon=True)
    thread.start()
    return thread

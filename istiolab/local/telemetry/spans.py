"""The mesh's Zipkin-compatible span store: Envoy's tracer POSTs Zipkin v2 JSON spans to
``/api/v2/spans``; they are appended, one JSON object a line, to ``spans.jsonl`` in the
state directory's ``telemetry/`` (0600), so `istiolab traces` reads them with or without
a running mesh. When the file passes ``limit`` bytes the older half is dropped."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable
from pathlib import Path

SPANS_FILE = "spans.jsonl"
DEFAULT_LIMIT = 64 << 20


def spans_path(state_root: str | os.PathLike[str]) -> Path:
    return Path(state_root) / "telemetry" / SPANS_FILE


class SpanStore:
    def __init__(self, path: Path, limit: int = DEFAULT_LIMIT) -> None:
        self.path = path
        self.limit = limit
        self._lock = threading.Lock()

    def add(self, spans: Iterable[dict]) -> int:
        lines = [json.dumps(s, separators=(",", ":")) + "\n" for s in spans if isinstance(s, dict)]
        if not lines:
            return 0
        with self._lock:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as f:
                f.writelines(lines)
                size = f.tell()
            if size > self.limit:
                self._trim()
        return len(lines)

    def _trim(self) -> None:
        text = self.path.read_text(encoding="utf-8").splitlines(keepends=True)
        keep = text[len(text) // 2 :]
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.writelines(keep)
        os.replace(tmp, self.path)


def read_spans(path: Path) -> list[dict]:
    """Every stored span (a torn last line is skipped)."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            span = json.loads(line)
        except ValueError:
            continue
        if isinstance(span, dict):
            out.append(span)
    return out

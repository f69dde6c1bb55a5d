"""Resource versions and watch events over the API's snapshots of the mesh.

`Hub.refresh()` takes a new snapshot (:func:`istiolab.local.kubeapi.view.snapshot`), gives
every object that changed the next ``resourceVersion`` (one counter for all kinds, as etcd's
revision) and records an ``ADDED``/``MODIFIED``/``DELETED`` event. Watchers (one per open
watch request) are woken through their event loop. Snapshots are taken after every write,
before every read (so a change made through the other door, ``istiolab apply``, is seen at
once; `max_age` may allow a cached one), and once a second while someone watches (pod
readiness changes without a write).
"""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from istiolab.local.kubeapi.view import Key

EVENT_LOG = 5000


@dataclass(frozen=True)
class Event:
    rv: int
    type: str  # ADDED, MODIFIED, DELETED
    key: Key
    obj: dict


def _without_rv(obj: dict) -> dict:
    md = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "resourceVersion"}
    return {**obj, "metadata": md}


@dataclass(eq=False)
class Watcher:
    loop: asyncio.AbstractEventLoop
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def notify(self) -> None:
        self.loop.call_soon_threadsafe(self.wake.set)


class Hub:
    def __init__(self, source: Callable[[], dict[Key, dict]], max_age: float = 0.0) -> None:
        self._source = source
        self._max_age = max_age
        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._objects: dict[Key, dict] = {}
        self._rv = 0
        self._taken = 0.0
        self._events: collections.deque[Event] = collections.deque(maxlen=EVENT_LOG)
        self._watchers: set[Watcher] = set()
        self._stop = threading.Event()
        self._poke = threading.Event()  # a change elsewhere: watchers should hear of it now
        self._poller: threading.Thread | None = None

    @property
    def resource_version(self) -> int:
        return self._rv

    def refresh(self, force: bool = True) -> int:
        with self._refresh_lock:
            if not force and time.monotonic() - self._taken < self._max_age:
                return self._rv
            new = self._source()
            self._taken = time.monotonic()
            changed = False
            with self._lock:
                old = self._objects
                merged: dict[Key, dict] = {}
                for key, obj in new.items():
                    prev = old.get(key)
                    if prev is not None and _without_rv(prev) == obj:
                        merged[key] = prev
                        continue
                    self._rv += 1
                    obj["metadata"]["resourceVersion"] = str(self._rv)
                    merged[key] = obj
                    kind = "ADDED" if prev is None else "MODIFIED"
                    self._events.append(Event(self._rv, kind, key, obj))
                    changed = True
                for key, prev in old.items():
                    if key not in new:
                        self._rv += 1
                        gone = {**prev, "metadata": {**prev["metadata"]}}
                        gone["metadata"]["resourceVersion"] = str(self._rv)
                        self._events.append(Event(self._rv, "DELETED", key, gone))
                        changed = True
                self._objects = merged
                watchers = list(self._watchers)
            if changed:
                for w in watchers:
                    w.notify()
            return self._rv

    def objects(self, refresh: bool = True) -> tuple[int, dict[Key, dict]]:
        if refresh:
            self.refresh(force=False)
        with self._lock:
            return self._rv, dict(self._objects)

    def events_since(self, rv: int) -> list[Event]:
        with self._lock:
            return [e for e in self._events if e.rv > rv]

    # watchers
    def add(self, watcher: Watcher) -> None:
        with self._lock:
            self._watchers.add(watcher)
        if self._poller is None:
            self._poller = threading.Thread(target=self._poll, name="kubeapi-watch", daemon=True)
            self._poller.start()

    def remove(self, watcher: Watcher) -> None:
        with self._lock:
            self._watchers.discard(watcher)

    def poke(self) -> None:
        """Something changed outside the API (the config store, through `istiolab apply`):
        the watch poller takes a snapshot now instead of within a second."""
        self._poke.set()

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._poke.wait(1.0)
            self._poke.clear()
            if self._watchers and not self._stop.is_set():
                try:
                    self.refresh()
                except Exception:  # a mesh mid-change; the next round retries
                    continue

    def close(self) -> None:
        self._stop.set()
        self._poke.set()

"""fortio-style load generation from inside a pod, and fortio's summary output.

Like ``fortio load -c C -n N -qps Q``: C threads, each with one persistent connection,
each sending N/C requests one after the other (the first N%C threads send one more), so a
circuit breaker with ``maxConnections: 1`` sees C concurrent connections. A connection
that fails or is closed by the server is replaced; `LoadResult.sockets` counts them.
Socket errors are counted under code -1, as fortio does.
"""

from __future__ import annotations

import http.client
import math
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from istiolab.workloads.client import (
    Conn,
    HostsMap,
    ResolveError,
    classify,
    encode_body,
    exchange,
    open_conn,
    target_for,
)
from istiolab.workloads.images import FORTIO_VERSION

# what `fortio load` sends, so access logs and httpbin's /user-agent read as on a cluster
FORTIO_USER_AGENT = f"fortio.org/fortio-{FORTIO_VERSION}"

PERCENTILES = (50.0, 75.0, 90.0, 99.0, 99.9)
FORTIO_TIMEOUT = 3.0  # fortio's default connection and read timeout

# fortio's histogram bucket ends, in milliseconds (intervals are ]previous, end])
BUCKETS_MS = (
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 16, 18, 20, 25, 30, 35, 40, 45, 50,
    60, 70, 80, 90, 100, 120, 140, 160, 180, 200, 250, 300, 350, 400, 450, 500,
    600, 700, 800, 900, 1000, 2000, 3000, 4000, 5000, 7500, 10000,
    20000, 30000, 40000, 50000, 75000, 100000,
)  # fmt: skip


@dataclass(frozen=True)
class Sample:
    code: int  # HTTP status, or -1 for a socket error
    duration: float  # seconds
    header_size: int = 0
    total_size: int = 0
    error: str = ""


@dataclass
class LoadResult:
    url: str
    count: int
    concurrency: int
    qps: float | None  # the requested rate (None or 0: as fast as possible)
    samples: list[Sample] = field(default_factory=list)
    elapsed: float = 0.0
    sockets: int = 0
    addresses: Counter[str] = field(default_factory=Counter)
    uniform: bool = True  # connections staggered at a fixed rate (fortio's -uniform)

    @property
    def codes(self) -> dict[int, int]:
        """Requests per status code (-1: socket errors), sorted by code."""
        counts = Counter(s.code for s in self.samples)
        return dict(sorted(counts.items()))

    @property
    def errors(self) -> dict[str, int]:
        return dict(Counter(s.error for s in self.samples if s.error))

    @property
    def durations(self) -> list[float]:
        return [s.duration for s in self.samples]

    @property
    def actual_qps(self) -> float:
        return len(self.samples) / self.elapsed if self.elapsed > 0 else 0.0

    def percentile(self, p: float) -> float:
        return histogram(self.durations).percentile(p)

    def share(self, code: int) -> float:
        """Fraction (0..1) of requests answered with `code`."""
        return self.codes.get(code, 0) / len(self.samples) if self.samples else 0.0

    def to_dict(self) -> dict:
        return {
            "url": self.url,
            "calls": len(self.samples),
            "concurrency": self.concurrency,
            "requested_qps": self.qps or 0,
            "actual_qps": round(self.actual_qps, 2),
            "elapsed_seconds": round(self.elapsed, 6),
            "sockets": self.sockets,
            "codes": {str(k): v for k, v in self.codes.items()},
            "errors": self.errors,
            "percentiles": {f"p{p:g}": round(self.percentile(p), 6) for p in PERCENTILES},
        }


def load(
    url: str,
    *,
    count: int,
    concurrency: int = 1,
    qps: float | None = None,
    source_ip: str | None = None,
    proxy: str | None = None,
    hosts: HostsMap | None = None,
    namespace: str = "",
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    data: bytes | str | None = None,
    timeout: float = FORTIO_TIMEOUT,
    uniform: bool = True,
) -> LoadResult:
    """Send `count` requests over `concurrency` persistent connections; never raises. At a
    fixed `qps` the connections are staggered (fortio's ``-uniform``) unless `uniform` is
    False: then every connection fires on the same tick, in bursts."""
    if count < 1 or concurrency < 1:
        raise ValueError(f"count={count} and concurrency={concurrency} must be >= 1")
    concurrency = min(concurrency, count)
    result = LoadResult(url, count, concurrency, qps, uniform=uniform)
    body = encode_body(data)
    lock = threading.Lock()
    per, extra = divmod(count, concurrency)
    interval = concurrency / qps if qps and qps > 0 else 0.0
    start = time.perf_counter()

    def worker(index: int, n: int) -> None:
        samples: list[Sample] = []
        sockets = 0
        addresses: Counter[str] = Counter()
        conn: Conn | None = None
        for i in range(n):
            if interval:  # fortio's -uniform: worker k offset by k slots, not all on one tick
                slot = (index if uniform else 0) + i * concurrency
                delay = start + slot / qps - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            t0 = time.perf_counter()
            try:
                target = target_for(url, proxy, hosts, namespace, source_ip)
                if conn is None:
                    conn = open_conn(target.connect, source_ip, timeout)
                    sockets += 1
                    addresses[f"{target.connect[0]}:{target.connect[1]}"] += 1
                resp, payload = exchange(
                    conn, method.upper(), target, headers, body, FORTIO_USER_AGENT
                )
            except (OSError, http.client.HTTPException, ResolveError, ValueError) as exc:
                samples.append(Sample(-1, time.perf_counter() - t0, error=classify(exc)[0]))
                if conn is not None:
                    conn.close()
                conn = None
                continue
            head = len(f"HTTP/1.1 {resp.status} {resp.reason}\r\n") + 2
            head += sum(len(k) + len(v) + 4 for k, v in resp.getheaders())
            samples.append(Sample(resp.status, time.perf_counter() - t0, head, head + len(payload)))
            if resp.will_close:
                conn.close()
                conn = None
        if conn is not None:
            conn.close()
        with lock:
            result.samples.extend(samples)
            result.sockets += sockets
            result.addresses.update(addresses)

    threads = [
        threading.Thread(target=worker, args=(i, per + (1 if i < extra else 0)), daemon=True)
        for i in range(concurrency)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.elapsed = time.perf_counter() - start
    if proxy:
        result.addresses.clear()  # the sidecar picks the endpoints; nothing to report
    return result


@dataclass(frozen=True)
class Bucket:
    start: float
    end: float
    percent: float  # cumulative
    count: int


@dataclass(frozen=True)
class Histogram:
    values: tuple[float, ...]
    buckets: tuple[Bucket, ...]

    @property
    def count(self) -> int:
        return len(self.values)

    @property
    def min(self) -> float:
        return min(self.values) if self.values else 0.0

    @property
    def max(self) -> float:
        return max(self.values) if self.values else 0.0

    @property
    def sum(self) -> float:
        return math.fsum(self.values)

    @property
    def avg(self) -> float:
        return self.sum / self.count if self.values else 0.0

    @property
    def stddev(self) -> float:
        if not self.values:
            return 0.0
        avg = self.avg
        return math.sqrt(max(0.0, math.fsum(v * v for v in self.values) / self.count - avg**2))

    def percentile(self, p: float) -> float:
        """fortio's estimate: linear interpolation inside the bucket that crosses `p`."""
        if not self.buckets:
            return 0.0
        if p >= 100:
            return self.max
        previous = 0.0
        for b in self.buckets:
            if p <= b.percent:
                if b is self.buckets[0] and p <= 100.0 / self.count:
                    return b.start
                span = b.percent - previous
                return b.start + (b.end - b.start) * (p - previous) / span if span else b.end
            previous = b.percent
        return self.max


def histogram(values: list[float], divider: float = 0.001) -> Histogram:
    """Bucket `values` (seconds) like fortio's duration histogram (1 ms resolution)."""
    if not values:
        return Histogram((), ())
    counts = [0] * (len(BUCKETS_MS) + 1)
    for v in values:
        scaled = v / divider - 0.0001
        idx = next((i for i, end in enumerate(BUCKETS_MS) if scaled <= end), len(BUCKETS_MS))
        counts[idx] += 1
    lo, hi, total = min(values), max(values), len(values)
    buckets: list[Bucket] = []
    seen = 0
    previous_end = BUCKETS_MS[0] * divider
    for i, n in enumerate(counts):
        end = BUCKETS_MS[i] * divider if i < len(BUCKETS_MS) else hi
        if n:
            seen += n
            start = lo if not buckets else previous_end
            buckets.append(Bucket(start, end, 100.0 * seen / total, n))
        if i < len(BUCKETS_MS):
            previous_end = end
    last = buckets[-1]
    buckets[-1] = Bucket(last.start, hi, last.percent, last.count)
    return Histogram(tuple(values), tuple(buckets))


def _g(value: float, digits: int = 6) -> str:
    return f"{value:.{digits}g}"


def go_duration(seconds: float) -> str:
    """Go's time.Duration String(): 59.8524ms, 1.502s, 2m3.5s."""
    if seconds < 1e-6:
        return f"{seconds * 1e9:.0f}ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3f}".rstrip("0").rstrip(".") + "µs"
    if seconds < 1:
        return f"{seconds * 1e3:.6f}".rstrip("0").rstrip(".") + "ms"
    minutes, rest = divmod(seconds, 60)
    text = f"{rest:.9f}".rstrip("0").rstrip(".") + "s"
    return f"{int(minutes)}m{text}" if minutes else text


def _counter_line(title: str, values: list[float]) -> str:
    h = histogram(values)
    return (
        f"{title} : count {h.count} avg {_g(h.avg, 8)} +/- {_g(h.stddev, 4)} "
        f"min {h.min:g} max {h.max:g} sum {_g(h.sum, 9)}"
    )


def _histogram_lines(title: str, values: list[float]) -> list[str]:
    """fortio's histogram block: the counter line, the buckets and the target percentiles."""
    h = histogram(values)
    lines = [_counter_line(title, values), "# range, mid point, percentile, count"]
    for i, b in enumerate(h.buckets):
        sep = ">=" if i == 0 else ">"
        lines.append(
            f"{sep} {_g(b.start)} <= {_g(b.end)} , {_g((b.start + b.end) / 2)} , "
            f"{b.percent:.2f}, {b.count}"
        )
    lines += [f"# target {p:g}% {_g(h.percentile(p))}" for p in PERCENTILES]
    return lines


def format_fortio(result: LoadResult) -> str:
    """fortio load's summary: histogram, ``# target 50% ...``, ``Code 200 : 17 (85.0 %)``."""
    n = len(result.samples)
    c = result.concurrency
    rate = f"{result.qps:g}" if result.qps else "0"
    per, extra = divmod(result.count, c)
    lines = [
        f"Fortio {FORTIO_VERSION} running at {rate} queries per second, "
        f"{c}->{c} procs, for {result.count} calls: {result.url}",
        f"Starting at {'max' if not result.qps else f'{result.qps:g}'} qps with {c} "
        f"thread(s) [gomax {c}] for exactly {result.count} calls "
        f"({per} per thread + {extra})",
        f"Ended after {go_duration(result.elapsed)} : {n} calls. qps={result.actual_qps:.5g}",
    ]
    lines += _histogram_lines("Aggregated Function Time", result.durations)
    h = histogram(result.durations)
    errors = [s.duration for s in result.samples if not 200 <= s.code < 300]
    lines += _histogram_lines("Error cases", errors) if errors else ["Error cases : no data"]
    lines.append(f"Sockets used: {result.sockets} (for perfect keepalive, would be {c})")
    lines.append(f"Uniform: {'true' if result.qps and result.uniform else 'false'}, Jitter: false")
    if result.addresses:
        lines.append("IP addresses distribution:")
        lines += [f"{addr}: {k}" for addr, k in sorted(result.addresses.items())]
    for code, k in result.codes.items():
        lines.append(f"Code {code} : {k} ({100.0 * k / n:.1f} %)")
    heads = [float(s.header_size) for s in result.samples]
    totals = [float(s.total_size) for s in result.samples]
    lines.append(_counter_line("Response Header Sizes", heads))
    lines.append(_counter_line("Response Body/Total Sizes", totals))
    avg_ms = 1000.0 * h.avg
    lines.append(
        f"All done {n} calls (plus 0 warmup) {avg_ms:.3f} ms avg, {result.actual_qps:.1f} qps"
    )
    return "\n".join(lines) + "\n"

"""What the xDS server knows about each proxy, per xDS type: sent, ACKed or NACKed
versions, in the words of ``istioctl proxy-status`` (SYNCED, NOT SENT, STALE, NACK)."""

from __future__ import annotations

from dataclasses import dataclass, field

from istiolab.local.model import (
    CLUSTER_TYPE,
    ENDPOINT_TYPE,
    EXTENSION_TYPE,
    LISTENER_TYPE,
    ROUTE_TYPE,
    SECRET_TYPE,
)

# type URL -> the short name statuses are keyed by
SHORT = {
    CLUSTER_TYPE: "CDS",
    ENDPOINT_TYPE: "EDS",
    LISTENER_TYPE: "LDS",
    ROUTE_TYPE: "RDS",
    SECRET_TYPE: "SDS",
    EXTENSION_TYPE: "ECDS",
}


@dataclass(frozen=True)
class TypeStatus:
    """One xDS type of one proxy."""

    sent_version: str = ""
    acked_version: str = ""
    nack: str = ""  # error detail of the last NACK (cleared by a later ACK)
    last_ack: float | None = None
    sent_at: float | None = None
    resources: int = 0
    error: str = ""  # a resource the server could not encode (not sent)

    @property
    def state(self) -> str:
        """``istioctl proxy-status`` words: SYNCED, NOT SENT, STALE or NACK."""
        if self.nack:
            return "NACK"
        if not self.sent_version:
            return "NOT SENT"
        return "SYNCED" if self.acked_version == self.sent_version else "STALE"


@dataclass(frozen=True)
class ProxyStatus:
    node_id: str
    connected_since: float
    push_version: int  # the last push this proxy's stream has processed
    types: dict[str, TypeStatus] = field(default_factory=dict)  # "CDS", "EDS", ...

    def state(self, kind: str) -> str:
        return self.types.get(kind, TypeStatus()).state

    @property
    def synced(self) -> bool:
        needed = ("CDS", "LDS")
        if any(self.state(k) != "SYNCED" for k in needed):
            return False
        return all(t.state in ("SYNCED", "NOT SENT") and not t.nack for t in self.types.values())

    def to_dict(self) -> dict:
        return {
            "node_id": self.node_id,
            "connected_since": self.connected_since,
            "push_version": self.push_version,
            "synced": self.synced,
            "types": {
                k: {
                    "state": v.state,
                    "sent_version": v.sent_version,
                    "acked_version": v.acked_version,
                    "nack": v.nack,
                    "last_ack": v.last_ack,
                    "resources": v.resources,
                    "error": v.error,
                }
                for k, v in self.types.items()
            },
        }

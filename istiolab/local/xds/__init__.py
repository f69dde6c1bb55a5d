"""The local control plane's xDS side: an ADS gRPC server and the JSON<->proto bridge."""

from istiolab.local.xds.protos import to_any, to_dict
from istiolab.local.xds.server import XdsServer
from istiolab.local.xds.status import ProxyStatus, TypeStatus

__all__ = ["ProxyStatus", "TypeStatus", "XdsServer", "to_any", "to_dict"]

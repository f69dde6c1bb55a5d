"""istiolab: an infrastructure-as-code toolkit and lab for the Istio service mesh."""

__version__ = "0.1.0"

"""The embedded local mesh: real Envoy sidecars and gateway programmed over xDS."""

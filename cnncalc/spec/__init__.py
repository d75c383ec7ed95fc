"""Reading specs: untrusted YAML/JSON with caps (safeload), blocks and repeat (blocks), and validation into
a :class:`~cnncalc.spec.network.Network` (network)."""

"""The built-in specs made in advance, one module per ``cnncalc/zoo/*.yaml``: see :mod:`cnncalc.spec.zoo`."""

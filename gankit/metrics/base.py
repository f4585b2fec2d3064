"""What a registered metric is: a name, ``fn(run) -> dict`` and ``applies(dataset)``.

Kept apart from gankit/metrics/__init__.py so that metric modules can import it while
the registries are being filled (no circular import).
"""
from __future__ import annotations


class Metric:
    def __init__(self, name, fn, applies, help):
        self.name, self.fn, self.applies, self.help = name, fn, applies, help

    def __call__(self, run) -> dict:
        return self.fn(run)


def register_metrics(registry, specs):
    """Register (name, fn, applies, help) tuples as Metric entries of ``registry``."""
    for name, fn, applies, help in specs:
        registry.register(name, None, help)(
            lambda n=name, f=fn, a=applies, h=help: Metric(n, f, a, h))

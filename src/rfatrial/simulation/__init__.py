"""Trial-level simulation: power and sample size of the study's survival comparisons.

The modules are imported explicitly, e.g. ``from rfatrial.simulation import power``.
"""

__all__: list[str] = []

"""Trial-level simulation: power and sample size of the study's survival comparisons.

The modules are imported explicitly, e.g. ``from rfatrial.simulation import power``.
"""

# The compiled simulator (make kernel) is used only while it matches its sources: the kernel,
# imported first, decides before any module of this package is found.
import rfatrial.kernel  # noqa: F401

__all__: list[str] = []

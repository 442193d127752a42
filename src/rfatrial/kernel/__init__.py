"""The pure clinical kernel: protocol, calculators, pathway engine, schedule.

Imports nothing from Django or any web framework; adapters (database, web, CLI) wrap it.
"""

from rfatrial.kernel._compiled import install as _install

# the compiled engine (make kernel) only while it matches its sources
_install()

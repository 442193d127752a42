"""The pure clinical kernel: protocol, calculators, pathway engine, schedule.

Imports nothing from Django or any web framework; adapters (database, web, CLI) wrap it.
"""

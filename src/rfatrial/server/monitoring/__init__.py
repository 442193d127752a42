"""Monitoring of the study data: data queries, electronic signatures and record locks.

- :mod:`.records` names every kind of record a query, a signature or a lock refers to;
- :mod:`.queries` opens, answers, closes and re-opens data queries (never deleted);
- :mod:`.edit_checks` opens and closes automatic queries after each clinical write, from the
  checks declared in ``data/edit_checks.toml``;
- :mod:`.signing` signs records (the investigator re-enters his password), voids a signature when
  the record changes, and locks records against change (the data manager);
- :mod:`.vitals` records vital signs and ECGs.
"""

"""The study database as a report's cohort: every patient's history, read losslessly.

The histories come from :func:`rfatrial.server.study.convert.history_from_db`, the same converter
the server uses to evaluate a patient, so the report on the database and the report on a cohort
directory holding the same histories are the same report, with the same snapshot hash
(:func:`rfatrial.analysis.report.snapshot_hash` hashes the histories' content, not their storage).

Django is imported only here and only when a function runs: the statistics package and the
command line do not need it. The caller sets Django up (:func:`rfatrial.server.setup`) unless it
runs inside the server already.
"""

from __future__ import annotations

from collections.abc import Sequence

from rfatrial.analysis.report import Cohort, cohort_of
from rfatrial.kernel.history import PatientHistory

__all__ = ["database_cohort", "database_histories"]


def database_histories(sites: Sequence[str] | None = None) -> list[PatientHistory]:
    """Every stored patient's history (of ``sites`` only, when given), by site and study id.

    Parameters
    ----------
    sites
        Site codes to read; None reads every site.
    """
    from rfatrial.server.study import models as m
    from rfatrial.server.study.convert import history_from_db

    patients = m.Patient.objects.select_related("site").order_by("site__code", "study_id")
    if sites is not None:
        patients = patients.filter(site__code__in=list(sites))
    return [history_from_db(p) for p in patients]


def database_cohort(sites: Sequence[str] | None = None) -> Cohort:
    """The study database (or its ``sites``) as a :class:`~rfatrial.analysis.report.Cohort`.

    Raises
    ------
    ValueError
        When no patient is stored (at those sites).
    """
    where = "every site" if sites is None else "site " + ", ".join(sorted(sites))
    if sites is not None and len(sites) != 1:
        where = "sites " + ", ".join(sorted(sites))
    return cohort_of(database_histories(sites), f"study database ({where})")

"""The web application of the study team: sign-in, worklist, patient page, data entry, lab gate.

Pages read what the engine stored at the last write (:class:`~rfatrial.server.study.models.
PatientState`, ``NextAction``, ``Deviation``) and write only through
:func:`rfatrial.server.study.services.record_event`. A user sees the patients of the sites where he
holds a role, and nothing else: any other patient is a 404.
"""

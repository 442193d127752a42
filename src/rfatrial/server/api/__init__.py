"""The study server's REST API (django-ninja), mounted at ``/api/``.

``endpoints`` holds the API: patients per site, every record type of the kernel's history (list,
create, amend with the version read, delete with a reason), the patient's evaluation, the audit
trail of a record, randomization, and the caller's own API tokens. ``access`` decides who sees and
writes what (roles per site), ``auth`` authenticates (the browser's session with CSRF, or a bearer
token stored hashed), ``randomize`` opens the study (seed and allocation lists with their hash)
and allocates, one slot at a time, under a lock.
"""

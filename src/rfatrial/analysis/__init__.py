"""Survival statistics of the study: Kaplan-Meier, log-rank, Cox, RMST, competing risks.

Each estimator lives in its own module and is matched to R (``survival``, ``cmprsk``) by the
tests; the names below are the public API.
"""

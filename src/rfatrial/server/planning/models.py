"""The session plan: what the planner proposed for the next RFA session, what the investigator
chose, why, and what became of it (draft, confirmed, done, cancelled).

A plan is study data (:class:`~rfatrial.server.study.models.StudyRecord`): versioned and written
only through the audit trail. A patient has at most one open plan (draft or confirmed) at a time.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models

from rfatrial.server.study import models as study


class PlanStatus(models.TextChoices):
    DRAFT = "draft"
    CONFIRMED = "confirmed"
    DONE = "done"
    CANCELLED = "cancelled"


OPEN = (PlanStatus.DRAFT, PlanStatus.CONFIRMED)


class SessionPlan(study.StudyRecord):
    """One patient's plan for one RFA session (its number among the patient's sessions)."""

    patient = models.ForeignKey(study.Patient, on_delete=models.PROTECT, related_name="+")
    session = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=16, choices=PlanStatus.choices, default="draft")
    # The planner's proposal when the plan was last saved: the next session, and the split of
    # every remaining ablatable lesion over the sessions left.
    proposed_lesions = models.JSONField(default=list, blank=True)
    proposed_split = models.JSONField(default=list, blank=True)
    # The investigator's choice.
    lesions = models.JSONField(default=list, blank=True)
    planned_date = models.DateField(null=True, blank=True)
    reasons = models.TextField(blank=True, default="")
    # The kernel's findings on the choice when it was last saved (refusals, reasons, warnings).
    findings = models.JSONField(default=list, blank=True)
    protocol_version = models.CharField(max_length=64)
    drafted_by = models.CharField(max_length=150)
    drafted_at = models.DateTimeField()
    confirmed_by = models.CharField(max_length=150, blank=True, default="")
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # The session recorded for this plan (its place in the history, not a foreign key: the
    # services keep it in step when the session is corrected or deleted), and the lesions it
    # treated.
    rfa_session_seq = models.PositiveIntegerField(null=True, blank=True)
    performed_lesions = models.JSONField(default=list, blank=True)

    class Meta:
        constraints: ClassVar[list[Any]] = [
            models.UniqueConstraint(
                fields=["patient"],
                condition=models.Q(status__in=["draft", "confirmed"]),
                name="one_open_plan_per_patient",
            )
        ]

    @property
    def differs(self) -> bool:
        """Done with other lesions than the confirmed plan."""
        return self.status == PlanStatus.DONE and set(self.lesions) != set(self.performed_lesions)

    @property
    def not_done(self) -> list[str]:
        return [x for x in self.lesions if x not in self.performed_lesions]

    @property
    def not_planned(self) -> list[str]:
        return [x for x in self.performed_lesions if x not in self.lesions]

"""Opening the study and randomizing a patient: concealed, one slot at a time, under a lock.

:func:`open_study` records the seed and the method once. With permuted blocks it generates, from
the seed, the list of every stratum it can enumerate (each site that exists, times the levels of
the other factors) and fixes the SHA-256 of them all (:func:`~rfatrial.kernel.randomization.
list_hash`); the list of a stratum that appears later (a site opened after the study) is generated
from the same seed when its first patient is randomized, and its own hash recorded then.

:func:`randomize` allocates within one transaction that locks the study row (and, on SQLite,
the whole database from its start): the stratum's next unused slot is given to the patient and the
randomization event is recorded through :func:`~rfatrial.server.study.services.record_event`, so
either both happen or neither, and no slot is used twice or skipped. Nothing reads a slot ahead:
the arm is known only once it is assigned. With minimization the arm comes from
:func:`~rfatrial.kernel.randomization.minimization_arm` over every randomization so far.
"""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone

from rfatrial.kernel.protocol import Protocol, default_protocol
from rfatrial.kernel.randomization import (
    Allocation,
    Stratum,
    allocation_list,
    list_hash,
    minimization_arm,
    stratum_of,
)
from rfatrial.server.api.models import AllocationSlot, RandomizationList, StudySettings
from rfatrial.server.study import models as m
from rfatrial.server.study.audit import Actor, audited
from rfatrial.server.study.convert import read_events
from rfatrial.server.study.services import WriteResult, record_event

__all__ = [
    "NotEligibleError",
    "RandomizationError",
    "StudyNotOpenError",
    "open_study",
    "randomize",
    "strata_of_study",
    "verify_lists",
]


class RandomizationError(Exception):
    """A randomization that cannot happen now (the message says why)."""


class StudyNotOpenError(RandomizationError):
    pass


class NotEligibleError(RandomizationError):
    pass


def stratum_key(stratum: Stratum) -> str:
    return "|".join(f"{k}={v}" for k, v in stratum)


def strata_of_study(protocol: Protocol, site_codes: list[str]) -> list[Stratum]:
    """Every stratum the protocol's factors make with these sites."""
    levels: list[list[tuple[str, str]]] = []
    for factor in protocol.randomization.strata:
        if factor.levels:
            values = list(factor.levels)
        elif factor.name == "site":
            values = sorted(site_codes)
        elif factor.name == "liver_lesions":
            cut = factor.cut_point if factor.cut_point is not None else 5
            values = [f"<={cut}", f">{cut}"]
        else:
            raise ValueError(f"randomization.strata.{factor.name}: the levels must be listed")
        levels.append([(factor.name, v) for v in values])
    return [tuple(combo) for combo in itertools.product(*levels)]


def _store_list(
    stratum: Stratum, allocations: tuple[Allocation, ...], now: Any
) -> RandomizationList:
    row = RandomizationList.objects.create(
        key=stratum_key(stratum),
        stratum=[list(level) for level in stratum],
        length=len(allocations),
        list_hash=list_hash({stratum: allocations}),
        created_at=now,
    )
    AllocationSlot.objects.bulk_create(
        AllocationSlot(list=row, slot=a.slot, block=a.block, block_size=a.block_size, arm=a.arm)
        for a in allocations
    )
    return row


def open_study(
    seed: int,
    *,
    actor: Actor,
    protocol: Protocol | None = None,
    slots_per_stratum: int = 100,
) -> StudySettings:
    """Open the study: record the seed and method, generate the lists, fix their hash (once)."""
    protocol = protocol or default_protocol()
    if slots_per_stratum < 1:
        raise ValueError("slots_per_stratum: at least one")
    now = timezone.now()
    method = protocol.randomization.method
    with audited(actor, "study opened") as audit:
        if StudySettings.objects.select_for_update().exists():
            raise RandomizationError("the study is already open (its seed is recorded once)")
        lists: dict[Stratum, tuple[Allocation, ...]] = {}
        if method == "permuted_blocks":
            codes = list(m.Site.objects.values_list("code", flat=True))
            for stratum in strata_of_study(protocol, codes):
                lists[stratum] = allocation_list(
                    protocol, seed=seed, stratum=stratum, length=slots_per_stratum
                )
                _store_list(stratum, lists[stratum], now)
        return audit.create(
            StudySettings,
            opened_at=now,
            protocol_version=protocol.study.version,
            method=method,
            seed=seed,
            slots_per_stratum=slots_per_stratum,
            list_hash=list_hash(lists) if lists else "",
        )


def _list_for(study: StudySettings, protocol: Protocol, stratum: Stratum) -> RandomizationList:
    row = RandomizationList.objects.select_for_update().filter(key=stratum_key(stratum)).first()
    if row is None:
        allocations = allocation_list(
            protocol, seed=study.seed, stratum=stratum, length=study.slots_per_stratum
        )
        row = _store_list(stratum, allocations, timezone.now())
    return row


def randomize(
    patient: m.Patient,
    *,
    actor: Actor,
    justification: str | None = None,
    today: date | None = None,
    protocol: Protocol | None = None,
) -> WriteResult:
    """Allocate the patient's arm and record the randomization, atomically.

    Raises :class:`StudyNotOpenError`, :class:`NotEligibleError` (no eligible screening with
    consent, or already randomized), :class:`RandomizationError` (the stratum's list is used up),
    and the errors of :func:`~rfatrial.server.study.services.record_event`.
    """
    protocol = protocol or default_protocol()
    today = today or date.today()
    with transaction.atomic():
        study = StudySettings.objects.select_for_update().first()
        if study is None:
            raise StudyNotOpenError("the study is not open: nobody can be randomized yet")
        patient = m.Patient.objects.select_for_update().select_related("site").get(pk=patient.pk)
        events = [s.event for s in read_events(patient)]
        if any(e.type == "randomization" for e in events):
            raise NotEligibleError("the patient is already randomized")
        screening = next((e for e in events if e.type == "screening"), None)
        if screening is None:
            raise NotEligibleError("no screening is recorded: screen the patient first")
        if not screening.eligible:
            raise NotEligibleError("the screening found the patient not eligible")
        if screening.consent_date > today:
            raise NotEligibleError("consent is dated after today")
        stratum = stratum_of(
            protocol,
            site=patient.site.code,
            liver_lesion_count=screening.liver_lesion_count,
            ras_status=screening.ras_status,
        )
        slot: AllocationSlot | None = None
        if study.method == "minimization":
            previous = [
                (tuple((str(k), str(v)) for k, v in r.stratum.items()), r.arm)
                for r in m.Randomization.objects.order_by("pk").only("stratum", "arm")
            ]
            arm = minimization_arm(
                protocol,
                seed=study.seed,
                sequence=len(previous),
                stratum=stratum,
                previous=previous,
            )
        else:
            lst = _list_for(study, protocol, stratum)
            if lst.next_slot >= lst.length:
                raise RandomizationError(
                    f"the allocation list of stratum {lst.key} is used up ({lst.length} slots)"
                )
            slot = AllocationSlot.objects.select_for_update().get(list=lst, slot=lst.next_slot)
            arm = slot.arm
        event = {"type": "randomization", "date": today, "arm": arm, "stratum": dict(stratum)}
        result = record_event(
            patient,
            event,
            actor=actor,
            justification=justification,
            reason="randomized",
            today=today,
            protocol=protocol,
        )
        if slot is not None:
            slot.patient = patient
            slot.assigned_at = timezone.now()
            slot.save(update_fields=["patient", "assigned_at"])
            updated = RandomizationList.objects.filter(pk=lst.pk, next_slot=lst.next_slot).update(
                next_slot=lst.next_slot + 1
            )
            if updated != 1:  # cannot happen under the lock; never hand out a slot twice
                raise RandomizationError("the allocation list moved on; try again")
    return result


def verify_lists(protocol: Protocol | None = None) -> list[str]:
    """Problems with the stored lists: a slot that differs from the seed's list, a changed hash,
    a slot used out of order. Empty when all is well."""
    protocol = protocol or default_protocol()
    study = StudySettings.objects.first()
    if study is None or study.method != "permuted_blocks":
        return []
    problems: list[str] = []
    at_opening: dict[Stratum, tuple[Allocation, ...]] = {}
    for row in RandomizationList.objects.order_by("pk"):
        stratum: Stratum = tuple((str(k), str(v)) for k, v in row.stratum)
        stored = tuple(
            Allocation(s.slot, s.block, s.block_size, s.arm) for s in row.slots.order_by("slot")
        )
        expected = allocation_list(protocol, seed=study.seed, stratum=stratum, length=row.length)
        if stored != expected:
            problems.append(f"list {row.key}: its slots are not the seed's list")
        if list_hash({stratum: stored}) != row.list_hash:
            problems.append(f"list {row.key}: its hash changed")
        used = list(row.slots.filter(patient__isnull=False).values_list("slot", flat=True))
        if sorted(used) != list(range(row.next_slot)):
            problems.append(f"list {row.key}: slots used out of order")
        if row.created_at <= study.opened_at:
            at_opening[stratum] = stored
    if at_opening and list_hash(at_opening) != study.list_hash:
        problems.append("the lists made at opening no longer have the recorded hash")
    return problems

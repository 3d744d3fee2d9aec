"""Reads for shell completion (queuectl.complete): small and bounded, whatever the store's size."""

from __future__ import annotations

import json

from ..models import Job
from .connection import guarded


@guarded
def job_ids_starting(prefix: str, recent: int) -> list[str]:
    """Ids starting with prefix: among the newest `recent` jobs (the index on seq), then, when
    those give few, any older ones (a bounded LIKE scan)."""
    found = [
        job_id
        for (job_id,) in Job.select(Job.id).order_by(Job.seq.desc()).limit(recent).tuples()
        if job_id.startswith(prefix)
    ]
    if prefix and len(found) < 20:
        seen = set(found)
        older = Job.select(Job.id).where(Job.id.startswith(prefix)).order_by(Job.seq.desc()).limit(recent)
        found += [job_id for (job_id,) in older.tuples() if job_id.startswith(prefix) and job_id not in seen]
    return found


@guarded
def labels_starting(prefix: str, recent: int) -> list[str]:
    """Labels starting with prefix that the newest `recent` labelled jobs carry, most used first
    (a label no recent job carries is not offered: bounded, whatever the store's size)."""
    rows = Job.select(Job.labels).where(Job.labels.is_null(False)).order_by(Job.seq.desc()).limit(recent)
    uses: dict[str, int] = {}
    for (labels,) in rows.tuples():
        for label in json.loads(labels):
            if label.startswith(prefix):
                uses[label] = uses.get(label, 0) + 1
    return sorted(uses, key=lambda label: (-uses[label], label))

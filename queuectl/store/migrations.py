"""Schema migrations, one function per version step, applied in order in one transaction.

Version 1 is the first released schema, so there is nothing to migrate yet; a store without a
version row predates versioning and cannot be upgraded automatically.
"""
from __future__ import annotations

from ..errors import StoreError

#: version -> function that upgrades a store from version-1 to version (playhouse.migrate inside)
STEPS: dict = {}


def migrate(from_version: int) -> None:
    from ..models import SCHEMA_VERSION, Setting, db

    if from_version < 1:
        raise StoreError("the store has no schema version; it was not made by queuectl")
    with db.atomic():
        for version in range(from_version + 1, SCHEMA_VERSION + 1):
            STEPS[version]()
        Setting.update(value=str(SCHEMA_VERSION)).where(Setting.key == "schema_version").execute()

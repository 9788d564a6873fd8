"""Start-up migrations: additive only.

Missing tables are created, missing columns added (nullable), missing indexes created; nothing existing is dropped
or rewritten.  On PostgreSQL, REAL (float4) columns of the original are widened to double precision, which keeps
every stored value.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import peewee
from peewee import DoubleField
from playhouse.migrate import SchemaMigrator

from pairs.db.models import MODELS, BaseModel
from pairs.db.urls import StoreError

log = logging.getLogger("pairs.store")


def migrate(db: peewee.Database, models: Iterable[type[BaseModel]] | None = None) -> list[str]:
    """Bring the schema up to date; returns what was done, one line per change."""
    done: list[str] = []
    models = list(models or MODELS)
    migrator = SchemaMigrator.from_database(db)
    with db.atomic():
        for model in models:
            table = model._meta.table_name
            if not db.table_exists(table):
                model.create_table(safe=True)
                done.append(f"created table {table}")
                continue
            existing = {c.name: c for c in db.get_columns(table)}
            for field in model._meta.sorted_fields:
                if field.column_name not in existing:
                    if not field.null and field.default is None:
                        raise StoreError(f"cannot add NOT NULL column {table}.{field.column_name} without default")
                    migrator.add_column(table, field.column_name, field).run()
                    done.append(f"added column {table}.{field.column_name}")
                elif (isinstance(db, peewee.PostgresqlDatabase) and isinstance(field, DoubleField)
                      and existing[field.column_name].data_type.lower() == "real"):
                    db.execute_sql(f'ALTER TABLE "{table}" ALTER COLUMN "{field.column_name}" TYPE double precision')
                    done.append(f"widened {table}.{field.column_name} to double precision")
            model._schema.create_indexes(safe=True)
    for line in done:
        log.info("migration: %s", line)
    return done

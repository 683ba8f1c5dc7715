"""ledger version: one row bumped by triggers on every table the cached reports read

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 21:00:00.000000

See ``cfdi_cobranza/db/models/ledger_version.py`` for the design. PostgreSQL bumps
once per transaction at COMMIT (deferred row-level constraint triggers plus a
statement trigger for TRUNCATE); SQLite bumps per written row.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

# Frozen copy of models.ledger_version.TRACKED_TABLES at this revision.
TRACKED = ("company", "customer", "document", "credit", "payment", "external_payment", "credit_condition",
           "sale_assignment", "follow_up", "follow_up_document", "follow_up_closure", "follow_up_type",
           "aging_setting")
EVENTS = ("INSERT", "UPDATE", "DELETE")

PG_UPSERT = ("INSERT INTO ledger_version (id, version, generation) "
             "VALUES (1, 1, (random() * 9007199254740991)::bigint) "
             "ON CONFLICT (id) DO UPDATE SET version = ledger_version.version + 1")
SQLITE_UPSERT = ("INSERT INTO ledger_version (id, version, generation) VALUES (1, 1, random()) "
                 "ON CONFLICT (id) DO UPDATE SET version = version + 1")


def upgrade() -> None:
    op.create_table('ledger_version',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.Column('generation', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_version'))
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_UPSERT)
        # Deferred: runs at COMMIT, once per transaction (the flag is transaction-local),
        # so the version row is locked only while the writer commits.
        op.execute(f"""
            CREATE FUNCTION cobranza_ledger_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF current_setting('cobranza.ledger_bumped', true) = '1' THEN
                    RETURN NULL;
                END IF;
                PERFORM set_config('cobranza.ledger_bumped', '1', true);
                {PG_UPSERT};
                RETURN NULL;
            END $$""")
        op.execute(f"""
            CREATE FUNCTION cobranza_ledger_version_bump_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                {PG_UPSERT};
                RETURN NULL;
            END $$""")
        for table in TRACKED:
            op.execute(f"CREATE CONSTRAINT TRIGGER ledger_version_bump AFTER INSERT OR UPDATE OR DELETE ON {table} "
                       "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION cobranza_ledger_version_bump()")
            op.execute(f"CREATE TRIGGER ledger_version_truncate AFTER TRUNCATE ON {table} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION cobranza_ledger_version_bump_truncate()")
        return
    op.execute(SQLITE_UPSERT)
    for table in TRACKED:
        for event in EVENTS:
            op.execute(f"CREATE TRIGGER ledger_version_{table}_{event.lower()} AFTER {event} ON {table} "
                       f"BEGIN {SQLITE_UPSERT}; END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TRACKED:
            op.execute(f"DROP TRIGGER IF EXISTS ledger_version_bump ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS ledger_version_truncate ON {table}")
        op.execute("DROP FUNCTION IF EXISTS cobranza_ledger_version_bump()")
        op.execute("DROP FUNCTION IF EXISTS cobranza_ledger_version_bump_truncate()")
    else:
        for table in TRACKED:
            for event in EVENTS:
                op.execute(f"DROP TRIGGER IF EXISTS ledger_version_{table}_{event.lower()}")
    op.drop_table('ledger_version')

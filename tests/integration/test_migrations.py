"""The Alembic migrations produce exactly the models' schema, and 0008 upgrades existing users."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from cfdi_cobranza.db.models import Base
from cfdi_cobranza.db.session import alembic_config, migrate


def test_migrations_match_models(engine):
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        assert ctx.get_current_heads() == ("0014",)
        assert compare_metadata(ctx, Base.metadata) == []


def test_0008_session_epoch_defaults_existing_users_to_zero(engine):
    cfg = alembic_config(engine)
    try:
        command.downgrade(cfg, "0007")
        with engine.begin() as conn:
            cols = {c for (c,) in conn.execute(text(
                "SELECT name FROM pragma_table_info('app_user')" if engine.dialect.name == "sqlite" else
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'app_user'"))}
            assert "session_epoch" not in cols
            conn.execute(text(
                "INSERT INTO app_user (username, password_hash, role, active, failed_logins, created_at) "
                "VALUES ('antes', 'x', 'consulta', :t, 0, :at)"), {"t": True, "at": "2026-11-20 17:00:00"})
    finally:
        migrate(engine)
    with engine.begin() as conn:
        assert conn.execute(text("SELECT session_epoch FROM app_user WHERE username = 'antes'")).scalar_one() == 0
        conn.execute(text("DELETE FROM app_user WHERE username = 'antes'"))


def test_0010_pagos_facts_up_and_down_keeps_the_documents(engine):
    """0010 adds ``document.pagos_facts`` (NULL for rows already there: their REPs read the
    XML) and its downgrade drops it, keeping the rows, indexes and triggers of the table."""
    cfg = alembic_config(engine)

    def columns() -> set[str]:
        with engine.connect() as conn:
            return {c for (c,) in conn.execute(text(
                "SELECT name FROM pragma_table_info('document')" if engine.dialect.name == "sqlite" else
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'document'"))}

    def schema() -> set[str]:  # indexes and triggers on document (0007's ledger_version ones)
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                return {n for (n,) in conn.execute(text(
                    "SELECT name FROM sqlite_master WHERE tbl_name = 'document' AND type IN ('index', 'trigger')"))}
            return {n for (n,) in conn.execute(text(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'document' UNION "
                "SELECT tgname FROM pg_trigger WHERE tgrelid = 'document'::regclass AND NOT tgisinternal"))}

    before = schema()
    assert any("ledger_version" in n for n in before) and "ix_document_open_aging" in before
    try:
        command.downgrade(cfg, "0009")
        assert "pagos_facts" not in columns()
        assert schema() == before
        command.upgrade(cfg, "0010")
        assert "pagos_facts" in columns()
        assert schema() == before
    finally:
        migrate(engine)

"""Alembic environment: runs on the engine handed in by ``cfdi_cobranza.db.session.migrate``."""

from __future__ import annotations

from alembic import context

from cfdi_cobranza.config import Settings
from cfdi_cobranza.db.models import Base
from cfdi_cobranza.db.session import make_engine

config = context.config
engine = config.attributes.get("engine")
if engine is None:  # plain `alembic` command line: build from the URL in the config
    engine = make_engine(config.get_main_option("sqlalchemy.url") or Settings.from_env().database_url)

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()

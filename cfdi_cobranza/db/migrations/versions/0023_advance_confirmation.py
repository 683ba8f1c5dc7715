"""payments applied to an invoice dated after them: flagged until a user confirms

Revision ID: 0023
Revises: 0021
Create Date: 2026-12-06 23:20:00.000000

``credit.advance_pending``: the application was paid before its invoice and its REP
waits for a confirmation (NULL on every existing row: nothing to confirm);
``advance_confirmed_at`` / ``_by`` / ``advance_note``: who confirmed it, when, and why.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cfdi_cobranza.db.types import UtcDateTime

revision = '0023'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('credit') as batch:
        batch.add_column(sa.Column('advance_pending', sa.Boolean(), nullable=True))
        batch.add_column(sa.Column('advance_confirmed_at', UtcDateTime(), nullable=True))
        batch.add_column(sa.Column('advance_confirmed_by', sa.String(length=100), nullable=True))
        batch.add_column(sa.Column('advance_note', sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('credit') as batch:
        batch.drop_column('advance_note')
        batch.drop_column('advance_confirmed_by')
        batch.drop_column('advance_confirmed_at')
        batch.drop_column('advance_pending')

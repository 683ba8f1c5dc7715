"""configurable debt document types

Revision ID: 0021
Revises: 0014
Create Date: 2026-12-06 23:10:00.000000

``debt_document_type``: a type's name, whether it may be post-dated, its states and
allowed moves (validated against ``DebtStatus``'s table). Empty: the built-in types
(``domain.debts.DEFAULT_TYPES``) apply, so existing documents keep their meaning.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cfdi_cobranza.db.types import UtcDateTime

revision = '0021'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'debt_document_type',
        sa.Column('code', sa.String(length=12), nullable=False),
        sa.Column('nombre', sa.String(length=60), nullable=False),
        sa.Column('posfechable', sa.Boolean(), nullable=False),
        sa.Column('estados', sa.String(length=200), nullable=False),
        sa.Column('transiciones', sa.Text(), nullable=False),
        sa.Column('updated_at', UtcDateTime(), nullable=False),
        sa.Column('updated_by', sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint('code', name=op.f('pk_debt_document_type')),
    )


def downgrade() -> None:
    op.drop_table('debt_document_type')

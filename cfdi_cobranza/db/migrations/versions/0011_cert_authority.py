"""document.autoridad and import_conflict: who issued the sealing certificate, and UUIDs in conflict

Revision ID: 0011
Revises: 0020
Create Date: 2026-12-06 22:30:00.000000

Documents imported before this revision were not checked: they read "no verificada".
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cfdi_cobranza.db.types

revision = '0011'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN on both databases (no table rebuild on SQLite: the ledger_version
    # triggers of revision 0007 stay).
    op.add_column('document', sa.Column('autoridad', sa.String(length=20), server_default='no verificada',
                                        nullable=False))
    op.create_table('import_conflict',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('xml', sa.LargeBinary(), nullable=False),
    sa.Column('file', sa.String(length=500), nullable=False),
    sa.Column('sello_sat', sa.String(length=20), nullable=False),
    sa.Column('autoridad', sa.String(length=20), nullable=False),
    sa.Column('existing_sha256', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('created_at', cfdi_cobranza.db.types.UtcDateTime(), nullable=False),
    sa.Column('resolved_at', cfdi_cobranza.db.types.UtcDateTime(), nullable=True),
    sa.Column('resolved_by', sa.String(length=100), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_conflict')),
    sa.UniqueConstraint('uuid', 'sha256', name='uq_import_conflict_uuid_sha256')
    )
    op.create_index(op.f('ix_import_conflict_uuid'), 'import_conflict', ['uuid'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_import_conflict_uuid'), table_name='import_conflict')
    op.drop_table('import_conflict')
    op.drop_column('document', 'autoridad')

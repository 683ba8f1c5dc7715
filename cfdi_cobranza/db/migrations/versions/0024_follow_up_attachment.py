"""follow-up attachments: the letter PDF kept with its follow-up of type carta

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06 23:10:00.000000

``follow_up_attachment``: one file per follow-up (the letter a customer was sent), read
only like the follow-up file: triggers refuse UPDATE and DELETE, as migration 0004 does
for ``follow_up``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None

REFUSAL = "REGISTRO_INMUTABLE"
TABLE = "follow_up_attachment"


def upgrade() -> None:
    op.create_table(TABLE,
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('follow_up_id', sa.Integer(), nullable=False),
    sa.Column('nombre', sa.String(length=200), nullable=False),
    sa.Column('mimetype', sa.String(length=100), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('carta_tipo', sa.String(length=30), nullable=True),
    sa.Column('fecha_corte', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['follow_up_id'], ['follow_up.id'], name=op.f('fk_follow_up_attachment_follow_up_id_follow_up')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_follow_up_attachment')),
    sa.UniqueConstraint('follow_up_id', name=op.f('uq_follow_up_attachment_follow_up_id'))
    )
    op.create_index('ix_follow_up_attachment_letter', TABLE, ['carta_tipo', 'fecha_corte'], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        # cobranza_refuse_change() is migration 0004's.
        op.execute(f"CREATE TRIGGER {TABLE}_read_only BEFORE UPDATE OR DELETE ON {TABLE} "
                   "FOR EACH ROW EXECUTE FUNCTION cobranza_refuse_change()")
        return
    for action in ("UPDATE", "DELETE"):
        op.execute(f"CREATE TRIGGER {TABLE}_no_{action.lower()} BEFORE {action} ON {TABLE} BEGIN "
                   f"SELECT RAISE(ABORT, '{REFUSAL}: {action} no permitido en {TABLE}: "
                   "el registro es de solo lectura'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_read_only ON {TABLE}")
    else:
        for action in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_no_{action}")
    op.drop_index('ix_follow_up_attachment_letter', table_name=TABLE)
    op.drop_table(TABLE)

"""payment forms allowed per customer, and authorizations of a form for one receipt

Revision ID: 0020
Revises: 0018
Create Date: 2026-12-06 22:55:00.000000

``credit_condition.formas_permitidas``: NULL (every existing customer) keeps accepting
any payment form. ``credit_authorization.forma_pago`` / ``settlement_id``: the form an
authorization lets through and the settlement that used it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('credit_condition') as batch:
        batch.add_column(sa.Column('formas_permitidas', sa.String(length=200), nullable=True))
    with op.batch_alter_table('credit_authorization') as batch:
        batch.add_column(sa.Column('forma_pago', sa.String(length=2), nullable=True))
        batch.add_column(sa.Column('settlement_id', sa.Integer(), nullable=True))
        batch.create_foreign_key(batch.f('fk_credit_authorization_settlement_id_settlement'), 'settlement',
                                 ['settlement_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('credit_authorization') as batch:
        batch.drop_constraint(batch.f('fk_credit_authorization_settlement_id_settlement'), type_='foreignkey')
        batch.drop_column('settlement_id')
        batch.drop_column('forma_pago')
    with op.batch_alter_table('credit_condition') as batch:
        batch.drop_column('formas_permitidas')

"""companies a user may see: user_company

Revision ID: 0018
Revises: 0010
Create Date: 2026-12-06 22:30:00.000000

One row per (user, company) the user is limited to. A user without rows sees every
company, so upgrading limits nobody.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('user_company',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_user_company_company_id_company'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_user_company_user_id_app_user'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'company_id', name=op.f('pk_user_company'))
    )


def downgrade() -> None:
    op.drop_table('user_company')

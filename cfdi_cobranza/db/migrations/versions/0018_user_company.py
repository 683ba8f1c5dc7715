"""companies are boundaries: user_company and company_pac_setting

Revision ID: 0018
Revises: 0013
Create Date: 2026-12-06 22:30:00.000000

One row per (user, company) the user is limited to. A user without rows sees every
company, so upgrading limits nobody. ``company_pac_setting``: a company's own PAC account;
without a row the company keeps stamping with the installation's PAC.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cfdi_cobranza.db.types

revision = '0018'
down_revision = '0013'
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
    op.create_table('company_pac_setting',
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=10), nullable=False),
    sa.Column('env', sa.String(length=10), nullable=False),
    sa.Column('user', sa.String(length=200), nullable=True),
    sa.Column('password_sealed', sa.LargeBinary(), nullable=True),
    sa.Column('token_sealed', sa.LargeBinary(), nullable=True),
    sa.Column('url', sa.String(length=500), nullable=True),
    sa.Column('updated_at', cfdi_cobranza.db.types.UtcDateTime(), nullable=False),
    sa.Column('updated_by', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_company_pac_setting_company_id_company'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('company_id', name=op.f('pk_company_pac_setting'))
    )


def downgrade() -> None:
    op.drop_table('company_pac_setting')
    op.drop_table('user_company')

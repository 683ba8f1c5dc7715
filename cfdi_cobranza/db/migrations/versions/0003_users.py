"""users: web users (role, throttling) and API tokens (stored as SHA-256)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 19:10:45.944733
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cfdi_cobranza.db.types

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('app_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('full_name', sa.String(length=200), nullable=True),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', cfdi_cobranza.db.types.UtcDateTime(), nullable=True),
    sa.Column('last_login_at', cfdi_cobranza.db.types.UtcDateTime(), nullable=True),
    sa.Column('created_at', cfdi_cobranza.db.types.UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_app_user')),
    sa.UniqueConstraint('username', name=op.f('uq_app_user_username'))
    )
    op.create_table('api_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=12), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('scopes', sa.String(length=200), nullable=True),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', cfdi_cobranza.db.types.UtcDateTime(), nullable=False),
    sa.Column('last_used_at', cfdi_cobranza.db.types.UtcDateTime(), nullable=True),
    sa.Column('revoked_at', cfdi_cobranza.db.types.UtcDateTime(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_api_token_user_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_token')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_token_token_hash'))
    )


def downgrade() -> None:
    # Tokens reference users: drop them first.
    op.drop_table('api_token')
    op.drop_table('app_user')

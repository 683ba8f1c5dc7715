"""server-side web sessions and sign-in attempts per (username, address)

Revision ID: 0013
Revises: 0010
Create Date: 2026-12-06 22:10:00.000000

``web_session``: one row per signed-in browser session (the SHA-256 of the random id
the cookie carries); signing out deletes it, so a cookie copied before ``/logout`` no
longer works. Cookies issued before this revision carry no id: their holders sign in
once more after upgrading.

``login_attempt``: failed sign-ins per (username, client address), for known and
unknown usernames alike, and the growing delay they earned. It replaces the
per-account lock (``app_user.failed_logins``/``locked_until`` stay, for display), so
nobody can lock another person's account from their own address. Starts empty.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cfdi_cobranza.db.types

revision = '0013'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('login_attempt',
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('ip', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failure_at', cfdi_cobranza.db.types.UtcDateTime(), nullable=False),
    sa.Column('blocked_until', cfdi_cobranza.db.types.UtcDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('username', 'ip', name=op.f('pk_login_attempt'))
    )
    op.create_table('web_session',
    sa.Column('id_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', cfdi_cobranza.db.types.UtcDateTime(), nullable=False),
    sa.Column('expires_at', cfdi_cobranza.db.types.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_web_session_user_id_app_user'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id_hash', name=op.f('pk_web_session'))
    )
    op.create_index('ix_web_session_user_id', 'web_session', ['user_id'], unique=False)
    op.create_index('ix_web_session_expires_at', 'web_session', ['expires_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_web_session_expires_at', table_name='web_session')
    op.drop_index('ix_web_session_user_id', table_name='web_session')
    op.drop_table('web_session')
    op.drop_table('login_attempt')

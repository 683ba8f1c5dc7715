"""login attempts per client address: throttles password spraying across accounts

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 12:00:00.000000

One row per client address that failed to sign in: failures counted in the current
window and, once the threshold is reached, the time the block ends. The per-account
lock (``app_user.failed_logins``/``locked_until``) is unchanged. The table starts
empty, so upgrading blocks nobody.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cfdi_cobranza.db.types

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('login_attempt_ip',
    sa.Column('ip', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('window_start', cfdi_cobranza.db.types.UtcDateTime(), nullable=False),
    sa.Column('blocked_until', cfdi_cobranza.db.types.UtcDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('ip', name=op.f('pk_login_attempt_ip'))
    )


def downgrade() -> None:
    op.drop_table('login_attempt_ip')

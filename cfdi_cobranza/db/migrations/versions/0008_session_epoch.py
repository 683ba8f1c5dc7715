"""session epoch: a counter per user that ends older web sessions when it changes

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 10:00:00.000000

The web session stores the user's ``session_epoch`` at sign-in; a password change,
a reset by an administrator or a deactivation bumps the column, and any session
carrying an older value is signed out on its next request. Existing rows start at 0
(the server default), which is also what a session from before this revision is
taken to carry, so upgrading does not sign anybody out.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_epoch', sa.Integer(), server_default=sa.text('0'), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.drop_column('session_epoch')

"""job and rep_policy: durable background jobs and each company's automatic-REP policy

Revision ID: 0014
Revises: 0015
Create Date: 2026-12-06 22:30:00.000000

``job`` is the ledger's record of queued work (the broker carries only its id);
``rep_policy`` one row per company that changed the default (``diario``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cfdi_cobranza.db.types import UtcDateTime

revision = '0014'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'job',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('kind', sa.String(60), nullable=False),
        sa.Column('args', sa.Text(), nullable=False),
        sa.Column('key', sa.String(200), nullable=False, unique=True),
        sa.Column('label', sa.String(300)),
        sa.Column('state', sa.String(12), nullable=False),
        sa.Column('progress_done', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('progress_total', sa.Integer()),
        sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('max_attempts', sa.Integer(), nullable=False, server_default='5'),
        sa.Column('error_code', sa.String(60)),
        sa.Column('error_message', sa.Text()),
        sa.Column('result', sa.Text()),
        sa.Column('worker', sa.String(120)),
        sa.Column('published_at', UtcDateTime()),
        sa.Column('lease_until', UtcDateTime()),
        sa.Column('run_after', UtcDateTime()),
        sa.Column('created_by', sa.String(100), nullable=False),
        sa.Column('created_at', UtcDateTime(), nullable=False),
        sa.Column('started_at', UtcDateTime()),
        sa.Column('finished_at', UtcDateTime()),
    )
    op.create_index('ix_job_state_id', 'job', ['state', 'id'])
    op.create_table(
        'rep_policy',
        sa.Column('company_id', sa.Integer(), sa.ForeignKey('company.id'), primary_key=True),
        sa.Column('mode', sa.String(12), nullable=False),
        sa.Column('hora', sa.String(5), nullable=False),
        sa.Column('dia', sa.Integer(), nullable=False),
        sa.Column('updated_at', UtcDateTime(), nullable=False),
        sa.Column('updated_by', sa.String(100), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('rep_policy')
    op.drop_index('ix_job_state_id', 'job')
    op.drop_table('job')

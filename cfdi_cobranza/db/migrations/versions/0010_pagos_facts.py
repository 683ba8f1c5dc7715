"""document.pagos_facts: what issuing a REP reads of an invoice, kept beside its XML

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23 03:00:00.000000

JSON written by the importer (``domain.invoice_facts``), tagged with the SHA-256 of
the stored XML. Rows imported before this revision have none: issuing their REPs reads
the XML, as before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN on both databases (no table rebuild on SQLite).
    op.add_column('document', sa.Column('pagos_facts', sa.Text(), nullable=True))


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite 3.35+): a batch rebuild of ``document`` would drop the
    # ledger_version triggers of revision 0007 with the old table.
    op.drop_column('document', 'pagos_facts')

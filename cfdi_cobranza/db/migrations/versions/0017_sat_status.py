"""SAT status answers, the 69-B list, exchange rates, the Banxico token; a document's SAT state and a payment's review flag

Revision ID: 0017
Revises: 0011
Create Date: 2026-12-06 22:30:00.000000

New tables only, plus plain ADD COLUMNs (nullable, no table rebuild on SQLite, so the
ledger_version triggers of revision 0007 stay).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cfdi_cobranza.db.types

revision = '0017'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sat_status_check',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('checked_at', cfdi_cobranza.db.types.UtcDateTime(), nullable=False),
    sa.Column('estado', sa.String(length=30), nullable=True),
    sa.Column('codigo_estatus', sa.String(length=200), nullable=True),
    sa.Column('es_cancelable', sa.String(length=60), nullable=True),
    sa.Column('estatus_cancelacion', sa.String(length=60), nullable=True),
    sa.Column('validacion_efos', sa.String(length=10), nullable=True),
    sa.Column('error_code', sa.String(length=40), nullable=True),
    sa.Column('error_message', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['document_id'], ['document.id'], name=op.f('fk_sat_status_check_document_id_document'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sat_status_check'))
    )
    op.create_index('ix_sat_status_check_document_at', 'sat_status_check', ['document_id', 'checked_at'], unique=False)
    op.create_table('efos_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rfc', sa.String(length=13), nullable=False),
    sa.Column('nombre', sa.String(length=300), nullable=False),
    sa.Column('situacion', sa.String(length=30), nullable=False),
    sa.Column('fecha_presunto', sa.Date(), nullable=True),
    sa.Column('fecha_desvirtuado', sa.Date(), nullable=True),
    sa.Column('fecha_definitivo', sa.Date(), nullable=True),
    sa.Column('fecha_sentencia', sa.Date(), nullable=True),
    sa.Column('imported_at', cfdi_cobranza.db.types.UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_efos_entry')),
    sa.UniqueConstraint('rfc', name=op.f('uq_efos_entry_rfc'))
    )
    op.create_table('exchange_rate',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('fecha', sa.Date(), nullable=False),
    sa.Column('moneda', sa.String(length=3), nullable=False),
    sa.Column('tipo_cambio', cfdi_cobranza.db.types.Rate(), nullable=False),
    sa.Column('fuente', sa.String(length=40), nullable=False),
    sa.Column('updated_at', cfdi_cobranza.db.types.UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_exchange_rate')),
    sa.UniqueConstraint('moneda', 'fecha', name='uq_exchange_rate_moneda_fecha')
    )
    op.create_table('banxico_setting',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('token_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('updated_at', cfdi_cobranza.db.types.UtcDateTime(), nullable=False),
    sa.Column('updated_by', sa.String(length=100), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_banxico_setting_single_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_banxico_setting'))
    )
    op.add_column('document', sa.Column('estado_sat', sa.String(length=30), nullable=True))
    op.add_column('document', sa.Column('fecha_cancelacion', sa.Date(), nullable=True))
    op.add_column('payment', sa.Column('revisar', sa.String(length=500), nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMNs (SQLite 3.35+): a batch rebuild of ``document`` would drop the
    # ledger_version triggers of revision 0007 with the old table.
    op.drop_column('payment', 'revisar')
    op.drop_column('document', 'fecha_cancelacion')
    op.drop_column('document', 'estado_sat')
    op.drop_table('banxico_setting')
    op.drop_table('exchange_rate')
    op.drop_table('efos_entry')
    op.drop_index('ix_sat_status_check_document_at', table_name='sat_status_check')
    op.drop_table('sat_status_check')

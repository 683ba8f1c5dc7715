"""sat download: the company's e.firma (sealed) and the descarga masiva state

Revision ID: 0016
Revises: 0017
Create Date: 2026-12-06 22:30:00.000000

``company_fiel`` keeps the e.firma like ``company_csd`` (key and password only as
Fernet tokens). ``sat_request`` / ``sat_package`` keep each request to the SAT and its
packages so an interrupted ``cobranza sat sync`` resumes; ``sat_metadata`` keeps the
Estatus and FechaCancelacion of each issued CFDI from the metadata packages.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cfdi_cobranza.db.types

revision = '0016'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('company_fiel',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('no_certificado', sa.String(length=20), nullable=False),
    sa.Column('certificate_der', sa.LargeBinary(), nullable=False),
    sa.Column('key_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('password_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', cfdi_cobranza.db.types.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_company_fiel_company_id_company')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_company_fiel'))
    )
    op.create_index(op.f('ix_company_fiel_company_id'), 'company_fiel', ['company_id'], unique=False)
    op.create_table('sat_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('fecha_inicial', sa.Date(), nullable=False),
    sa.Column('fecha_final', sa.Date(), nullable=False),
    sa.Column('id_solicitud', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('cod_estatus', sa.String(length=10), nullable=True),
    sa.Column('mensaje', sa.String(length=500), nullable=True),
    sa.Column('numero_cfdis', sa.Integer(), nullable=True),
    sa.Column('created_at', cfdi_cobranza.db.types.UtcDateTime(), nullable=False),
    sa.Column('updated_at', cfdi_cobranza.db.types.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_sat_request_company_id_company')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sat_request'))
    )
    op.create_index(op.f('ix_sat_request_company_id'), 'sat_request', ['company_id'], unique=False)
    op.create_index(op.f('ix_sat_request_status'), 'sat_request', ['status'], unique=False)
    op.create_table('sat_package',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('package_id', sa.String(length=100), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('documents', sa.Integer(), nullable=False),
    sa.Column('imported', sa.Integer(), nullable=False),
    sa.Column('duplicates', sa.Integer(), nullable=False),
    sa.Column('refused', sa.Integer(), nullable=False),
    sa.Column('ignored', sa.Integer(), nullable=False),
    sa.Column('done_at', cfdi_cobranza.db.types.UtcDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['request_id'], ['sat_request.id'], name=op.f('fk_sat_package_request_id_sat_request')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sat_package')),
    sa.UniqueConstraint('request_id', 'package_id', name=op.f('uq_sat_package_request_id_package_id'))
    )
    op.create_index(op.f('ix_sat_package_request_id'), 'sat_package', ['request_id'], unique=False)
    op.create_table('sat_metadata',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('rfc_receptor', sa.String(length=13), nullable=True),
    sa.Column('estatus', sa.String(length=1), nullable=False),
    sa.Column('fecha_cancelacion', sa.DateTime(), nullable=True),
    sa.Column('updated_at', cfdi_cobranza.db.types.UtcDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['company.id'], name=op.f('fk_sat_metadata_company_id_company')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sat_metadata')),
    sa.UniqueConstraint('company_id', 'uuid', name=op.f('uq_sat_metadata_company_id_uuid'))
    )
    op.create_index(op.f('ix_sat_metadata_company_id'), 'sat_metadata', ['company_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_sat_metadata_company_id'), table_name='sat_metadata')
    op.drop_table('sat_metadata')
    op.drop_index(op.f('ix_sat_package_request_id'), table_name='sat_package')
    op.drop_table('sat_package')
    op.drop_index(op.f('ix_sat_request_status'), table_name='sat_request')
    op.drop_index(op.f('ix_sat_request_company_id'), table_name='sat_request')
    op.drop_table('sat_request')
    op.drop_index(op.f('ix_company_fiel_company_id'), table_name='company_fiel')
    op.drop_table('company_fiel')

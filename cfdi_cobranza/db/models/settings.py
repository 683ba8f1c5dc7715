"""Instance-wide settings changed from Configuración (one row each).

``PacSetting`` is the PAC chosen in the web (``services.settings.set_pac_setting``).
The password and token are stored only as :class:`~cfdi_cobranza.secrets.SecretBox`
(Fernet) tokens; there is no column that holds them in clear. Environment variables
(``COBRANZA_PAC``) still win over this row, see ``services.settings.pac_for``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from cfdi_cobranza.db.models.base import Base
from cfdi_cobranza.db.types import UtcDateTime

PAC_SETTING_ID = 1


class PacSetting(Base):
    """The PAC this instance stamps with: a single row (``id`` is always 1)."""

    __tablename__ = "pac_setting"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False, default=PAC_SETTING_ID)
    name: Mapped[str] = mapped_column(String(10))  # sandbox | finkok | sw
    env: Mapped[str] = mapped_column(String(10))  # test | production
    user: Mapped[str | None] = mapped_column(String(200))
    password_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    token_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    url: Mapped[str | None] = mapped_column(String(500))  # optional host override
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_by: Mapped[str] = mapped_column(String(100))

    def __repr__(self) -> str:  # never the sealed secrets
        return f"PacSetting(name={self.name!r}, env={self.env!r}, user={self.user!r})"


class CompanyPacSetting(Base):
    """A company's own PAC account (accounting firms: each client stamps with its own).

    Same columns and rules as ``PacSetting``; a company without a row stamps with the
    installation's PAC. The environment (``COBRANZA_PAC``) still wins over both.
    """

    __tablename__ = "company_pac_setting"

    company_id: Mapped[int] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(10))
    env: Mapped[str] = mapped_column(String(10))
    user: Mapped[str | None] = mapped_column(String(200))
    password_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    token_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    url: Mapped[str | None] = mapped_column(String(500))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_by: Mapped[str] = mapped_column(String(100))

    def __repr__(self) -> str:  # never the sealed secrets
        return f"CompanyPacSetting(company_id={self.company_id}, name={self.name!r}, env={self.env!r})"


__all__ = ["PAC_SETTING_ID", "CompanyPacSetting", "PacSetting"]

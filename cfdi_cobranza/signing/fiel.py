"""The company's e.firma (FIEL): the certificate the SAT's web services (descarga masiva) accept.

FIEL versus CSD, the rule (the SAT issues both to the same RFC, from the same CA):

- an **e.firma** has keyUsage with dataEncipherment and/or keyAgreement besides
  digitalSignature + nonRepudiation, and extendedKeyUsage emailProtection + clientAuth;
  its subject has no OU (the SAT's test FIEL EKU9003173C9 expiring 2023 is such a one);
- a **CSD** has keyUsage digitalSignature + nonRepudiation only, no extendedKeyUsage,
  and usually a subject OU naming the branch ("Sucursal 1").

``Certificate.is_fiel`` implements the extension test (the OU is optional, so it is not
used). The descarga masiva refuses a CSD (code 305 "Certificado inválido"); we refuse
it before storing, in Spanish.

``load_fiel`` runs every check, each with its own code: FIEL_INVALIDO, FIEL_PASSWORD,
FIEL_NO_CORRESPONDE, FIEL_ES_CSD, FIEL_VENCIDO, FIEL_NO_VIGENTE, FIEL_OTRO_RFC.
"""

from __future__ import annotations

from datetime import date

from cfdi_cobranza.errors import CertificateError
from cfdi_cobranza.signing.csd import Certificate, Signer


def load_fiel(
    cer_bytes: bytes,
    key_bytes: bytes,
    password: str | bytes,
    *,
    rfc: str | None,
    today: date,
    checked: bool = False,
) -> tuple[Certificate, Signer]:
    """Load an e.firma, refusing a CSD, a wrong password or key, expiry and another RFC."""
    try:
        cert = Certificate.from_bytes(cer_bytes)
    except CertificateError as exc:
        raise CertificateError("El archivo .cer de la e.firma no es un certificado válido.",
                               code="FIEL_INVALIDO") from exc
    if not cert.is_fiel:
        raise CertificateError(
            "El certificado es un Certificado de Sello Digital (CSD), no la e.firma (FIEL): la descarga "
            "masiva del SAT solo acepta la e.firma. Use el .cer y .key de la e.firma de la empresa.",
            code="FIEL_ES_CSD",
        )
    try:
        signer = Signer.from_key_bytes(key_bytes, password, cert, checked=checked)
    except CertificateError as exc:
        raise CertificateError(
            "La contraseña de la llave privada de la e.firma es incorrecta o el archivo .key está dañado.",
            code="FIEL_PASSWORD",
        ) from exc
    if not signer.matches(cert):
        raise CertificateError("La llave privada (.key) no corresponde al certificado (.cer) de la e.firma.",
                               code="FIEL_NO_CORRESPONDE")
    if today > cert.valid_to.date():
        raise CertificateError(
            f"La e.firma {cert.no_certificado} venció el {cert.valid_to.date():%d/%m/%Y}; renuévela en el SAT.",
            code="FIEL_VENCIDO", valid_to=cert.valid_to.date().isoformat())
    if today < cert.valid_from.date():
        raise CertificateError(
            f"La e.firma {cert.no_certificado} aún no está vigente: inicia el {cert.valid_from.date():%d/%m/%Y}.",
            code="FIEL_NO_VIGENTE", valid_from=cert.valid_from.date().isoformat())
    if rfc is not None and cert.rfc != rfc.strip().upper():
        raise CertificateError(
            f"La e.firma pertenece al RFC {cert.rfc}, no a la empresa {rfc.strip().upper()}.",
            code="FIEL_OTRO_RFC", cert_rfc=cert.rfc)
    return cert, signer


__all__ = ["load_fiel"]

"""e.firma registration and the SAT's descarga masiva against a loopback fake that speaks
its protocol (signed SOAP, tokens, the SAT's codes and faults). No internet.

The e.firma checks use the SAT's own test FIEL (tests/data/sat-fiel, expired 2023, loaded
with a 2022 ``today``); the syncs use one generated with ``cryptography`` in the same
shape (tests/fakes/fiel.py), since they run today.
"""

from __future__ import annotations

import itertools
import uuid as uuidlib
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from cfdi_cobranza.cfdi.factory import CfdiFactory
from cfdi_cobranza.config import Settings
from cfdi_cobranza.db.models import Company, Document
from cfdi_cobranza.db.models.sat_download import CompanyFiel, SatPackage, SatRequest
from cfdi_cobranza.db.session import transaction
from cfdi_cobranza.errors import CertificateError, CobranzaError
from cfdi_cobranza.sat.descarga import DescargaMasiva, DescargaUrls, SatDescargaError
from cfdi_cobranza.sat.descarga_http import Retry, Timeouts
from cfdi_cobranza.secrets import SecretBox
from cfdi_cobranza.services import sat_sync
from cfdi_cobranza.services.importing import Importer
from cfdi_cobranza.signing.csd import Certificate
from cfdi_cobranza.signing.fiel import load_fiel
from tests.fakes.fiel import make_fiel
from tests.fakes.sat_descarga import FakeCfdi, SatDescargaFake
from tests.fakes.server import FakePac, Reply, free_port_url

DATA = Path(__file__).resolve().parents[1] / "data"
CORPUS_CERTS = Path("/work/shared/corpus/certs")
RFC = "EKU9003173C9"
TODAY = date(2026, 12, 6)


@pytest.fixture(scope="module")
def fiel():
    return make_fiel(RFC)


@pytest.fixture(scope="module")
def fiel_pair(fiel):
    return load_fiel(fiel.cer, fiel.key, fiel.password, rfc=RFC, today=TODAY)


@pytest.fixture(scope="module")
def factory(tmp_path_factory):
    counter = itertools.count(1)
    return CfdiFactory(tmp_path_factory.mktemp("sandbox"), uuid_source=lambda: uuidlib.UUID(int=next(counter) + 0x5A7000),
                       clock=lambda: datetime(2026, 10, 1, 12, 0, 0))


def _client(fake: SatDescargaFake, fiel_pair, *, attempts: int = 2, read: float = 2.0) -> DescargaMasiva:
    cert, signer = fiel_pair
    return DescargaMasiva(cert, signer, urls=DescargaUrls.under(fake.url), timeouts=Timeouts(connect=1, read=read),
                          retry=Retry(attempts=attempts, backoff=0), sleep=lambda s: None)


@pytest.fixture
def fake(fiel_pair):
    server = SatDescargaFake(certificates=[fiel_pair[0]])
    with server:
        yield server


# --- the e.firma ---------------------------------------------------------------------------


def _real_fiel() -> tuple[bytes, bytes]:
    folder = DATA / "sat-fiel"
    return (folder / "EKU9003173C9_FIEL.cer").read_bytes(), (folder / "EKU9003173C9_FIEL.key").read_bytes()


def test_the_sats_test_fiel_is_accepted_and_classified_as_fiel():
    cer, key = _real_fiel()
    cert, signer = load_fiel(cer, key, "12345678a", rfc=RFC, today=date(2022, 6, 1))
    assert cert.is_fiel and not cert.is_csd and cert.rfc == RFC
    assert signer.matches(cert)


@pytest.mark.parametrize(("case", "code"), [
    ("csd", "FIEL_ES_CSD"), ("password", "FIEL_PASSWORD"), ("mismatch", "FIEL_NO_CORRESPONDE"),
    ("expired", "FIEL_VENCIDO"), ("future", "FIEL_NO_VIGENTE"), ("other_rfc", "FIEL_OTRO_RFC"),
    ("garbage", "FIEL_INVALIDO"),
])
def test_each_fiel_check_is_refused_in_spanish(case, code):
    cer, key = _real_fiel()
    password, rfc, today = "12345678a", RFC, date(2022, 6, 1)
    if case == "csd":
        if not (CORPUS_CERTS / "EKU9003173C9.cer").exists():
            pytest.skip("the SAT's test CSD is not in /work/shared/corpus/certs")
        cer, key = (CORPUS_CERTS / "EKU9003173C9.cer").read_bytes(), (CORPUS_CERTS / "EKU9003173C9.key").read_bytes()
        today = date(2024, 1, 1)
    elif case == "password":
        password = "otra"
    elif case == "mismatch":
        key = make_fiel(RFC).key
    elif case == "expired":
        today = date(2024, 1, 1)
    elif case == "future":
        today = date(2019, 1, 1)
    elif case == "other_rfc":
        rfc = "XIQB891116QE4"
    elif case == "garbage":
        cer = b"no es un certificado"
    with pytest.raises(CertificateError) as err:
        load_fiel(cer, key, password, rfc=rfc, today=today)
    assert err.value.code == code
    assert (err.value.message and "e.firma" in err.value.message) or "CSD" in err.value.message


def test_a_generated_csd_shape_is_refused_as_csd():
    csd = make_fiel(RFC, fiel=False)
    with pytest.raises(CertificateError) as err:
        load_fiel(csd.cer, csd.key, csd.password, rfc=RFC, today=TODAY)
    assert err.value.code == "FIEL_ES_CSD"


def _company(engine) -> None:
    with transaction(engine) as s:
        s.add(Company(rfc=RFC, nombre="ESCUELA KEMPER URGATE SA DE CV", created_at=datetime.now(UTC)))


def test_register_fiel_stores_it_sealed_never_in_clear(sqlite_engine, tmp_path, fiel):
    _company(sqlite_engine)
    box = SecretBox.for_instance(tmp_path)
    with transaction(sqlite_engine) as s:
        sat_sync.register_fiel(s, RFC, fiel.cer, fiel.key, fiel.password, box, today=TODAY)
    with transaction(sqlite_engine) as s:
        row = s.scalar(select(CompanyFiel))
        assert row.active and row.certificate_der == fiel.cer
        assert row.key_sealed != fiel.key and fiel.key not in row.key_sealed
        assert fiel.password.encode() not in row.password_sealed
        assert box.open(row.key_sealed) == fiel.key
    raw = Path(str(sqlite_engine.url.database)).read_bytes()
    assert fiel.key[:64] not in raw and b"12345678a" not in raw


# --- the adapter against the fake ----------------------------------------------------------


def test_authentication_is_signed_and_checked_with_the_requesters_certificate(fake, fiel_pair):
    token = _client(fake, fiel_pair).autenticar()
    assert fake.tokens[token].der == fiel_pair[0].der
    # Another key with the same certificate: the fake (like the SAT) refuses the signature.
    other = make_fiel(RFC)
    _, other_signer = load_fiel(other.cer, other.key, other.password, rfc=RFC, today=TODAY)
    impostor = DescargaMasiva(fiel_pair[0], other_signer, urls=DescargaUrls.under(fake.url),
                              retry=Retry(attempts=1), sleep=lambda s: None)
    with pytest.raises(SatDescargaError) as err:
        impostor.autenticar()
    assert err.value.code == "SAT_AUTENTICACION_RECHAZADA"
    assert err.value.details["sat_code"] == "InvalidSecurity"


def test_an_unknown_certificate_is_refused(fake):
    other = make_fiel(RFC)
    pair = load_fiel(other.cer, other.key, other.password, rfc=RFC, today=TODAY)
    with pytest.raises(SatDescargaError) as err:
        _client(fake, pair).autenticar()
    assert err.value.code == "SAT_AUTENTICACION_RECHAZADA"


def test_request_verify_and_download_a_package(fake, fiel_pair, factory, tmp_path):
    docs = [factory.invoice() for _ in range(3)]
    fake.cfdi = [FakeCfdi(date(2026, 10, 1), d.uuid, d.xml) for d in docs]
    fake.package_size = 2
    client = _client(fake, fiel_pair)
    sol = client.solicitar("CFDI", date(2026, 10, 1), date(2026, 10, 31))
    assert sol.cod_estatus == "5000" and sol.id_solicitud
    ver = client.verificar(sol.id_solicitud)
    assert ver.estado == 3 and ver.numero_cfdis == 3 and len(ver.paquetes) == 2
    dest = tmp_path / "p.zip"
    client.descargar(ver.paquetes[0], dest)
    import zipfile
    with zipfile.ZipFile(dest) as zf:
        assert len(zf.namelist()) == 2
    assert fake.calls.count("autentica") == 1  # the token is reused until it expires


def test_the_sats_codes_reach_the_user_in_spanish_with_the_code(fake, fiel_pair, tmp_path):
    client = _client(fake, fiel_pair)
    sol = client.solicitar("CFDI", date(2026, 1, 1), date(2026, 1, 31))
    again = client.solicitar("CFDI", date(2026, 1, 1), date(2026, 1, 31))
    assert again.cod_estatus == "5005" and again.id_solicitud is None
    with pytest.raises(SatDescargaError) as err:
        client.descargar("NO-EXISTE_01", tmp_path / "x.zip")
    assert err.value.code == "SAT_PAQUETE_NO_DISPONIBLE" and err.value.details["sat_code"] == "5007"
    assert "5007" in err.value.message and not (tmp_path / "x.zip").exists()
    assert sol.id_solicitud


def test_a_package_downloaded_too_often_is_5008(fake, fiel_pair, factory, tmp_path):
    fake.cfdi = [FakeCfdi(date(2026, 10, 1), d.uuid, d.xml) for d in [factory.invoice()]]
    fake.max_downloads = 1
    client = _client(fake, fiel_pair)
    ver = client.verificar(client.solicitar("CFDI", date(2026, 10, 1), date(2026, 10, 2)).id_solicitud)
    client.descargar(ver.paquetes[0], tmp_path / "a.zip")
    with pytest.raises(SatDescargaError) as err:
        client.descargar(ver.paquetes[0], tmp_path / "b.zip")
    assert err.value.code == "SAT_DESCARGAS_AGOTADAS"


def test_transient_http_500_is_retried_and_then_reported(fake, fiel_pair):
    fake.bare_500_times = 1
    assert _client(fake, fiel_pair, attempts=2).autenticar()
    assert fake.calls[:2] == ["500", "autentica"]
    fake.bare_500_times = 5
    client = _client(fake, fiel_pair, attempts=2)
    client._token = None
    with pytest.raises(SatDescargaError) as err:
        client.autenticar()
    assert err.value.code == "SAT_NO_DISPONIBLE"


def test_a_soap_fault_is_not_retried(fake, fiel_pair):
    other = make_fiel(RFC)
    pair = load_fiel(other.cer, other.key, other.password, rfc=RFC, today=TODAY)
    with pytest.raises(SatDescargaError):
        _client(fake, pair, attempts=3).autenticar()
    assert fake.calls == ["autentica"]


def test_timeout_malformed_and_no_server(fake, fiel_pair):
    fake.hang = 1.0
    with pytest.raises(SatDescargaError) as err:
        _client(fake, fiel_pair, attempts=1, read=0.2).autenticar()
    assert err.value.code == "SAT_SIN_RESPUESTA"
    fake.hang = 0
    fake.malformed = True
    with pytest.raises(SatDescargaError) as err:
        _client(fake, fiel_pair).autenticar()
    assert err.value.code == "SAT_RESPUESTA_INVALIDA"
    cert, signer = fiel_pair
    nobody = DescargaMasiva(cert, signer, urls=DescargaUrls.under(free_port_url()), timeouts=Timeouts(connect=0.5),
                            retry=Retry(attempts=2, backoff=0), sleep=lambda s: None)
    with pytest.raises(SatDescargaError) as err:
        nobody.autenticar()
    assert err.value.code == "SAT_NO_DISPONIBLE"


def test_the_recorded_sat_answer_to_a_request_is_read(fiel_pair):
    recorded = (DATA / "sat-descarga" / "response-emited-with-id.xml").read_bytes()

    class Recorded(FakePac):
        def handle(self, method, path, headers, body):
            if path.endswith("Autenticacion.svc"):
                return Reply(200, (b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>'
                                   b'<AutenticaResponse xmlns="http://DescargaMasivaTerceros.gob.mx"><AutenticaResult>'
                                   b"tok</AutenticaResult></AutenticaResponse></s:Body></s:Envelope>"))
            return Reply(200, recorded)

    with Recorded() as server:
        cert, signer = fiel_pair
        sol = DescargaMasiva(cert, signer, urls=DescargaUrls.under(server.url)).solicitar(
            "CFDI", date(2026, 1, 1), date(2026, 1, 2))
        assert server.requests[1].headers["authorization"] == 'WRAP access_token="tok"'
    assert sol.id_solicitud == "d49af78d-1c80-4221-a48d-345ace91626b" and sol.cod_estatus == "5000"


# --- the sync ------------------------------------------------------------------------------


@pytest.fixture
def setup(engine, tmp_path, fiel, fake, factory):
    sqlite_engine = engine  # SQLite and PostgreSQL
    _company(sqlite_engine)
    settings = Settings(str(sqlite_engine.url), tmp_path / "instance")
    box = SecretBox.for_instance(settings.instance_path)
    with transaction(sqlite_engine) as s:
        sat_sync.register_fiel(s, RFC, fiel.cer, fiel.key, fiel.password, box, today=TODAY)

    def run(**kw):
        kw.setdefault("desde", date(2026, 10, 1))
        kw.setdefault("hasta", date(2026, 10, 31))
        kw.setdefault("wait_seconds", 1)
        return sat_sync.sync(
            sqlite_engine, settings, RFC, box, today=TODAY, sleep=lambda s: None, poll_interval=0,
            client_factory=lambda c, s: DescargaMasiva(c, s, urls=DescargaUrls.under(fake.url),
                                                       timeouts=Timeouts(connect=1, read=3),
                                                       retry=Retry(attempts=1, backoff=0), sleep=lambda x: None),
            importer_factory=lambda: Importer(sqlite_engine, settings, extra_cert_dirs=[factory.sandbox_dir]),
            **kw)

    return run, settings


def _docs(factory, n, fecha=date(2026, 10, 5)):
    return [FakeCfdi(fecha, d.uuid, d.xml) for d in (factory.invoice() for _ in range(n))]


def test_sync_interrupted_after_the_second_package_resumes_with_the_third_only(setup, fake, factory, engine):
    sqlite_engine = engine
    run, _ = setup
    fake.cfdi = _docs(factory, 6)
    fake.package_size = 2
    fake.polls_before_ready = 1
    # Learn the package ids, then break the third one.
    fake.package_faults = {}
    original = fake._verifica

    def verifica_and_break(sol):
        reply = original(sol)
        req = fake.requests_made.get(sol.get("IdSolicitud"))
        if req and req.kind == "CFDI" and len(req.packages) == 3:
            fake.package_faults.setdefault(req.packages[2], "500")
        return reply

    fake._verifica = verifica_and_break
    with pytest.raises(CobranzaError) as err:
        run()
    assert err.value.code == "SAT_NO_DISPONIBLE"
    with transaction(sqlite_engine) as s:
        assert len(s.scalars(select(Document)).all()) == 4
        pkgs = s.scalars(select(SatPackage).order_by(SatPackage.package_id)).all()
        assert [p.status for p in pkgs] == ["importado", "importado", "pendiente"]
    solicitudes = fake.calls.count("SolicitaDescargaEmitidos")
    fake.package_faults.clear()
    result = run()
    assert result.counts["imported"] == 2 and result.counts["duplicate"] == 0
    third = pkgs[2].package_id
    cfdi_downloads = {k: v for k, v in fake.downloads.items() if k in {p.package_id for p in pkgs}}
    assert cfdi_downloads == {pkgs[0].package_id: 1, pkgs[1].package_id: 1, third: 1}
    # Resumed the accepted CFDI request; only the metadata request is new.
    assert fake.calls.count("SolicitaDescargaEmitidos") == solicitudes + 1
    with transaction(sqlite_engine) as s:
        assert len(s.scalars(select(Document)).all()) == 6
    before = dict(fake.downloads)
    again = run()
    assert fake.downloads == before and again.counts["imported"] == 0
    assert {r["nota"] for r in again.requests} == {"ya sincronizado"}


def test_metadata_cancellations_are_stored_for_the_status_logic(setup, fake, factory, engine):
    sqlite_engine = engine
    run, _ = setup
    docs = _docs(factory, 3)
    docs[1].estatus, docs[1].fecha_cancelacion = "0", "2026-10-20 09:30:00"
    fake.cfdi = docs
    result = run()
    assert result.counts["metadata"] == 3 and result.counts["imported"] == 2  # the cancelled XML is not given
    with transaction(sqlite_engine) as s:
        company = s.scalar(select(Company))
        assert sat_sync.metadata_cancellations(s, company) == [(docs[1].uuid.upper(), datetime(2026, 10, 20, 9, 30))]


def test_a_range_over_the_sats_maximum_is_split(setup, fake, factory, engine):
    sqlite_engine = engine
    run, _ = setup
    fake.cfdi = _docs(factory, 2, date(2026, 10, 3)) + _docs(factory, 2, date(2026, 10, 25))
    fake.tope = 3
    result = run()
    assert result.counts["imported"] == 4 and not result.problems
    with transaction(sqlite_engine) as s:
        statuses = {(r.kind, r.fecha_inicial, r.fecha_final): r.status for r in s.scalars(select(SatRequest))}
    assert statuses[("CFDI", date(2026, 10, 1), date(2026, 10, 31))] == "dividida"
    assert statuses[("CFDI", date(2026, 10, 1), date(2026, 10, 16))] == "terminada"


def test_no_information_and_duplicate_are_explained(setup, fake):
    run, _ = setup
    result = run(desde=date(2026, 9, 1), hasta=date(2026, 9, 30))
    assert {r["status"] for r in result.requests} == {"sin_informacion"}
    fake.solicitud_codes = ["5005"]
    result = run(desde=date(2026, 8, 1), hasta=date(2026, 8, 31))
    assert result.problems[0]["code"] == "SAT_SOLICITUD_DUPLICADA" and result.problems[0]["sat_code"] == "5005"
    fake.solicitud_codes = ["5002"]
    result = run(desde=date(2026, 7, 1), hasta=date(2026, 7, 31))
    assert result.problems[0]["code"] == "SAT_LIMITE_DE_POR_VIDA"


def test_an_expired_request_is_asked_again(setup, fake, factory, engine):
    sqlite_engine = engine
    run, _ = setup
    fake.cfdi = _docs(factory, 1)
    fake.polls_before_ready = 10
    first = run(wait_seconds=0)
    assert first.pending
    for req in fake.requests_made.values():
        req.expired = True
    fake.polls_before_ready = 0
    result = run()
    assert result.counts["imported"] == 1
    with transaction(sqlite_engine) as s:
        assert "vencida" in {r.status for r in s.scalars(select(SatRequest))}


def test_without_a_range_it_continues_from_the_last_synced_day(setup, fake):
    run, _ = setup
    with pytest.raises(CobranzaError) as err:
        run(desde=None, hasta=None)
    assert err.value.code == "SAT_SYNC_SIN_FECHA"
    run(desde=date(2026, 11, 1), hasta=date(2026, 11, 30))
    result = run(desde=None, hasta=None)
    assert result.desde == date(2026, 11, 30) and result.hasta == TODAY


def test_two_syncs_never_overlap(setup):
    run, settings = setup
    with sat_sync.sync_lock(settings.instance_path, RFC), pytest.raises(CobranzaError) as err:
        run()
    assert err.value.code == "SAT_SYNC_EN_CURSO"


# --- the streamed package decoder ----------------------------------------------------------


def _answer(payload: bytes, *, cod: str = "5000", wrap: int = 76) -> bytes:
    import base64 as b64

    text = b64.b64encode(payload).decode()
    lines = "\r\n".join(text[i:i + wrap] for i in range(0, len(text), wrap))
    return (f'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header><h:respuesta '
            f'CodEstatus="{cod}" Mensaje="Solicitud Aceptada" xmlns:h="http://DescargaMasivaTerceros.sat.gob.mx"/>'
            f'</s:Header><s:Body><RespuestaDescargaMasivaTercerosSalida xmlns="http://DescargaMasivaTerceros.sat.gob.mx">'
            f"<Paquete>{lines}</Paquete></RespuestaDescargaMasivaTercerosSalida></s:Body></s:Envelope>").encode()


@pytest.mark.parametrize("chunk", [5, 7, 4096])
def test_decode_package_streams_any_chunking_and_wrapped_base64(chunk):
    import io
    import os

    from cfdi_cobranza.sat.descarga import decode_package

    payload = os.urandom(10_000)
    out = io.BytesIO()
    header = decode_package(io.BytesIO(_answer(payload)), out, chunk=chunk)
    assert out.getvalue() == payload and header["CodEstatus"] == "5000" and header["_paquete"] == "1"


def test_decode_package_refuses_doctype_and_bad_base64():
    import io

    from cfdi_cobranza.sat.descarga import decode_package

    evil = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]>' + _answer(b"abc")
    with pytest.raises(ValueError):
        decode_package(io.BytesIO(evil), io.BytesIO())
    bad = _answer(b"abcd").replace(b"<Paquete>", b"<Paquete>!!!!")
    with pytest.raises(ValueError):
        decode_package(io.BytesIO(bad), io.BytesIO())


# --- the CLI -------------------------------------------------------------------------------


def test_cli_company_fiel_and_sat_sync(tmp_path, monkeypatch, capsys, fake, fiel, factory):
    import json

    from cfdi_cobranza.cli.main import main

    monkeypatch.setenv("COBRANZA_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("COBRANZA_SAT_DESCARGA_URL", fake.url)
    monkeypatch.setenv("COBRANZA_SAT_RETRIES", "1")
    db = ["--db", f"sqlite:///{tmp_path / 'c.db'}"]
    assert main([*db, "init"]) == 0
    assert main([*db, "company", "add", "--rfc", RFC]) == 0
    (tmp_path / "f.cer").write_bytes(fiel.cer)
    (tmp_path / "f.key").write_bytes(fiel.key)
    monkeypatch.setenv("COBRANZA_FIEL_PASSWORD", "mala")
    assert main([*db, "company", "fiel", "--rfc", RFC, "--cer", str(tmp_path / "f.cer"), "--key",
                 str(tmp_path / "f.key")]) == 1
    assert "FIEL_PASSWORD" in capsys.readouterr().err
    monkeypatch.setenv("COBRANZA_FIEL_PASSWORD", fiel.password)
    assert main([*db, "company", "fiel", "--rfc", RFC, "--cer", str(tmp_path / "f.cer"), "--key",
                 str(tmp_path / "f.key")]) == 0
    assert "registrada" in capsys.readouterr().out
    fake.cfdi = _docs(factory, 2)
    capsys.readouterr()
    code = main([*db, "sat", "sync", "--company", RFC, "--from", "2026-10-01", "--to", "2026-10-31", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["summary"]["imported"] == 2 and data["summary"]["metadata"] == 2
    fake.stop()
    fake.start()  # another port: nobody at the configured URL any more
    monkeypatch.setenv("COBRANZA_SAT_DESCARGA_URL", free_port_url())
    code = main([*db, "sat", "sync", "--company", RFC, "--from", "2026-09-01", "--to", "2026-09-30", "--json"])
    err = json.loads(capsys.readouterr().out)["error"]
    assert code == 1 and err["code"] == "SAT_NO_DISPONIBLE" and "SAT" in err["message"]


def test_the_fakes_signature_check_accepts_a_recorded_real_request_and_refuses_a_tampered_one():
    from lxml import etree

    parser = etree.XMLParser(remove_blank_text=True)  # the recording was pretty-printed after signing
    env = etree.parse(str(DATA / "sat-descarga" / "verifica-request.xml"), parser).getroot()
    op = env.find("{*}Body")[0]
    sol = op[0]
    cert = Certificate.from_base64(sol.findtext(".//{http://www.w3.org/2000/09/xmldsig#}X509Certificate"))
    assert cert.is_fiel and cert.rfc == RFC
    assert SatDescargaFake()._check_signature(op, sol, cert) is None
    sol.set("IdSolicitud", "00000000-0000-0000-0000-000000000000")
    assert SatDescargaFake()._check_signature(op, sol, cert) == ("302", "Sello Mal Formado")


def test_the_fakes_ws_security_check_accepts_a_recorded_real_autentica_until_it_expires():
    from lxml import etree

    env = etree.parse(str(DATA / "sat-descarga" / "autentica-request.xml")).getroot()
    cert = Certificate.from_base64(env.find(".//{*}BinarySecurityToken").text)
    in_time = SatDescargaFake(certificates=[cert], now=datetime(2022, 1, 1, 0, 1, tzinfo=UTC))
    reply = in_time._autentica(env)
    assert reply.status == 200 and b"<AutenticaResult>" in reply.body
    assert SatDescargaFake(certificates=[cert], now=datetime(2022, 1, 1, 0, 6, tzinfo=UTC))._autentica(env).status == 500
    assert SatDescargaFake(certificates=[], now=datetime(2022, 1, 1, 0, 1, tzinfo=UTC))._autentica(env).status == 500
    ts = env.find(".//{*}Timestamp/{*}Created")
    ts.text = "2022-01-01T00:00:01.000000Z"  # tampered: the digest no longer matches
    assert in_time._autentica(env).status == 500


def test_a_new_request_is_not_resent_after_a_timeout_but_a_verification_is(fake, fiel_pair):
    sleeps: list[float] = []
    cert, signer = fiel_pair
    client = DescargaMasiva(cert, signer, urls=DescargaUrls.under(fake.url), timeouts=Timeouts(connect=1, read=0.3),
                            retry=Retry(attempts=3, backoff=0.5), sleep=sleeps.append)
    client.autenticar()
    fake.hang = 0.6
    with pytest.raises(SatDescargaError) as err:
        client.solicitar("CFDI", date(2026, 1, 1), date(2026, 1, 31))
    assert err.value.code == "SAT_SIN_RESPUESTA"
    def sent(action: str) -> int:  # recorded on arrival, before the fake hangs
        return sum(1 for r in fake.requests if r.headers.get("soapaction", "").endswith(action))

    assert sent("/SolicitaDescargaEmitidos") == 1 and sleeps == []  # may have reached the SAT: not resent
    with pytest.raises(SatDescargaError):
        client.verificar("3f30a4e1-af73-4085-8991-e4d97eef16bd")
    assert sent("/VerificaSolicitudDescarga") == 3 and sleeps == [0.5, 1.0]  # idempotent: backoff doubles


def test_metadata_cancels_a_document_already_in_the_ledger(setup, fake, factory, engine):
    """A document a clerk imported before, reported Estatus 0 by the metadata of the sync:
    it leaves receivables through the one cancellation rule (services.sat_status)."""
    from cfdi_cobranza.cfdi.sources import Candidate

    run, settings = setup
    docs = _docs(factory, 2)
    batch = Importer(engine, settings, extra_cert_dirs=[factory.sandbox_dir]).import_candidates(
        [Candidate("antes.xml", docs[1].xml)])
    assert batch.summary["imported"] == 1
    docs[1].estatus, docs[1].fecha_cancelacion = "0", "2026-10-20 09:30:00"
    fake.cfdi = docs
    result = run()
    assert result.counts["cancelled"] == 1
    with transaction(engine) as s:
        doc = s.scalar(select(Document).where(Document.uuid == docs[1].uuid.upper()))
        assert doc.status == "cancelado" and doc.fecha_cancelacion == date(2026, 10, 20) and doc.saldo == 0
    again = run()
    assert again.counts["cancelled"] == 0  # reported again, not counted twice

"""The SAT and Banxico adapters against loopback fakes of their real protocols, faults included."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest
from fakes.sat import BanxicoFake, FileFake, SatConsultaFake, listado_69b
from fakes.server import free_port_url

from cfdi_cobranza.errors import SatServiceError
from cfdi_cobranza.pac.transport import Timeouts
from cfdi_cobranza.sat import banxico, consulta, efos, readonly_http
from cfdi_cobranza.sat.readonly_http import ReadPolicy

UUID = "5A1D0001-0000-4000-8000-000000000001"
FAST = ReadPolicy(attempts=3, backoff=0.01, timeouts=Timeouts(connect=1.0, read=0.5))
slept: list[float] = []


def ask(fake: SatConsultaFake, uuid: str = UUID, policy: ReadPolicy = FAST) -> consulta.EstadoCfdi:
    return consulta.consultar(readonly_http.transport_for(policy), fake.url + "/ConsultaCFDIService.svc", uuid,
                              "EKU9003173C9", "URE180429TM6", Decimal("11600.00"), policy=policy,
                              sleep=slept.append)


@pytest.fixture
def sat() -> Iterator[SatConsultaFake]:
    with SatConsultaFake(estados={UUID: ("Vigente", "Cancelable con aceptación", None)}) as fake:
        assert isinstance(fake, SatConsultaFake)
        yield fake


def test_consulta_reads_every_field_and_sends_the_qr_expression(sat):
    got = ask(sat)
    assert (got.estado, got.es_cancelable, got.estatus_cancelacion, got.validacion_efos) == (
        "Vigente", "Cancelable con aceptación", None, "200")
    assert got.codigo_estatus.startswith("S - ") and not got.cancelado
    (req,) = sat.requests
    assert b"?re=EKU9003173C9&amp;rr=URE180429TM6&amp;tt=11600.00&amp;id=" + UUID.encode() in req.body


def test_consulta_cancelled_and_not_found_are_answers(sat):
    sat.estados[UUID] = ("Cancelado", "Cancelable sin aceptación", "Cancelado sin aceptación")
    assert ask(sat).cancelado
    missing = ask(sat, "5A1D0001-0000-4000-8000-0000000000FF")
    assert missing.estado == "No Encontrado" and not missing.encontrado and missing.codigo_estatus.startswith("N - 602")


def test_consulta_sat_error_code_601_reaches_the_user_with_the_code(sat):
    with pytest.raises(SatServiceError) as info:
        ask(sat, "not-a-uuid")
    assert info.value.code == "SAT_EXPRESION_INVALIDA" and info.value.details["codigo_servicio"] == "601"
    assert "expresión impresa" in info.value.message and len(sat.requests) == 1  # a refusal is not retried


def test_consulta_retries_http_500_then_answers(sat):
    slept.clear()
    sat.fail_first = [500, 503]
    assert ask(sat).estado == "Vigente"
    assert len(sat.requests) == 3 and slept == [0.01, 0.02]


def test_consulta_http_500_every_time_is_a_spanish_error_with_the_status(sat):
    sat.fail_first = [500] * 5
    with pytest.raises(SatServiceError) as info:
        ask(sat)
    assert info.value.code == "SAT_ERROR_HTTP" and info.value.details["codigo_servicio"] == "500"
    assert "HTTP 500" in info.value.message and len(sat.requests) == 3


def test_consulta_soap_fault(sat):
    sat.fault = ("s:Server", "Error interno del servicio")
    with pytest.raises(SatServiceError) as info:
        ask(sat, policy=ReadPolicy(attempts=1, timeouts=FAST.timeouts))
    assert info.value.code == "SAT_ERROR_HTTP"  # a 500 fault after the retries


def test_consulta_timeout_is_retried_then_reported(sat):
    sat.hang = 1.0
    with pytest.raises(SatServiceError) as info:
        ask(sat, policy=ReadPolicy(attempts=2, backoff=0.01, timeouts=Timeouts(connect=1.0, read=0.2)))
    assert info.value.code == "SAT_SIN_RESPUESTA" and "no respondió a tiempo" in info.value.message
    assert len(sat.requests) == 2


def test_consulta_malformed_reply(sat):
    sat.malformed = True
    with pytest.raises(SatServiceError) as info:
        ask(sat)
    assert info.value.code == "SAT_RESPUESTA_INVALIDA"


def test_consulta_nobody_listening():
    transport = readonly_http.transport_for(FAST)
    with pytest.raises(SatServiceError) as info:
        consulta.consultar(transport, free_port_url() + "/ConsultaCFDIService.svc", UUID, "EKU9003173C9",
                           "URE180429TM6", "1.00", policy=FAST, sleep=slept.append)
    assert info.value.code == "SAT_NO_DISPONIBLE" and info.value.message.startswith("No se pudo conectar")


def test_consulta_fault_with_200_is_the_sat_refusing():
    with pytest.raises(SatServiceError) as info:
        consulta.parse(200, b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault>'
                            b"<faultcode>a:InternalServiceFault</faultcode><faultstring>Falla</faultstring>"
                            b"</s:Fault></s:Body></s:Envelope>")
    assert info.value.code == "SAT_CONSULTA_RECHAZADA" and info.value.details["codigo_servicio"] == "a:InternalServiceFault"


# --------------------------------------------------------------------------- 69-B

LIST = listado_69b([
    ("AAA090909HH1", "AAA Y ACTIVOS, S.A. DE C.V.", "Sentencia Favorable",
     {"presunto": "01/06/2018", "definitivo": "28/09/2018", "sentencia": "05/03/2019"}),
    ("URE180429TM6", "UNIVERSIDAD ROBOTICA ESPAÑOLA, S.C.", "Definitivo",
     {"presunto": "16/12/2022", "definitivo": "13/10/2023"}),
    ("ÑAB010101AB1", "PEÑA, BARRIOS Y ASOCIADOS", "Presunto", {"presunto": "02/02/2024"}),
])


def test_efos_parses_the_sat_file_as_published():
    got = efos.parse(LIST)
    assert [(r.rfc, r.situacion, r.fecha) for r in got.rows] == [
        ("AAA090909HH1", "Sentencia Favorable", date(2019, 3, 5)),
        ("URE180429TM6", "Definitivo", date(2023, 10, 13)),
        ("ÑAB010101AB1", "Presunto", date(2024, 2, 2)),
    ]
    assert got.rows[1].nombre == "UNIVERSIDAD ROBOTICA ESPAÑOLA, S.C." and got.rows[1].fecha_presunto == date(2022, 12, 16)
    assert got.preamble.startswith("Información actualizada al 31 de marzo de 2024")
    assert got.rejected == ()


def test_efos_bad_rows_are_reported_and_a_file_without_header_refused():
    data = LIST + "99,XX,\"MAL\",Definitivo\r\n100,BBB010101AB1,\"OTRO\",Quizá\r\n".encode("latin-1")
    got = efos.parse(data)
    assert len(got.rows) == 3 and [r.line for r in got.rejected] == [7, 8]
    with pytest.raises(Exception) as info:
        efos.parse(b"RFC;Nombre\nAAA;B\n")
    assert getattr(info.value, "code", "") == "EFOS_ARCHIVO_INVALIDO"


def test_efos_download_retries_a_5xx():
    with FileFake(content=LIST, fail_first=[502]) as fake:
        assert efos.download(readonly_http.transport_for(FAST), fake.url + "/Listado_Completo_69-B.csv",
                             policy=FAST, sleep=slept.append) == LIST
        assert len(fake.requests) == 2


# --------------------------------------------------------------------------- Banxico

def test_banxico_range_with_token_and_n_e_days():
    series = {"SF43718": {date(2026, 10, 13): "19.1234", date(2026, 10, 14): "N/E", date(2026, 10, 15): "19.2001"}}
    with BanxicoFake(datos=series, fail_first=[503]) as fake:
        got = banxico.fetch_series(readonly_http.transport_for(FAST), "token-de-prueba", "USD", date(2026, 10, 1),
                                   date(2026, 10, 31), base_url=fake.url, policy=FAST, sleep=slept.append)
        assert [(p.fecha, p.tipo_cambio, p.serie) for p in got] == [
            (date(2026, 10, 13), Decimal("19.1234"), "SF43718"), (date(2026, 10, 15), Decimal("19.2001"), "SF43718")]
        assert fake.requests[-1].path.endswith("/series/SF43718/datos/2026-10-01/2026-10-31")
        assert fake.requests[-1].headers["bmx-token"] == "token-de-prueba"


def test_banxico_bad_token_is_not_retried_and_says_why():
    with BanxicoFake() as fake:
        with pytest.raises(SatServiceError) as info:
            banxico.fetch_series(readonly_http.transport_for(FAST), "otro", "USD", date(2026, 10, 1),
                                 date(2026, 10, 2), base_url=fake.url, policy=FAST, sleep=slept.append)
        assert info.value.code == "BANXICO_TOKEN_INVALIDO" and "Token inválido" in info.value.message
        assert info.value.details["codigo_servicio"] == "401" and len(fake.requests) == 1


def test_banxico_malformed_reply():
    with BanxicoFake(malformed=True) as fake:
        with pytest.raises(SatServiceError) as info:
            banxico.fetch_series(readonly_http.transport_for(FAST), "token-de-prueba", "USD", date(2026, 10, 1),
                                 date(2026, 10, 2), base_url=fake.url, policy=FAST, sleep=slept.append)
        assert info.value.code == "SAT_RESPUESTA_INVALIDA"


def test_rates_csv_both_shapes_and_a_bad_line():
    own = banxico.parse_csv(b"fecha,moneda,tipo_cambio\n2026-10-13,USD,19.1234\n14/10/2026,usd,19.15\n")
    assert [(p.fecha, p.moneda, p.tipo_cambio) for p in own] == [
        (date(2026, 10, 13), "USD", Decimal("19.1234")), (date(2026, 10, 14), "USD", Decimal("19.15"))]
    sie = banxico.parse_csv("Banco de México\n\nTítulo,Tipo de cambio FIX\nFecha,SF43718\n13/10/2026,19.1234\n"
                            "14/10/2026,N/E\n".encode("latin-1"))
    assert [(p.fecha, p.tipo_cambio, p.serie) for p in sie] == [(date(2026, 10, 13), Decimal("19.1234"), "SF43718")]
    with pytest.raises(Exception) as info:
        banxico.parse_csv(b"fecha,moneda,tipo_cambio\n2026-10-13,USD,diecinueve\n")
    assert getattr(info.value, "code", "") == "TIPO_CAMBIO_ARCHIVO_INVALIDO" and "Línea 2" in info.value.message

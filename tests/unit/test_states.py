"""The README's "Estados" section says what ``domain/states.py`` enforces, and each
table refuses what it does not list."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cfdi_cobranza.domain import states
from cfdi_cobranza.errors import ConflictError

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_tables() -> dict[str, list[tuple[str, set[str]]]]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("\n## Estados\n"):]
    section = section[: section.index("\n## ", 1)]
    tables: dict[str, list[tuple[str, set[str]]]] = {}
    current: list[tuple[str, set[str]]] = []
    for line in section.splitlines():
        if heading := re.match(r"#### .*\(`(\w+)`", line):
            current = tables.setdefault(heading.group(1), [])
        elif row := re.match(r"\| `(\w+)` \|.*\| (.+) \|$", line):
            current.append((row.group(1), set(re.findall(r"`(\w+)`", row.group(2)))))
    return tables


def test_readme_lists_every_state_and_move() -> None:
    documented = _readme_tables()
    assert set(documented) == {cls.__name__ for cls in states.TRANSITIONS}
    for cls, table in states.TRANSITIONS.items():
        assert [s for s, _ in documented[cls.__name__]] == [s.value for s in cls], cls.__name__
        assert {s: moves for s, moves in documented[cls.__name__]} == {
            s.value: {m.value for m in table[s]} for s in cls
        }, cls.__name__
    assert "`sustituyendo`" in README.read_text(encoding="utf-8")


def test_every_state_set_has_a_table_and_a_refusal() -> None:
    for cls in states.State.__subclasses__():
        assert set(states.TRANSITIONS[cls]) == set(cls)
        assert all(set(moves) <= set(cls) for moves in states.TRANSITIONS[cls].values())
        assert cls in states.REFUSALS


@pytest.mark.parametrize("cls", list(states.TRANSITIONS))
def test_illegal_moves_are_refused_with_a_stable_code(cls: type[states.State]) -> None:
    for old in cls:
        for new in cls:
            if new in states.TRANSITIONS[cls][old]:
                assert old.check_move(new) is new
            else:
                with pytest.raises(ConflictError) as err:
                    old.check_move(new)
                assert err.value.code == states.REFUSALS[cls][1]
                assert err.value.message.endswith(".")


def test_values_are_the_stored_strings() -> None:
    assert states.DebtStatus.EN_CARTERA == "en_cartera"
    assert states.DebtStatus.EN_CARTERA.etiqueta == "En cartera"
    assert states.PromiseStatus.INCUMPLIDA.etiqueta == "Incumplida"
    assert f"{states.AuthorizationStatus.AUTORIZADA}" == "autorizada"

"""PII detection: checksums with their edge cases, German formats, near misses, redaction."""

from __future__ import annotations

import pytest

from nova.safety import detect_pii, iban_valid, luhn_valid, redact_pii, steuer_id_valid
from nova.safety._rails_pii import steuer_id_check_digit


def _found(text: str) -> list[tuple[str, str]]:
    return [(s.entity, s.value) for s in detect_pii(text)]


# --- checksums -------------------------------------------------------------------------------
def test_iban_mod97_and_country_length() -> None:
    assert iban_valid("DE89370400440532013000")
    assert iban_valid("de89 3704 0044 0532 0130 00")  # lower case and groups
    assert iban_valid("AT611904300234573201")  # Austria, 20 characters
    assert iban_valid("CH9300762011623852957")  # Switzerland, 21
    assert not iban_valid("DE89370400440532013001")  # one digit off: mod 97 != 1
    assert not iban_valid("DE8937040044053201300")  # 21 characters: wrong length for DE
    assert not iban_valid("XX89370400440532013000")  # unknown country
    # Swapped neighbours are caught by mod-97, which is why it exists.
    assert not iban_valid("DE89370400440532010300")


def test_luhn() -> None:
    assert luhn_valid("4111111111111111")
    assert luhn_valid("79927398713")  # the textbook example
    assert not luhn_valid("79927398710")
    assert not luhn_valid("4111 1111 1111 1111")  # digits only


def test_steuer_id_check_digit_and_repetition_rules() -> None:
    # Hand-computed ISO 7064 MOD 11,10 for 8609574271: product runs 10,9,6,1,7,10,10,7,6,10
    # and ends at 2 -> check digit 11 - 2 = 9.
    assert steuer_id_check_digit("8609574271") == 9
    assert steuer_id_valid("86095742719")
    assert steuer_id_valid("86 095 742 719")
    assert not steuer_id_valid("86095742718")  # wrong check digit
    assert not steuer_id_valid("06095742719")  # first digit 0
    assert not steuer_id_valid("1234567890" + str(steuer_id_check_digit("1234567890")))
    # ten distinct digits: no digit repeated, so invalid whatever the check digit
    three_apart = "1121345678"  # '1' three times, not all neighbours: allowed since 2016
    assert steuer_id_valid(three_apart + str(steuer_id_check_digit(three_apart)))
    three_in_a_row = "1112345678"
    assert not steuer_id_valid(three_in_a_row + str(steuer_id_check_digit(three_in_a_row)))
    two_pairs = "1122345678"
    assert not steuer_id_valid(two_pairs + str(steuer_id_check_digit(two_pairs)))


# --- detection -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text,value",
    [
        ("Rufen Sie mich an: 030 1234567.", "030 1234567"),
        ("Tel. 030/12345678", "030/12345678"),
        ("Mobil 0171 2345678", "0171 2345678"),
        ("mobil: 0151-23456789", "0151-23456789"),
        ("erreichbar unter +49 30 12345678", "+49 30 12345678"),
        ("oder +49 (0)89 1234567", "+49 (0)89 1234567"),
        ("Nummer 0049 171 2345678 bitte", "0049 171 2345678"),
        ("(030) 1234567 tagsüber", "(030) 1234567"),
        ("+4915123456789", "+4915123456789"),
        ("unter 030 - 123 45 67 zurück", "030 - 123 45 67"),
        ("Tel 030 12345-67", "030 12345-67"),
    ],
)
def test_german_phone_formats(text: str, value: str) -> None:
    assert _found(text) == [("PHONE", value)]


def test_phone_numbers_normalise_to_one_value() -> None:
    a = detect_pii("030 1234567")[0].normalized
    b = detect_pii("+49 30 1234567")[0].normalized
    c = detect_pii("+49 (0)30 1234567")[0].normalized
    assert a == b == c == "+49301234567"


@pytest.mark.parametrize(
    "text",
    [
        "Meine IBAN DE89 3704 0044 0532 0130 01 stimmt nicht.",  # invalid check digits
        "Kundennummer 0301234567",  # an identifier after a label
        "Kd.-Nr. 0301234567",
        "Bestellnummer 4111111111111111",  # Luhn-valid but labelled as an order number
        "Rechnung vom 01.02.2024 über 12500 Euro",
        "Rechnungsnummer RE-2024-0815, Betrag 1.234,56 €",
        "Vertragsnummer 123456789012",
        "Zählernummer 1ESY1160123456",
        "Am 15.03.2025 um 14:30 Uhr",
        "Telefonseelsorge 0800 111 0 111",  # a service number, not personal data
        "Die Hotline 0180 5 123456 ist teuer.",
        "Der Weg 3 ist weit.",
        "Wir haben 12345 Kunden.",
        "4111 1111 1111 1112",  # Luhn fails
        "Steuernummer 1234567890",
    ],
)
def test_near_misses_do_not_fire(text: str) -> None:
    assert _found(text) == []


def test_each_entity_type_is_found() -> None:
    text = (
        "Ich bin Max, Mail max.mustermann@example.de, IBAN DE89 3704 0044 0532 0130 00, "
        "Karte 4111 1111 1111 1111, Steuer-ID 86 095 742 719, Anschrift Hauptstraße 5, "
        "10115 Berlin, Telefon 0171 2345678."
    )
    assert _found(text) == [
        ("EMAIL", "max.mustermann@example.de"),
        ("IBAN", "DE89 3704 0044 0532 0130 00"),
        ("CREDIT_CARD", "4111 1111 1111 1111"),
        ("TAX_ID", "86 095 742 719"),
        ("ADDRESS", "Hauptstraße 5, 10115 Berlin"),
        ("PHONE", "0171 2345678"),
    ]


@pytest.mark.parametrize(
    "text,value",
    [
        ("wohnhaft Berliner Str. 12a in", "Berliner Str. 12a"),
        ("Karl-Marx-Straße 27, 12043 Berlin", "Karl-Marx-Straße 27, 12043 Berlin"),
        ("Am Mühlenweg 4", "Am Mühlenweg 4"),
        ("Lieferung nach 80331 München bitte", "80331 München"),
        ("Schillerplatz 3-5", "Schillerplatz 3-5"),
        # no street suffix: found because postcode and town follow
        ("Neue Anschrift: Unter den Linden 7, 10117 Berlin", "Unter den Linden 7, 10117 Berlin"),
        ("Anschrift Lange Reihe 12, 20099 Hamburg", "Lange Reihe 12, 20099 Hamburg"),
        ("Rechnung 2024, 10115 Berlin", "10115 Berlin"),
    ],
)
def test_address_hints(text: str, value: str) -> None:
    assert _found(text) == [("ADDRESS", value)]


def test_offsets_point_at_the_value() -> None:
    text = "Hallo, meine Mail ist a.b@c.de und mein Konto DE89370400440532013000."
    for s in detect_pii(text):
        assert text[s.start : s.end] == s.value


def test_entity_filter() -> None:
    text = "a@b.de und 0171 2345678"
    assert [s.entity for s in detect_pii(text, ["PHONE"])] == ["PHONE"]


def test_redaction_uses_typed_numbered_placeholders() -> None:
    text = "Mail a@b.de, zweite c@d.de, nochmal a@b.de; IBAN DE89370400440532013000"
    out = redact_pii(text, detect_pii(text))
    assert out == "Mail [EMAIL_1], zweite [EMAIL_2], nochmal [EMAIL_1]; IBAN [IBAN_1]"


def test_redaction_numbering_is_shared_across_messages() -> None:
    numbering: dict[tuple[str, str], str] = {}
    first = redact_pii("a@b.de", detect_pii("a@b.de"), numbering)
    second = redact_pii("c@d.de oder a@b.de", detect_pii("c@d.de oder a@b.de"), numbering)
    assert (first, second) == ("[EMAIL_1]", "[EMAIL_2] oder [EMAIL_1]")

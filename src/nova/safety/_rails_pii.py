"""Personal data in German and English text: detection with checksums, and redaction.

Offline and pattern-based on purpose: Presidio's NER needs spaCy models that do not exist on
PyPI for German, while formats with a checksum can be validated exactly. Each detector finds
candidates with a regular expression and keeps only those that pass the format's own check:

    IBAN         country length table + ISO 13616 mod-97 check
    TAX_ID       German Steuer-ID: 11 digits, first not 0, digit-repetition rule of the first
                 ten digits, ISO 7064 MOD 11,10 check digit
    CREDIT_CARD  13-19 digits, Luhn, issuer prefix (IIN) and length of the scheme, plain or in
                 groups of four (Amex 4-6-5)
    PHONE        German numbers: +49 / 0049 / 0 prefix, separators space - / and (0); mobile
                 prefixes 015-017; service numbers (0800, 0180, 0900, 0137, 116xxx) are not
                 personal data and are skipped
    EMAIL        local@domain.tld
    ADDRESS      street with a German suffix (-straße, -str., -weg, -platz, …) and house number,
                 optionally followed by PLZ and town; or PLZ followed by a town name

Near misses are not reported: invalid IBANs, customer/order/invoice numbers (a number right
after such a label is never a phone number or card), dates and amounts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "PII_ENTITIES",
    "PiiEntity",
    "PiiSpan",
    "detect_pii",
    "iban_valid",
    "luhn_valid",
    "redact_pii",
    "steuer_id_valid",
]

PiiEntity = Literal["EMAIL", "PHONE", "IBAN", "CREDIT_CARD", "TAX_ID", "ADDRESS"]
PII_ENTITIES: tuple[PiiEntity, ...] = (
    "EMAIL",
    "PHONE",
    "IBAN",
    "CREDIT_CARD",
    "TAX_ID",
    "ADDRESS",
)
# When two candidates overlap, the longer wins; on equal length the earlier entity here.
_PRIORITY: dict[str, int] = {
    "IBAN": 0,
    "CREDIT_CARD": 1,
    "TAX_ID": 2,
    "EMAIL": 3,
    "PHONE": 4,
    "ADDRESS": 5,
}


@dataclass(frozen=True)
class PiiSpan:
    """One piece of personal data: where it is, what it is, and its normalised value."""

    entity: PiiEntity
    start: int
    end: int
    value: str
    """The text as written (raw personal data: never log it)."""
    normalized: str
    """Canonical form for comparing (digits only, upper-case IBAN, lower-case e-mail …)."""


# --- checksums ---------------------------------------------------------------------------
# ISO 13616 lengths (SWIFT IBAN registry) of the countries a German customer meets most.
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22, "DK": 18,
    "EE": 20, "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GR": 27, "HR": 21, "HU": 28, "IE": 22,
    "IS": 26, "IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MT": 31, "NL": 18,
    "NO": 15, "PL": 28, "PT": 25, "RO": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TR": 26,
}  # fmt: skip


def iban_valid(iban: str) -> bool:
    """Whether ``iban`` (spaces allowed) has its country's length and a valid mod-97 check.

    >>> iban_valid("DE89 3704 0044 0532 0130 00"), iban_valid("DE89 3704 0044 0532 0130 01")
    (True, False)
    """
    s = re.sub(r"\s", "", iban).upper()
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]+", s) or IBAN_LENGTHS.get(s[:2]) != len(s):
        return False
    moved = s[4:] + s[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


def luhn_valid(digits: str) -> bool:
    """Luhn check of a digit string.

    >>> luhn_valid("4111111111111111"), luhn_valid("4111111111111112")
    (True, False)
    """
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def steuer_id_check_digit(first10: str) -> int:
    """ISO 7064 MOD 11,10 check digit of the first ten digits of a Steuer-ID."""
    product = 10
    for ch in first10:
        s = (int(ch) + product) % 10 or 10
        product = (s * 2) % 11
    check = 11 - product
    return 0 if check == 10 else check


def steuer_id_valid(value: str) -> bool:
    """Whether ``value`` (spaces allowed) is a well-formed German Steuer-ID.

    Rules (BZSt): 11 digits, the first not 0; in the first ten digits exactly one digit
    occurs twice or three times (three times never as three neighbours), the others at most
    once; the eleventh digit is the ISO 7064 MOD 11,10 check digit.

    >>> steuer_id_valid("86095742719"), steuer_id_valid("86095742718")
    (True, False)
    """
    s = re.sub(r"\s", "", value)
    if len(s) != 11 or not s.isdigit() or s[0] == "0":
        return False
    head = s[:10]
    counts = [head.count(d) for d in set(head)]
    repeated = [c for c in counts if c > 1]
    if len(repeated) != 1 or repeated[0] > 3:
        return False
    if repeated[0] == 3 and any(head[i] == head[i + 1] == head[i + 2] for i in range(8)):
        return False
    return steuer_id_check_digit(head) == int(s[10])


# --- detectors ---------------------------------------------------------------------------
_EMAIL = re.compile(
    r"(?<![\w.+%-])[A-Za-z0-9](?:[A-Za-z0-9._%+-]{0,62}[A-Za-z0-9_%+-])?"
    r"@(?:[A-Za-z0-9äöüÄÖÜ](?:[A-Za-z0-9äöüÄÖÜ-]{0,61}[A-Za-z0-9äöüÄÖÜ])?\.)+[A-Za-z]{2,24}"
    r"(?![\w-])"
)
_IBAN_START = re.compile(r"(?<![A-Za-z0-9])([A-Za-z]{2})(\d{2})(?=[ ]?[A-Za-z0-9])")
_CARD = re.compile(r"(?<![\d.,/-])\d{4}(?:[ -]?\d{2,7}){1,4}(?![\d.,]\d|\d)")
_TAX_ID = re.compile(
    r"(?<![\d.,/-])(?:\d{11}|\d{2} \d{3} \d{3} \d{3}|\d{3} \d{3} \d{3} \d{2})(?!\d)"
)
_PHONE = re.compile(
    r"(?<![\w+/.,-])"
    r"(?:(?:\+|00)49[ -]?(?:\(0\)[ -]?)?\(?[1-9]\d{1,4}\)?|\(?0[1-9]\d{1,4}\)?)"
    r"(?:(?:[ /-]|[ ]?[/–-][ ])?\d{1,8}){1,6}"  # "030 1234567", "030/123", "030 - 123 45 67"
    r"(?![\w]|[.,]\d)"
)
# A number right after one of these labels is an identifier, not personal contact data.
_ID_LABEL = re.compile(
    r"(?:kunden|kd\.?|bestell|rechnungs|vertrags|auftrags|z[äa]hler|sendungs|vorgangs|referenz|"
    r"mandats|ticket|order|invoice|customer|contract|account|reference|tracking|case|"
    r"transaktions|artikel|produkt|tarif|serien|mitglieds|versicherungs)"
    r"[.-]?[- ]?(?:nummer|nr\.?|number|no\.?|id|#)?\s*[:#]?\s*$",
    re.IGNORECASE,
)
_SERVICE_PREFIXES = ("800", "180", "900", "137", "116", "118", "110", "112")
_MOBILE = ("15", "16", "17")

_SUFFIXES = (
    "straße", "strasse", "str.", "weg", "platz", "allee", "gasse", "ring", "damm", "ufer",
    "chaussee", "steig", "pfad", "markt", "graben", "berg", "hof", "kamp", "wall", "tor",
)  # fmt: skip
_STREET_SUFFIX = "(?:" + "|".join(re.escape(x) for x in _SUFFIXES) + ")"
_STREET_WORD = "(?:" + "|".join(re.escape(x.capitalize()) for x in _SUFFIXES) + ")"
_CAP = r"[A-ZÄÖÜ][a-zäöüß]+"
_TOWN = rf"{_CAP}(?:[ -](?:am|an der|im|in der|bei|ob der|{_CAP}|\({_CAP}\)))?(?:[ -]{_CAP})?"
_PLZ_TOWN = rf"(?:D-?)?(?<!\d)(?!00)\d{{5}}(?!\d)\s+{_TOWN}"
_PREP = r"(?:[Aa]m|[Aa]n der|[Ii]m|[Ii]n der|[Aa]uf der|[Aa]uf dem|[Zz]um|[Zz]ur|Unter den)"
_ADDRESS = re.compile(
    rf"(?<![\wÄÖÜäöüß-])"
    rf"(?:(?:{_PREP} )?{_CAP}(?:-{_CAP})*"  # Am Mühlenweg, Karl-Marx-Straße
    rf"(?:(?<=[a-zäöüß]){_STREET_SUFFIX}|-{_STREET_WORD})"
    rf"|(?:(?:{_PREP}|{_CAP})[ -])?(?<![\wäöüß]){_STREET_WORD})"  # Berliner Straße, Am Ring
    r"\s?\d{1,4}(?:\s?[a-hA-H](?![\wäöüß]))?(?:\s?[-/]\s?\d{1,4})?"
    rf"(?:,?\s+{_PLZ_TOWN})?"
)
# Street names without a known suffix ("Unter den Linden 7", "Lange Reihe 12") are found when a
# postcode and town follow them.
_PLZ_ONLY = re.compile(
    rf"(?<![\w.,-])(?:(?:(?:{_CAP}|[a-zäöüß]{{2,3}})[ -]){{0,3}}{_CAP}\s\d{{1,4}}(?:\s?[a-hA-H])?"
    rf",?\s+)?{_PLZ_TOWN}"
)
# Words after a five-digit number that make it an amount or a count, not a postcode.
_NOT_TOWN = {
    "euro", "eur", "cent", "dollar", "franken", "stück", "stueck", "kunden", "kilowattstunden",
    "minuten", "sekunden", "stunden", "tage", "tagen", "wochen", "monate", "monaten", "jahre",
    "jahren", "mal", "punkte", "zeichen", "bytes", "meter", "kilometer", "liter", "seiten",
    "nutzer", "personen", "menschen", "mitarbeiter", "einheiten", "exemplare", "bestellungen",
    "rechnungen", "verträge", "kubikmeter", "gigabyte", "megabyte", "kilogramm", "gramm",
    "punkten", "euros", "lastschriften", "anrufe", "e-mails", "mails", "briefe", "zugriffe",
    "ich", "sie", "wir", "und", "oder", "bitte", "danke", "im", "am", "die", "der", "das",
}  # fmt: skip
_NOT_STREET_WORDS = {"der", "die", "das", "den", "dem", "ein", "eine", "mein", "meine", "ihr"}


def _label_before(text: str, start: int) -> bool:
    return _ID_LABEL.search(text[max(0, start - 40) : start]) is not None


def _ibans(text: str) -> Iterator[PiiSpan]:
    for m in _IBAN_START.finditer(text):
        want = IBAN_LENGTHS.get(m.group(1).upper())
        if want is None:
            continue
        i, n, end = m.end(), 4, m.end()
        while i < len(text) and n < want:
            ch = text[i]
            if ch.isascii() and ch.isalnum():
                n += 1
                end = i + 1
            elif ch != " " or text[i - 1] == " ":
                break
            i += 1
        if n != want or (end < len(text) and text[end].isascii() and text[end].isalnum()):
            continue
        raw = text[m.start() : end]
        if iban_valid(raw):
            yield PiiSpan("IBAN", m.start(), end, raw, re.sub(r"\s", "", raw).upper())


def _card_scheme_ok(d: str) -> bool:
    n = len(d)
    if d[0] == "4":
        return n in (13, 16, 19)  # Visa
    if 51 <= int(d[:2]) <= 55 or 2221 <= int(d[:4]) <= 2720:
        return n == 16  # Mastercard
    if d[:2] in ("34", "37"):
        return n == 15  # American Express
    if d[:4] == "6011" or d[:2] == "65" or 644 <= int(d[:3]) <= 649:
        return 16 <= n <= 19  # Discover
    if 3528 <= int(d[:4]) <= 3589:
        return 16 <= n <= 19  # JCB
    if d[:2] in ("36", "38", "39") or 300 <= int(d[:3]) <= 305:
        return 14 <= n <= 19  # Diners Club
    if d[:2] in ("50", "56", "57", "58") or d[:1] == "6":
        return 12 <= n <= 19  # Maestro / girocard co-badged
    return False


def _cards(text: str) -> Iterator[PiiSpan]:
    for m in _CARD.finditer(text):
        raw = m.group(0)
        groups = re.split(r"[ -]", raw)
        if len(groups) > 1:
            seps = set(re.findall(r"[ -]", raw))
            sizes = [len(g) for g in groups]
            fours = all(s == 4 for s in sizes[:-1]) and 1 <= sizes[-1] <= 4
            if len(seps) != 1 or not (fours or sizes == [4, 6, 5] or sizes == [4, 6, 4]):
                continue
        d = "".join(groups)
        ok = 13 <= len(d) <= 19 and luhn_valid(d) and _card_scheme_ok(d)
        if ok and not _label_before(text, m.start()):
            yield PiiSpan("CREDIT_CARD", m.start(), m.end(), raw, d)


def _tax_ids(text: str) -> Iterator[PiiSpan]:
    for m in _TAX_ID.finditer(text):
        raw = m.group(0)
        if steuer_id_valid(raw):
            yield PiiSpan("TAX_ID", m.start(), m.end(), raw, raw.replace(" ", ""))


def _phones(text: str) -> Iterator[PiiSpan]:
    for m in _PHONE.finditer(text):
        raw = m.group(0)
        seps = re.sub(r" [/–-] ", "/", raw)  # "030 - 123" is one separator written with spaces
        if re.search(r"[ /–-]{2}", seps) or _label_before(text, m.start()):
            continue
        if re.search(r"\d[ -]?$", text[max(0, m.start() - 2) : m.start()]):
            continue  # the tail of a longer code (an IBAN with a typo, a reference)
        digits = re.sub(r"\D", "", raw)
        if raw.startswith("+"):
            nsn = digits[2:]
        elif raw.startswith("00"):
            nsn = digits[4:]
        else:
            nsn = digits[1:]
        nsn = nsn[1:] if "(0)" in raw and nsn.startswith("0") else nsn
        if not 6 <= len(nsn) <= 11 or nsn.startswith("0"):
            continue
        if nsn.startswith(_SERVICE_PREFIXES):
            continue
        if nsn[0] == "1" and nsn[:2] not in _MOBILE:
            continue
        if nsn[:2] in _MOBILE and len(nsn) < 10:
            continue
        yield PiiSpan("PHONE", m.start(), m.end(), raw, "+49" + nsn)


def _emails(text: str) -> Iterator[PiiSpan]:
    for m in _EMAIL.finditer(text):
        yield PiiSpan("EMAIL", m.start(), m.end(), m.group(0), m.group(0).lower())


def _norm_address(raw: str) -> str:
    s = re.sub(r"\s+", " ", raw.lower())
    return re.sub(r"str(?:\.|asse)", "straße", s)


def _town_ok(match_text: str) -> bool:
    town = re.search(r"\d{5}\s+(\S+)", match_text)
    return town is None or town.group(1).lower() not in _NOT_TOWN


_LABEL_WORDS = {
    "anschrift", "adresse", "lieferadresse", "rechnungsadresse", "wohnort", "wohnhaft",
    "rechnung", "kunde", "kundin", "nummer", "hausnummer", "neue", "alte", "meine", "post",
}  # fmt: skip
_PLZ_AT = re.compile(rf"(?:D-?)?(?<!\d)\d{{5}}\s+{_TOWN}")


def _addresses(text: str) -> Iterator[PiiSpan]:
    streets: list[tuple[int, int]] = []
    for span in _street_addresses(text):
        streets.append((span.start, span.end))
        yield span
    for m in _PLZ_ONLY.finditer(text):
        start, raw = m.start(), m.group(0)
        if not _town_ok(raw) or _label_before(text, start):
            continue
        if any(start < e and m.end() > s for s, e in streets):
            continue  # the street with its suffix was found already
        plz = _PLZ_AT.search(raw)
        assert plz is not None  # _PLZ_ONLY ends with the same pattern
        tokens = list(re.finditer(r"\S+", raw[: plz.start()]))
        while tokens and tokens[0].group(0).lower().rstrip(":") in _LABEL_WORDS:
            tokens.pop(0)  # "Anschrift Lange Reihe 12, …": the label is no part of the street
        cut = tokens[0].start() if tokens and tokens[0].group(0)[0].isupper() else plz.start()
        start, raw = start + cut, raw[cut:]
        yield PiiSpan("ADDRESS", start, start + len(raw), raw, _norm_address(raw))


def _street_addresses(text: str) -> Iterator[PiiSpan]:
    for m in _ADDRESS.finditer(text):
        raw = m.group(0)
        head = re.split(r"[ -]", raw, maxsplit=1)[0].lower()
        if head in _NOT_STREET_WORDS:
            # "Der Weg 3": an article is no street name; retry without it.
            sub = raw.split(" ", 1)[1] if " " in raw else ""
            if not sub or not re.match(rf"{_CAP}", sub) or sub.split()[0] in ("Weg", "Platz"):
                continue
            start = m.start() + len(raw) - len(sub)
            raw = sub
        else:
            start = m.start()
        if not _town_ok(raw):
            cut = re.search(r",?\s+(?:D-?)?\d{5}\s", raw)
            raw = raw[: cut.start()] if cut else raw
        yield PiiSpan("ADDRESS", start, start + len(raw), raw, _norm_address(raw))


_DETECTORS = {
    "IBAN": _ibans,
    "CREDIT_CARD": _cards,
    "TAX_ID": _tax_ids,
    "PHONE": _phones,
    "EMAIL": _emails,
    "ADDRESS": _addresses,
}


def detect_pii(text: str, entities: Iterable[str] | None = None) -> list[PiiSpan]:
    """Personal data in ``text``, sorted by position, without overlaps.

    >>> text = "IBAN DE89 3704 0044 0532 0130 00, Tel. 030 1234567"
    >>> [(s.entity, s.value) for s in detect_pii(text)]
    [('IBAN', 'DE89 3704 0044 0532 0130 00'), ('PHONE', '030 1234567')]
    """
    wanted = set(PII_ENTITIES if entities is None else entities)
    found: list[PiiSpan] = []
    for entity, detector in _DETECTORS.items():
        if entity in wanted:
            found.extend(detector(text))
    found.sort(key=lambda s: (-(s.end - s.start), _PRIORITY[s.entity], s.start))
    kept: list[PiiSpan] = []
    for span in found:
        if all(span.end <= k.start or span.start >= k.end for k in kept):
            kept.append(span)
    return sorted(kept, key=lambda s: s.start)


def redact_pii(
    text: str, spans: list[PiiSpan], numbering: dict[tuple[str, str], str] | None = None
) -> str:
    """``text`` with each span replaced by a typed placeholder such as ``[IBAN_1]``.

    The same value gets the same placeholder; pass one ``numbering`` dict to keep the numbers
    stable across several messages.

    >>> t = "Mail a@b.de oder a@b.de"
    >>> redact_pii(t, detect_pii(t))
    'Mail [EMAIL_1] oder [EMAIL_1]'
    """
    numbering = {} if numbering is None else numbering
    out, pos = [], 0
    for s in sorted(spans, key=lambda s: s.start):
        key = (s.entity, s.normalized)
        if key not in numbering:
            n = 1 + sum(1 for e, _ in numbering if e == s.entity)
            numbering[key] = f"[{s.entity}_{n}]"
        out += [text[pos : s.start], numbering[key]]
        pos = s.end
    out.append(text[pos:])
    return "".join(out)

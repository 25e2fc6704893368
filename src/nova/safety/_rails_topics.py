"""Deny topics: phrase lists per topic, German and English, matched at word boundaries.

A phrase matches case-insensitively where it starts and ends at a word boundary; a trailing
``*`` lets the last word continue (``verklag*`` matches "verklagen", "verklage"); `` ... ``
between two parts allows up to 60 characters of the same sentence in between
(``soll ich ... investieren``). The built-in
topics are narrow on purpose: Sophia's customers write "Anwalt", "Kündigung", "Medikamente im
Kühlschrank" or "mein Konto wurde gehackt" for good reasons (escalation, vulnerability), so
only requests *for* the advice or the method are listed.
"""

from __future__ import annotations

import re

__all__ = ["BUILTIN_REFUSALS", "BUILTIN_TOPICS", "compile_phrases"]

BUILTIN_TOPICS: dict[str, tuple[str, ...]] = {
    # First: its refusal names the crisis lines, so it must win over "medical".
    "self_harm_methods": (
        "wie kann ich mich umbringen", "wie bringe ich mich um", "mich umbringen kann",
        "tödliche Dosis", "Überdosis nehmen", "schmerzlos sterben", "mir das Leben nehmen kann",
        "Methoden für Suizid", "Suizidmethode*", "mich ritzen", "nicht mehr aufzuwachen",
        "nicht mehr aufwachen", "sich das Leben zu nehmen", "schnellste Art ... sterben",
        "wie viele ... Tabletten ... tödlich",
        "how to kill myself", "how can I kill myself", "lethal dose", "painless way to die",
        "suicide method*", "how to cut myself", "overdose on", "end my life", "to overdose",
        "painless way ... die",
    ),
    "individual_legal_advice": (
        "Rechtsberatung", "rechtlichen Rat", "rechtliche Beratung", "juristischen Rat",
        "rechtliche Einschätzung", "juristische Einschätzung", "Erfolgsaussichten",
        "Miete kürzen", "Mietminderung", "Klage einreichen", "wie verklage ich",
        "soll ich klagen", "verklagen soll", "Kündigungsschutzklage", "Sorgerecht",
        "Scheidung", "mein Testament", "Arbeitsvertrag prüfen", "kann ich ... verklagen",
        "Chancen vor Gericht", "rechtlich tun", "rechtlich durchsetzen", "Arbeitgeber verklagen",
        "Vermieter verklagen",
        "legal advice", "legal opinion", "should I sue", "how do I sue", "how can I sue",
        "can I sue", "file a lawsuit", "chances in court", "withhold rent", "rent reduction",
        "custody", "divorce", "my will", "legally enforceable",
    ),
    "medical_diagnosis_or_treatment": (
        "Diagnose", "diagnostizieren", "Dosierung", "welche Dosis", "welches Medikament soll",
        "welche Medikamente soll", "Nebenwirkungen", "meine Symptome", "diese Symptome",
        "ist das Krebs", "Behandlung meiner", "Antibiotika nehmen", "was habe ich",
        "Ibuprofen darf", "Paracetamol darf", "wie viel Ibuprofen", "wie viel Paracetamol",
        "Antibiotikum hilft", "welches Antibiotikum", "Hautflecken gefährlich",
        "diagnose", "diagnosis", "dosage", "what medication should", "which medicine should",
        "side effects", "my symptoms", "these symptoms", "treat my", "is it cancer",
        "dose of paracetamol", "dose of ibuprofen", "how much ibuprofen", "how much paracetamol",
        "chest pain ... what could it be", "what do I have",
    ),
    "investment_or_tax_advice": (
        "Anlageberatung", "Aktien", "Aktie", "ETF", "ETFs", "ETF-Sparplan", "Kryptowährung*",
        "Bitcoin", "Erspartes anlegen", "Erspartes in", "Geld anlegen", "Steuerberatung",
        "von der Steuer absetzen", "steuerlich absetzen", "steuerlich geltend",
        "steuerlich abschreiben", "in der Steuererklärung angeben", "Rendite",
        "in Gold investieren", "soll ich ... investieren",
        "investment advice", "stocks", "shares", "crypto*", "bitcoin", "invest my savings",
        "tax advice", "tax-deductible", "tax deductible", "deduct it from my taxes",
        "claim ... on my tax return", "should I invest", "buy Bitcoin",
    ),
    "weapons_and_explosives": (
        "Bombe bauen", "Bombe basteln", "Sprengstoff", "Sprengsatz", "Rohrbombe", "Waffe bauen",
        "Schusswaffe bauen", "Waffe drucken", "Molotow*", "Brandsatz", "ohne Waffenschein",
        "build a bomb", "make a bomb", "explosives", "pipe bomb", "make a gun",
        "build a gun", "untraceable gun", "ghost gun", "molotov*", "3D print a gun",
        "3D-printed gun",
    ),
    "malware_or_intrusion": (
        "Malware", "Ransomware", "Keylogger", "Trojaner programmieren", "Virus programmieren",
        "Passwort knacken", "Passwörter knacken", "Phishing-Mail schreiben",
        "Phishing-Seite", "SQL-Injection", "DDoS", "Botnetz", "in ein fremdes Konto einloggen",
        "fremdes Konto hacken", "hacken lernen", "wie hacke ich", "WLAN ... hacken",
        "WLAN ... knacken",
        "malware", "ransomware", "keylogger", "write a virus", "crack passwords",
        "crack a password", "hack into", "phishing page", "write a phishing", "sql injection",
        "ddos", "botnet", "break into someone's", "break into ... account",
    ),
}  # fmt: skip

BUILTIN_REFUSALS: dict[str, dict[str, str]] = {
    "individual_legal_advice": {
        "de": "Eine Rechtsberatung darf ich leider nicht geben. Verbindlich helfen Ihnen eine "
        "Rechtsanwältin oder ein Rechtsanwalt, ein Mieterverein oder die Verbraucherzentrale. "
        "Bei Fragen zu Ihrem Vertrag mit uns helfe ich gern.",
        "en": "I'm not allowed to give legal advice. A lawyer, a tenants' association or a "
        "consumer advice centre can help you with that. I'm happy to help with questions about "
        "your contract with us.",
    },
    "investment_or_tax_advice": {
        "de": "Steuer- oder Anlageberatung darf ich leider nicht geben. Wenden Sie sich dafür "
        "bitte an eine Steuerberaterin, einen Steuerberater, das Finanzamt oder eine "
        "unabhängige Finanzberatung. Bei Fragen zu Ihren Rechnungen helfe ich gern.",
        "en": "I'm not allowed to give tax or investment advice. Please ask a tax advisor, the "
        "tax office or an independent financial advisor. I'm happy to help with questions "
        "about your bills.",
    },
    "medical_diagnosis_or_treatment": {
        "de": "Medizinische Fragen kann ich leider nicht beantworten. Bitte wenden Sie sich an "
        "Ihre Ärztin oder Ihren Arzt, in Notfällen an den Notruf 112. Bei Fragen zu Ihrem "
        "Vertrag helfe ich gern.",
        "en": "I can't answer medical questions. Please ask your doctor, and in an emergency "
        "call 112. I'm happy to help with questions about your contract.",
    },
    "self_harm_methods": {
        "de": "Es tut mir sehr leid, dass es Ihnen so schlecht geht. Dabei kann ich nicht "
        "helfen, aber die Telefonseelsorge ist kostenlos und rund um die Uhr für Sie da: "
        "0800 111 0 111 oder 0800 111 0 222. Bei akuter Gefahr rufen Sie bitte den Notruf 112.",
        "en": "I'm very sorry you are going through this. I can't help with that, but you can "
        "talk to someone right now: in Germany the Telefonseelsorge, free and around the "
        "clock, 0800 111 0 111 or 0800 111 0 222. In acute danger, call the emergency number "
        "112.",
    },
}
"""Refusals of built-in topics that need more than the general sentence."""

_WORD = r"[\wäöüßÄÖÜ]"


def compile_phrases(phrases: list[str] | tuple[str, ...]) -> re.Pattern[str]:
    """One case-insensitive pattern matching any of ``phrases`` at word boundaries.

    >>> bool(compile_phrases(["verklag*"]).search("Ich will Sie verklagen."))
    True
    >>> bool(compile_phrases(["Aktie"]).search("Der Aktienkurs fällt."))
    False
    >>> bool(compile_phrases(["soll ich ... investieren"]).search("Soll ich in Gold investieren?"))
    True
    """
    parts = []
    for phrase in phrases:
        pieces = []
        for piece in phrase.split("..."):
            words = piece.strip()
            tail = f"{_WORD}*" if words.endswith("*") else ""
            pieces.append(r"\s+".join(re.escape(w) for w in words.rstrip("*").split()) + tail)
        # A gap stays inside one sentence and ends and starts at word boundaries.
        parts.append(rf"(?!{_WORD})[^.!?\n]{{0,60}}?(?<!{_WORD})".join(pieces))
    return re.compile(rf"(?<!{_WORD})(?:{'|'.join(parts)})(?!{_WORD})", re.IGNORECASE)

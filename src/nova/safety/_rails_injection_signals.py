"""The named patterns of the prompt-injection heuristic and their weights (see
``_rails_injection`` for how they are scored and why they look like this)."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["INJECTION_SIGNALS", "InjectionSignal"]


@dataclass(frozen=True)
class InjectionSignal:
    """One named pattern of the heuristic and its weight."""

    name: str
    weight: float
    pattern: re.Pattern[str]


def _p(regex: str) -> re.Pattern[str]:
    return re.compile(regex, re.IGNORECASE | re.MULTILINE)


_PREV_EN = r"(?:previous|prior|above|earlier|preceding|initial|original|foregoing|system)"
_RULES_EN = (
    r"(?:instructions?|prompts?|rules|directives|guidelines|guidance|commands|context|"
    r"constraints|programming|policies)"
)
_PREV_DE = (
    r"(?:vorherigen?|vorigen?|bisherigen?|obigen?|früheren?|vorangegangenen?|vorstehenden?|"
    r"ursprünglichen?|alten|ersten|oben genannten|oberen|gesamten)"
)
_RULES_DE = (
    r"(?:Anweisungen|Instruktionen|Regeln|Vorgaben|Richtlinien|Befehle|Direktiven|"
    r"Systemanweisungen|System-?Prompts?|Einschränkungen|Beschränkungen|Sicherheitsregeln)"
)
_YOUR_DE = r"(?:deine|dein|Ihre|eure|die|alle|sämtliche|jegliche|jede)"
_IGNORE_DE = (
    r"(?:ignorier(?:e|en|t)?|vergiss|vergessen|missachte(?:n)?|übergeh(?:e|en)?|verwirf|"
    r"verwerfen|überschreib(?:e|en)?|setz(?:e|en)? (?:\S+ )?außer Kraft)"
)

# Clause-level co-occurrence cues (round 2 of tuning, after a holdout showed that phrase
# patterns miss new wording): an imperative to drop rules next to a noun for the assistant's
# rules; a verb of disclosure next to a noun for its own prompt; "without filters" next to a
# reference to the assistant. A clause is text without . ! ? or a line break.
_CL = r"[^.!?\n]{0,60}"
_OVERRIDE_IMP = (
    r"(?:\bignorier(?:e|en Sie)?\b|\bvergiss\b|\bvergessen Sie\b|\bmissachte(?:n Sie)?\b|"
    r"\bumgeh(?:e|en Sie)?\b|\büberspring(?:e|en Sie)?\b|\bdeaktivier(?:e|en Sie)?\b|"
    r"\bschalte\b(?:\s+\w+){0,3}\s+(?:ab|aus)\b|\büberschreib(?:e|en Sie)?\b|\bverwirf\b|"
    r"\bersetz(?:e|t)\b|\bhebe?\b(?:\s+\w+){0,3}\s+auf\b|"
    r"\b(?:ignore|disregard|forget|bypass|skip|override|disable|turn off|switch off|drop|"
    r"abandon|circumvent|suspend|lift|remove|replaces?|supersedes?)\b)"
)
_RULE_NOUN = (
    r"(?:(?<!meine )(?<!meinen )(?<!meiner )(?<!my )(?<!our )(?<!unsere )\b[\wäöüß-]*"
    r"(?:anweisungen|regeln|vorgaben|richtlinien|beschränkungen|einschränkungen|filter|"
    r"prüfungen|sicherheitsprüfung)\b"
    r"|(?<!my )(?<!our )\b(?:instructions|rules|guidelines|guidance|policy|policies|filters|"
    r"restrictions|constraints|safeguards|verification|checks|programming|system prompt)\b"
    r"|\b(?:dein\w*|your)\s+(?:Auftrag|task|mission|role|Rolle)\b)"
)
_DISCLOSE = (
    r"(?:\b(?:print|output|echo|show|reveal|repeat|copy|recite|dump|leak|display|list|paste|"
    r"write out|spell out|translate|summari[sz]e|zeig\w*|verrat\w*|wiederhol\w*|kopier\w*|"
    r"gib|geben Sie|ausgeb\w*|wiedergeb\w*|nenn\w*|druck\w*|zitier\w*|übersetz\w*)\b)"
)
_SELF = (
    r"(?:\bsystem\s*-?\s*(?:prompt|message|nachricht|anweisung\w*)|\bpreamble\b|"
    r"\bpre-?prompt\b|\b(?:initial|original|hidden|secret|internal)\s+(?:prompt|configuration|"
    r"instructions|settings|rules|preamble)\b|\byour\s+(?:\w+\s+)?(?:instructions|"
    r"configuration|programming|system prompt)\b|\bdein\w*\s+(?:\w+\s+)?(?:Anweisungen|"
    r"Konfiguration|Einstellungen|Grundeinstellungen|Regeln|Vorgaben|Systemnachricht)\b|"
    r"\bGrundeinstellungen\b|\btext (?:above|before) (?:my|this)\b|\bText (?:über|vor) "
    r"meiner (?:ersten )?Nachricht\b|\bwhat you were told\b|\bwas dir gesagt wurde\b)"
)
_AIREF = (
    r"(?:\b(?:you|your|du|dir|dich|dein\w*|antworte\w*|answer|respond|reply|Modell|model|KI|"
    r"AI|assistant|Assistent\w*|bot)\b)"
)
_NO_FILTER = (
    r"(?:\b(?:without|with no|no|ohne|keine|keinerlei)\s+(?:\w+\s+){0,2}(?:filters?|"
    r"restrictions|rules|guidelines|censorship|limits|safety|Filter|Sicherheitsfilter|"
    r"Beschränkungen|Einschränkungen|Regeln|Richtlinien|Zensur|Grenzen)\b|\b(?:filters?|"
    r"restrictions|rules|guidelines|Filter|Regeln|Richtlinien)\s+(?:\w+\s+){0,2}(?:switched "
    r"off|turned off|disabled|abgeschaltet|ausgeschaltet|deaktiviert)\b)"
)

INJECTION_SIGNALS: tuple[InjectionSignal, ...] = (
    InjectionSignal(
        "override_rules",
        1.0,
        _p(rf"{_OVERRIDE_IMP}{_CL}{_RULE_NOUN}"),
    ),
    InjectionSignal(
        "disclose_prompt",
        1.0,
        _p(rf"{_DISCLOSE}{_CL}{_SELF}|{_SELF}{_CL}{_DISCLOSE}"),
    ),
    InjectionSignal(
        "unrestricted",
        1.0,
        _p(rf"{_AIREF}{_CL}{_NO_FILTER}|{_NO_FILTER}{_CL}{_AIREF}"),
    ),
    InjectionSignal(
        "persona_cue",
        0.6,
        _p(
            r"\b(?:roleplay|role-play|rollenspiel|switch personas|persona|pretend|tu so|"
            r"stell dir vor|imagine you are|you're now|you are now|du bist jetzt|ab sofort bist "
            r"du|antwortest du (?:\w+ ){0,2}als)\b"
        ),
    ),
    InjectionSignal(
        "other_customers_data",
        0.6,
        _p(
            r"\b(?:IBAN|address|Adresse|Kontodaten|Daten|data|contract|Vertrag)\w*\s+(?:von|of|"
            r"des|der)\s+(?:Kunde|Kundin|customer|meines Nachbarn|my neighbou?r)\b"
            r"|\bcustomer\s*\d+'s|\b(?:neighbou?r|Nachbar)\w*'?s?\s+(?:contract|data|IBAN|"
            r"Vertrag|Daten)|\bandere[nr]? Kunden\b|\bother customers\b|\bany customer's\b|"
            r"\balle Kontodaten\b"
        ),
    ),
    InjectionSignal(
        "authority_claim",
        0.6,
        _p(
            r"\b(?:I'm|I am|ich bin|this is|hier ist|das ist ein Befehl (?:vom|von)|als (?:Ihr|"
            r"dein))\s+(?:the\s+|der\s+|die\s+|von der\s+|your\s+|dein\s+)?(?:CEO|admin\w*|"
            r"Administrator|developer|Entwickler|IT-Sicherheit|IT-Security|security team|"
            r"Teamleiter\w*|Vorgesetzte\w*|Geschäftsführ\w*|boss|Chef|owner|Betreiber)\b"
        ),
    ),
    InjectionSignal(
        "priority_claim",
        0.6,
        _p(
            r"\b(?:höchste Priorität|highest priority|takes precedence|authoritative|ersetzt "
            r"alle|replaces all|supersedes|Vorrang vor)\b"
        ),
    ),
    # -- override of the assistant's instructions
    InjectionSignal(
        "ignore_previous_en",
        1.0,
        _p(
            rf"\b(?:ignore|disregard|forget|override|skip|bypass|drop|abandon)\b[^.!?\n]{{0,30}}"
            rf"\b(?:all|any|every|the|your|these|those|my)?\s*(?:of\s+)?(?:the\s+|your\s+)?"
            rf"(?:{_PREV_EN}\s+)(?:\w+\s+)?{_RULES_EN}"
        ),
    ),
    InjectionSignal(
        "ignore_your_rules_en",
        1.0,
        _p(
            rf"\b(?:ignore|disregard|forget|override|bypass)\s+(?:all\s+)?(?:of\s+)?"
            rf"(?:your|the\s+system'?s?)\s+(?:\w+\s+)?{_RULES_EN}"
        ),
    ),
    InjectionSignal(
        "ignore_previous_de",
        1.0,
        _p(
            rf"\b{_IGNORE_DE}\b[^.!?\n]{{0,25}}\b{_YOUR_DE}\s+(?:\w+\s+)?"
            rf"(?:{_PREV_DE}\s+)?{_RULES_DE}"
        ),
    ),
    InjectionSignal(
        "ignore_previous_de_object_first",
        1.0,
        _p(
            rf"\b(?:alle|sämtliche|deine|Ihre)\s+(?:{_PREV_DE}\s+)?{_RULES_DE}\s+"
            rf"(?:\w+\s+){{0,3}}(?:ignorieren|vergessen|missachten|verwerfen|ungültig|nichtig|"
            rf"gelten nicht mehr|aufgehoben|außer Kraft)"
        ),
    ),
    InjectionSignal(
        "ignore_above",
        1.0,
        _p(
            r"\b(?:ignore|disregard|forget)\s+(?:the|everything|all|what(?:'s| is))\s+"
            r"(?:above|before|written above|said above)\b"
            r"|\b(?:ignoriere|vergiss|missachte)\s+(?:das Obige|alles (?:oben|obige|davor|bisher "
            r"Gesagte))"
        ),
    ),
    InjectionSignal(
        "forget_everything",
        1.0,
        _p(
            r"\b(?:forget|vergiss|disregard|ignore|ignoriere)\s+(?:everything|all(?:es)?|was)\b"
            r"[^.!?\n]{0,40}\b(?:told|said|instructed|learned|gesagt|wurde|beigebracht|weißt|"
            r"gelernt)"
        ),
    ),
    InjectionSignal(
        "release_from_rules",
        1.0,
        _p(
            r"\b(?:nicht mehr|nicht länger|no longer|don't have to|do not have to|don't need to|"
            r"do not need to|brauchst nicht|musst nicht)\b[^.!?\n]{0,20}\b(?:an\s+|to\s+)?"
            r"(?:deine|Ihre|your|die|the|diese|these)\s+(?:\w+\s+)?(?:Vorgaben|Regeln|"
            r"Anweisungen|Richtlinien|rules|instructions|guidelines|policies|restrictions)\b"
        ),
    ),
    InjectionSignal(
        "identity_override",
        1.0,
        _p(
            r"\bvergiss,?\s+dass du\b[^.!?\n]{0,25}\bbist\b"
            r"|\b(?:ab jetzt|ab sofort|von nun an) heißt du\b|\bdu heißt (?:ab jetzt|ab sofort|"
            r"jetzt|nun)\b|\byour (?:new )?name is now\b|\byou are no longer (?:Sophia|an? "
            r"(?:assistant|customer))|\bdu bist (?:nicht mehr|keine) (?:Sophia|Kundenassistenz)"
        ),
    ),
    InjectionSignal(
        "new_command",
        1.0,
        _p(
            r"\b(?:dein|deine|your)\s+(?:neuer?|new|eigentliche|real|actual)\s+"
            r"(?:Befehl|Anweisung|Aufgabe|Auftrag|Regel|Richtlinie|instructions?|task|rule|"
            r"orders?|mission|policy)"
            r"\s*(?:lautet|ist|is|are|:)"
        ),
    ),
    InjectionSignal(
        "override_banner",
        1.0,
        _p(
            r"\b(?:system|admin|developer|security|root)\s*[-_ ]?(?:override|overwrite)\b"
            r"|\b(?:override|overwrite)\s+(?:mode|protocol|code)\b"
        ),
    ),
    InjectionSignal(
        "new_rules",
        1.0,
        _p(
            r"(?:^|\n)\s*(?:new|updated|real|actual|neue|aktualisierte|echte|tatsächliche)\s+"
            r"(?:instructions?|rules|system prompt|anweisungen|regeln|vorgaben)\s*:"
        ),
    ),
    InjectionSignal(
        "no_restrictions",
        1.0,
        _p(
            r"\b(?:without|with no|no longer (?:bound|restricted) by|free of|ohne|keinerlei|"
            r"keine)\s+(?:any\s+)?(?:restrictions|limits|filters|rules|guidelines|censorship|"
            r"safety|Einschränkungen|Beschränkungen|Filter|Regeln|Zensur|Richtlinien|"
            r"Sicherheitsvorkehrungen)\b[^.!?\n]{0,40}\b(?:answer|respond|reply|antworte|"
            r"antworten|behave|act|verhalte|sprich|operate|agieren)"
            r"|\b(?:answer|respond|reply|antworte|antworten Sie)\b[^.!?\n]{0,30}\b(?:without|"
            r"with no|ohne)\s+(?:any\s+|jegliche\s+)?(?:restrictions|limits|filters?|rules|"
            r"censorship|Einschränkungen|Beschränkungen|Filter|Regeln|Zensur)\b"
        ),
    ),
    InjectionSignal(
        "bypass_safety",
        1.0,
        _p(
            r"\b(?:bypass|circumvent|disable|turn off|deactivate|umgehe|umgehen|deaktiviere|"
            r"deaktivieren|schalte)\b[^.!?\n]{0,25}\b(?:your|the|deine|die|alle)?\s*"
            r"(?:safety|content|security|sicherheits|inhalts)[- ]?"
            r"(?:filters?|guidelines|rules|policy|policies|mechanisms|filter|regeln|richtlinien|"
            r"mechanismen|vorkehrungen)"
        ),
    ),
    # -- jailbreak personas
    InjectionSignal(
        "persona_dan",
        1.0,
        _p(
            r"\b(?:DAN|STAN|DUDE|AIM)\b[^\n]{0,40}(?:do anything now|jailbreak|mode|modus|"
            r"persona|now|jetzt)|\bdo anything now\b|\bjailbreak(?:ed|s)?\b"
        ),
    ),
    InjectionSignal(
        "mode_switch",
        1.0,
        _p(
            r"\b(?:enable|activate|enter|switch to|turn on|you are in|you are now in|you're in|"
            r"you're now in|aktiviere|"
            r"aktivieren|"
            r"schalte|wechsle in den|du bist im)\b[^.!?\n]{0,15}(?:(?:developer|god|sudo|admin|"
            r"debug|unrestricted|evil|maintenance)[- ]mode|(?:Entwickler|Gott|Admin|Debug|"
            r"Wartungs)-?[Mm]odus)"
        ),
    ),
    InjectionSignal(
        "mode_mention",
        0.6,
        _p(r"\b(?:developer|god|sudo|unrestricted|evil)[- ]mode\b|\b(?:Entwickler|Gott)-?modus\b"),
    ),
    InjectionSignal(
        "role_override_en",
        1.0,
        _p(
            r"\b(?:you are now|from now on,? you (?:are|will be|act as)|act as|pretend to be|"
            r"pretend you are|roleplay as|you will now play)\s+(?:an?\s+)?"
            r"(?:DAN|unrestricted|unfiltered|uncensored|evil|jailbroken|different|new|"
            r"rogue|malicious|hacker|AI without|assistant without|model without|my (?:grandma|"
            r"grandmother|deceased))"
        ),
    ),
    InjectionSignal(
        "role_override_de",
        1.0,
        _p(
            r"\b(?:du bist (?:jetzt|ab sofort|nun|ab jetzt|von nun an)|ab sofort bist du|"
            r"ab jetzt bist du|von nun an bist du|spiele? (?:die rolle|ab sofort)|"
            r"tu so,? als (?:ob|wärst)|stell dir vor,? du bist|verhalte dich (?:ab sofort )?wie)"
            r"\s+(?:\w+\s+){0,2}(?:DAN|uneingeschränkt\w*|unzensiert\w*|ungefiltert\w*|böse\w*|"
            r"ohne (?:Regeln|Einschränkungen|Filter|Grenzen)|eine? (?:andere|neue) KI|"
            r"Hacker\w*|nicht mehr Sophia|keine Kundenassistenz|keine (?:Regeln|Einschränkungen|"
            r"Filter|Grenzen|Vorgaben))"
        ),
    ),
    # -- system prompt extraction
    InjectionSignal(
        "prompt_extraction_en",
        1.0,
        _p(
            r"\b(?:reveal|show|print|repeat|output|display|tell|give|list|leak|dump|write out|"
            r"recite|spell out|paste|share)\b[^.!?\n]{0,25}\b(?:your|the|initial|hidden|secret|"
            r"original)\s+(?:\w+\s+)?(?:system\s*prompt|system message|instructions|"
            r"pre-?prompt|initial prompt|hidden prompt|configuration prompt)"
            r"|\bwhat (?:is|are|were) (?:your|the) (?:exact\s+)?(?:system\s*prompt|"
            r"(?:initial|original|hidden) instructions)"
            r"|\b(?:repeat|print|output)\b[^.!?\n]{0,20}\b(?:words|text|everything)\s+"
            r"(?:above|before this)"
            r"|\b(?:print|show|output|repeat|dump|reveal|list|display|copy)\b[^.!?\n]{0,30}"
            r"\b(?:context window|everything before my (?:first )?message|your (?:full |whole )?"
            r"context|(?:your|the) (?:hidden|secret|internal|system) rules|the rules you follow)"
            r"|\bwhat (?:instructions|rules|guidelines|directives) (?:were you|have you been|did "
            r"you) (?:given|get|receive)"
            r"|\b(?:translate|summari[sz]e|paraphrase|encode)\b[^.!?\n]{0,15}\b(?:your|the)\s+"
            r"(?:system\s*prompt|instructions|hidden rules|initial prompt)"
        ),
    ),
    InjectionSignal(
        "prompt_extraction_de",
        1.0,
        _p(
            r"\b(?:zeig\w*|nenn\w*|gib|geben Sie|verrat\w*|wiederhol\w*|druck\w*|gib\s+\w+\s+aus|"
            r"schreib\w*|ausgeben|offenlegen|teil\w*|kopier\w*|list\w*|übersetz\w*|fass\w*|"
            r"zitier\w*|buchstabier\w*)\b[^.!?\n]{0,30}"
            r"\b(?:deinen|deine|dein|Ihren|Ihre|den|die|das)\s+(?:\w+\s+)?"
            r"(?:System-?[Pp]rompt|Systemnachricht|System-?Anweisungen|Systemanweisung|"
            r"Initial-?Prompt|ursprünglichen Anweisungen|geheimen Anweisungen|internen "
            r"Anweisungen|versteckten Anweisungen|Anweisungen,? die du (?:bekommen|erhalten)|"
            r"internen Regeln|geheimen Regeln|versteckten Regeln|Konfiguration)"
            r"|\bwie lautet (?:dein|Ihr|der) System-?[Pp]rompt"
            r"|\b(?:wiederhole|gib)\b[^.!?\n]{0,20}\b(?:alles|den Text|die Wörter)\s+"
            r"(?:oberhalb|über dieser|davor|vor dieser)"
        ),
    ),
    # -- chat-template role markers and fake turns
    InjectionSignal(
        "role_markers",
        1.0,
        _p(
            r"<\|(?:im_start|im_end|system|user|assistant|begin_of_text|start_header_id|"
            r"end_header_id|eot_id|endoftext)\|>|\[/?INST\]|<</?SYS>>|</?s>\s*\[INST|"
            r"^\s*#{2,}\s*(?:system|instruction|assistant)\b\s*:?|"
            r"</?(?:system|assistant|instructions?|admin|sys)>|"
            r"\[(?:assistant|system|AI|KI|LLM|bot|admin)[ _-]?(?:instructions?|anweisungen|prompt|"
            r"note|hinweis|override|befehl)\]"
        ),
    ),
    InjectionSignal(
        # "System: Ihre Zahlung ist eingegangen." is a customer quoting a notification; a line
        # that claims to be the system is suspicious, but needs a second signal ...
        "fake_role_line",
        0.6,
        _p(r"^\s*(?:system|assistant|developer)\s*(?:prompt|message)?\s*:\s*\S"),
    ),
    InjectionSignal(
        # ... unless it stages a whole fake dialogue.
        "fake_dialogue",
        1.0,
        _p(
            r"^\s*(?:system|assistant|developer)\s*:[\s\S]*?^\s*(?:user|human|nutzer|kunde|"
            r"kundin)\s*:"
        ),
    ),
    # -- indirect injection inside documents, e-mails, web pages
    InjectionSignal(
        "addressed_to_ai",
        0.6,
        _p(
            r"\b(?:note|message|instruction|hinweis|nachricht|anweisung)s?\s+(?:to|for|an|für)\s+"
            r"(?:the|any|all|die|den|alle)?\s*(?:AI|KI|LLM|assistant|Assistenten|Assistentin|"
            r"chatbot|language model|Sprachmodell|bot)s?\b"
            r"|\bif you are an? (?:AI|LLM|language model|assistant|chatbot)\b"
            r"|\b(?:to|an|für)\s+(?:any|every|jede\w*|das|die|den)\s+(?:AI|KI|Sprachmodell|"
            r"language model|LLM|assistant|Assistent\w*)s?(?:\s+reading(?: this)?)?\s*:"
            r"|\b(?:achtung|attention|wichtig|important|hinweis|note)\s*,?\s*(?:KI|AI|LLM|"
            r"assistant|Assistent\w*|bot)\s*:"
            r"|\bwenn du (?:eine? )?(?:KI|AI|Sprachmodell|Assistent\w*|Chatbot|LLM)\b"
            r"|\b(?:AI|KI) (?:assistant|assistent\w*)?,?\s+(?:please|bitte)?\s*(?:ignore|"
            r"ignoriere|forward|leite|send|sende|execute|führe)"
        ),
    ),
    InjectionSignal(
        "hidden_action",
        0.6,
        _p(
            r"\b(?:do not|don't|never|nicht|niemals)\s+(?:tell|inform|mention|tell the user|"
            r"dem Nutzer|dem Kunden|der Kundin|erwähne\w*|informiere\w*|sagen?)\b[^.!?\n]{0,40}"
            r"\b(?:this|these|about|davon|dies\w*|darüber|dass)"
            r"|\b(?:transfer|überweise|refund|erstatte|send|schicke|sende|forward|leite)\b"
            r"[^.!?\n]{0,40}\b(?:immediately|sofort|unverzüglich)\b[^.!?\n]{0,40}"
            r"\b(?:without|ohne)\s+(?:verification|confirmation|Prüfung|Bestätigung|Rückfrage)"
        ),
    ),
    InjectionSignal(
        "exfiltrate_data",
        0.6,
        _p(
            r"\b(?:all|alle|sämtliche)\s+(?:\w+\s+)?(?:data|customer data|records|Daten|"
            r"Kundendaten|Datensätze|Kontodaten|IBANs|addresses|Adressen)\s+(?:an|to)\s+\S+@\S+"
            r"|\b(?:forward|send|e-?mail|post|upload|leite|sende|schicke|übermittle|lade)\b"
            r"[^.!?\n]{0,30}\b(?:all|every|the full|alle|sämtliche|die kompletten|komplette)\s+"
            r"(?:\w+\s+)?(?:data|customer data|records|conversations?|chat history|chat log|"
            r"transcript|Chatprotokoll|Verlauf|Daten|"
            r"Kundendaten|Datensätze|Gespräche|Gespräch|Konversationen?|Unterhaltung|Chatverlauf|"
            r"Chatverläufe|Kontodaten)"
        ),
    ),
    InjectionSignal(
        "tool_override",
        0.6,
        _p(
            r"\b(?:call|invoke|use|execute|rufe|nutze|verwende|führe)\b[^.!?\n]{0,20}"
            r"\b(?:the\s+|das\s+)?(?:tool|function|Funktion|Werkzeug)\b[^.!?\n]{0,30}"
            r"\b(?:with|mit)\b[^.!?\n]{0,30}(?:arguments?|Argument\w*|parameters?|Parameter\w*)"
        ),
    ),
    InjectionSignal(
        "suppress_escalation",
        1.0,
        _p(
            r"\bescalate_to_human\b[^.!?\n]{0,30}\b(?:nicht|never|don't|do not|niemals|"
            r"keinen Fall|no circumstances|any circumstances)"
            r"|\b(?:nicht|never|don't|do not|niemals|keinen Fall)\b[^.!?\n]{0,30}"
            r"\bescalate_to_human"
        ),
    ),
    InjectionSignal(
        "decode_and_follow",
        0.6,
        _p(
            r"\b(?:decode|dekodiere|entschlüssel\w*|base64|rot13|hex)\b[^.!?\n]{0,60}"
            r"\b(?:follow|execute|befolge|führe|ausführen|do what|tu,? was|mach,? was|"
            r"respond to|antworte auf)"
        ),
    ),
)

"""Human sections of generated documents: what people write survives every regeneration.

A generated document marks each place a person fills in (the DPO's assessment, Legal's verdict,
a sign-off table) as a region::

    - Controller: <!-- nova:human dsfa.controller -->[…]<!-- /nova:human -->

Everything outside the regions is nova's; its sha256 is recorded in the last line
(``<!-- nova:generated sha256=… -->``). Regenerating a document:

1. renders the new text (regions hold their placeholders);
2. reads the old file: every region's content is copied into the new text byte for byte;
   regions the template no longer writes are kept in an appendix, never dropped;
3. refuses (a conflict, the file stays untouched) when the old file's generated part no longer
   matches its recorded hash — a person edited text outside the regions — or when the old file
   has broken markers, or no such hash (written by hand or by an older nova) and a generated
   part that differs from the new one; each refusal says what to do. With ``force`` the
   regions are still carried over (when the markers parse) and the caller keeps a backup;
4. returns a unified diff of old and new text, which shows only generated parts because the
   human parts are equal.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from dataclasses import dataclass, field

__all__ = [
    "HUMAN_END",
    "DocumentUpdate",
    "HumanSectionError",
    "human_region",
    "human_regions",
    "merge_document",
    "open_placeholders",
    "seal",
]

HUMAN_END = "<!-- /nova:human -->"
_START = re.compile(r"<!-- nova:human ([A-Za-z0-9_.:\-]+) -->")
_REGION = re.compile(r"<!-- nova:human ([A-Za-z0-9_.:\-]+) -->(.*?)<!-- /nova:human -->", re.S)
_SEAL = re.compile(r"\n?<!-- nova:generated sha256=([0-9a-f]{64}) -->\n?\Z")
_PLACEHOLDER = re.compile(r"\[(?:vom|von der|von|to be) [^\]\n]{1,80}\]")
_APPENDIX = {
    "de": "## Menschliche Abschnitte, die die Vorlage nicht mehr schreibt",
    "en": "## Human sections the template no longer writes",
}


class HumanSectionError(ValueError):
    """The human-section markers of a document are broken (unclosed, nested or duplicated)."""


def human_region(region_id: str, content: str) -> str:
    """The marked region ``region_id`` holding ``content`` (a placeholder when generated)."""
    if not re.fullmatch(r"[A-Za-z0-9_.:\-]+", region_id):
        raise ValueError(f"bad human region id {region_id!r}")
    return f"<!-- nova:human {region_id} -->{content}{HUMAN_END}"


def _line(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def human_regions(text: str) -> dict[str, str]:
    """Every region id and its content, in document order; HumanSectionError when broken."""
    out: dict[str, str] = {}
    for m in _REGION.finditer(text):
        inner = m.group(2)
        if _START.search(inner):
            line = _line(text, m.start())
            raise HumanSectionError(
                f"line {line}: human section {m.group(1)!r} is not closed before the next "
                f"one starts (its {HUMAN_END} is missing)"
            )
        if m.group(1) in out:
            line = _line(text, m.start())
            raise HumanSectionError(f"line {line}: human section {m.group(1)!r} appears twice")
        out[m.group(1)] = inner
    starts = len(_START.findall(text))
    ends = text.count(HUMAN_END)
    if starts != len(out) or ends != len(out):
        where = ""
        for m in _START.finditer(text):
            if text.find(HUMAN_END, m.end()) < 0:
                where = f"line {_line(text, m.start())}: "
        raise HumanSectionError(
            f"{where}{starts} human section start markers but {ends} end markers "
            f"({HUMAN_END}); restore the marker that was deleted"
        )
    return out


def _generated_part(text: str) -> str:
    """The text with every region emptied and the seal line removed: nova's part only.

    Line ends are compared as LF, so a checkout that turned the file into CRLF (git
    ``autocrlf``) is not taken for an edit."""
    body = _SEAL.sub("", text.replace("\r\n", "\n"))
    return _REGION.sub(lambda m: f"<!-- nova:human {m.group(1)} -->{HUMAN_END}", body)


def _digest(text: str) -> str:
    return hashlib.sha256(_generated_part(text).encode("utf-8")).hexdigest()


def seal(text: str) -> str:
    """``text`` with the seal line recording the hash of its generated part."""
    body = _SEAL.sub("", text).rstrip("\n") + "\n"
    return f"{body}\n<!-- nova:generated sha256={_digest(body)} -->\n"


def open_placeholders(text: str) -> list[str]:
    """Placeholders nobody filled in yet (``[vom DSB auszufüllen]``, ``[to be … by Legal]``)."""
    return _PLACEHOLDER.findall(text)


@dataclass
class DocumentUpdate:
    """The outcome of regenerating one document."""

    text: str
    """The text to write (human sections carried over)."""
    diff: list[str] = field(default_factory=list)
    """Unified diff lines old → new (empty for a new file)."""
    kept: list[str] = field(default_factory=list)
    """Ids of human sections whose content a person wrote and that were carried over."""
    conflict: str | None = None
    """Why the old file must not be overwritten; ``text`` is then not written."""

    @property
    def added(self) -> int:
        """Lines added by the regeneration."""
        return sum(1 for x in self.diff if x.startswith("+") and not x.startswith("+++"))

    @property
    def removed(self) -> int:
        """Lines removed by the regeneration."""
        return sum(1 for x in self.diff if x.startswith("-") and not x.startswith("---"))


def _conflict(old: str, new: str, before: dict[str, str], name: str) -> str | None:
    """Why ``old`` must not be overwritten by ``new`` (None when it may be), with what to do."""
    keep = (
        ", carrying over what its human sections hold"
        if before
        else " (it has no human sections: copy what you wrote from the backup into the new "
        "file's human sections)"
    )
    force = f"`nova docs --force` copies it to .nova/backups/docs/ and regenerates it{keep}"
    recorded = _SEAL.search(old.replace("\r\n", "\n"))
    if recorded is None:
        if _generated_part(old) == _generated_part(new):
            return None  # no seal, but nova's text is exactly what nova writes now
        return (
            f"{name}: has no nova seal line and differs from what nova generates now (written "
            f"by hand or by an older nova), so nova cannot tell your text from its own; {force}"
        )
    if recorded.group(1) == _digest(old):
        return None
    was = _generated_part(old).splitlines()  # LF-normalised
    now = _generated_part(new).splitlines()
    first = next(
        (i for i, (a, b) in enumerate(zip(was, now, strict=False)) if a != b),
        min(len(was), len(now)),
    )
    return (
        f"{name}: text outside the human sections was edited (near line {first + 1}); move it "
        f"into a human section (<!-- nova:human ID -->…{HUMAN_END}) and run "
        f"`nova docs` again, or {force}"
    )


def merge_document(
    old: str | None, new: str, *, name: str, lang: str, force: bool = False
) -> DocumentUpdate:
    """Carry the human sections of ``old`` into the freshly rendered ``new`` (see module doc).

    A conflict leaves ``text`` unsealed and not to be written, unless ``force``: then the
    text is merged anyway (human sections carried over when ``old``'s markers parse) and the
    conflict is still reported, so that the caller keeps a backup of ``old``.
    """
    fresh = human_regions(new)
    if old is None:
        return DocumentUpdate(text=seal(new))
    try:
        before = human_regions(old)
    except HumanSectionError as exc:
        broken = (
            f"{name}: {exc}; or `nova docs --force` copies it to .nova/backups/docs/ and "
            "regenerates it (what its human sections held is then only in the backup)"
        )
        return DocumentUpdate(text=seal(new) if force else new, conflict=broken)
    conflict = _conflict(old, new, before, name)
    if conflict is not None and not force:
        return DocumentUpdate(text=new, conflict=conflict)
    # A section still holding only a placeholder was not written by a person: it takes the
    # fresh placeholder (e.g. in another document language).
    typed = {rid: c for rid, c in before.items() if not _PLACEHOLDER.fullmatch(c.strip())}
    kept = [rid for rid, content in typed.items() if rid in fresh and content != fresh[rid]]

    def carry(m: re.Match[str]) -> str:
        rid = m.group(1)
        return human_region(rid, typed.get(rid, m.group(2)))

    text = _REGION.sub(carry, new)
    orphans = [rid for rid in typed if rid not in fresh]
    if orphans:
        body = text.rstrip("\n")
        extra = "\n\n".join(f"### {rid}\n\n{human_region(rid, typed[rid])}" for rid in orphans)
        text = f"{body}\n\n{_APPENDIX.get(lang, _APPENDIX['en'])}\n\n{extra}\n"
        kept += orphans
    text = seal(text)
    diff = list(
        difflib.unified_diff(
            old.splitlines(), text.splitlines(), f"a/{name}", f"b/{name}", lineterm="", n=1
        )
    )
    return DocumentUpdate(text=text, diff=diff, kept=kept, conflict=conflict)

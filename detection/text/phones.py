"""Chinese phone numbers in OCR'd text: mobiles, landlines with an area code, and 400/800 lines.

Flyers print the number the bureau acts on; OCR returns it with full-width digits, spaces or
dashes inside, and now and then a letter O or l where a 0 or 1 was printed. A number counts only
when it is a whole digit run: the 11 digits of an order number or a timestamp that happen to start
with 1[3-9] are not a phone.
"""

from __future__ import annotations

import re
import unicodedata

# A digit then an optional single space or dash: how flyers group digits ("138 0013 8000").
_SEP = r"[ \-]?"

_MOBILE = re.compile(rf"(?:(?:\+|00)?86{_SEP})?(?P<mobile>1[3-9](?:{_SEP}\d){{9}})")
# 010 and 02x are three-digit area codes (eight-digit locals); the others have four digits. Local
# numbers never start with 0 or 1.
_LANDLINE = re.compile(
    rf"(?:\((?P<area_p>0(?:10|2\d|[3-9]\d{{2}}))\)|(?P<area>0(?:10|2\d|[3-9]\d{{2}})))"
    rf"{_SEP}(?P<local>[2-9](?:{_SEP}\d){{6,7}})"
)
_SERVICE = re.compile(rf"(?P<service>[48]00{_SEP}\d(?:{_SEP}\d){{2}}{_SEP}\d(?:{_SEP}\d){{3}})")

# A number is a whole run: no digit (or digit and dash) touches it on either side. A space alone
# does not join runs, since flyers set a number apart from the words and figures around it.
_BEFORE = re.compile(r"(?:\d|\d-)$")
_AFTER = re.compile(r"^(?:\d|-\d)")

# Letters OCR reads for 0 and 1, and the characters a phone run is written with.
_LOOKALIKES = str.maketrans({"O": "0", "o": "0", "I": "1", "l": "1", "|": "1"})
_RUN = re.compile(r"[0-9OoIl|+()\- ]+")
_MIN_DIGITS_FOR_LOOKALIKES = 7
_MAX_LOOKALIKES = 2


def phone_numbers(text: str) -> list[str]:
    """The phone numbers in ``text``, normalised, each once, in the order they appear.

    Mobiles come back as 11 digits (``+86``/``86``/``0086`` dropped), landlines as
    ``area-local`` (``0532-88888888``), 400/800 lines as ``400-820-8820``. Full-width digits and
    punctuation are read as ASCII. The letters O, o, I, l and | are read as digits only inside a
    run of at least seven real digits with at most two such letters next to its digits.
    """
    normal = _fix_lookalikes(unicodedata.normalize("NFKC", text))
    found: list[tuple[int, str]] = []
    taken: list[tuple[int, int]] = []
    for pattern in (_LANDLINE, _MOBILE, _SERVICE):
        for match in pattern.finditer(normal):
            start, end = match.span()
            if _BEFORE.search(normal[:start]) or _AFTER.search(normal[end:]):
                continue
            if any(start < e and s < end for s, e in taken):
                continue
            taken.append((start, end))
            found.append((start, _normalise(match)))
    out: list[str] = []
    for _, number in sorted(found):
        if number not in out:
            out.append(number)
    return out


def _digits(s: str) -> str:
    return re.sub(r"\D", "", s)


def _normalise(match: re.Match[str]) -> str:
    groups = match.groupdict()
    if groups.get("mobile"):
        return _digits(groups["mobile"])
    if groups.get("local"):
        return f"{groups.get('area') or groups.get('area_p')}-{_digits(groups['local'])}"
    d = _digits(groups["service"])
    return f"{d[:3]}-{d[3:6]}-{d[6:]}"


def _fix_lookalikes(text: str) -> str:
    """Read O/o/I/l/| as digits in runs that are clearly numbers (see ``phone_numbers``)."""

    def fix(run: re.Match[str]) -> str:
        s = run.group()
        near = [i for i, c in enumerate(s) if c in "OoIl|" and _touches_digit(s, i)]
        if not near or len(near) > _MAX_LOOKALIKES:
            return s
        if sum(c.isdigit() for c in s) < _MIN_DIGITS_FOR_LOOKALIKES:
            return s
        chars = list(s)
        for i in near:
            chars[i] = s[i].translate(_LOOKALIKES)
        return "".join(chars)

    return _RUN.sub(fix, text)


def _touches_digit(s: str, i: int) -> bool:
    """Whether a digit stands next to ``s[i]``, or next to the look-alike letters beside it."""
    j = i
    while j > 0 and s[j - 1] in "OoIl|":
        j -= 1
    k = i
    while k + 1 < len(s) and s[k + 1] in "OoIl|":
        k += 1
    return (j > 0 and s[j - 1].isdigit()) or (k + 1 < len(s) and s[k + 1].isdigit())

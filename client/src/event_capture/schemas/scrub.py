"""Remove personal data from free text (search queries, voice transcripts) before storage.

E-mail addresses, payment card numbers and phone numbers are replaced by fixed
placeholders. Free text is full of harmless numbers (prices, dates, order ids,
product codes), so each rule is built around the *shape* a human gives the
personal datum, and rejects shapes that only look similar:

Cards
    13-19 digits, either one unbroken run or groups of 3-6 digits (first group of
    4) joined by a single space or dash, and the digits must pass the Luhn check.
    Luhn is what separates a card from a random long id (only ~1 in 10 runs pass).
    Runs starting with 0 are left alone: no card number does (MII 0 is not a
    payment range), while zero-padded order ids and serials are common.
    A 13-digit run that is a valid ISBN-13 (978/979 prefix) is left alone: no card
    network issues 97x numbers, and shoppers search for ISBNs all the time.
    Cards are matched before phones so a card can never surface as ``[PHONE]``.

Phones
    A phone is recognised only when it carries a phone-specific signal, because
    a bare digit run is far more often an order id, SKU, tracking or ZIP code:

    * a leading ``+`` (or ``00`` followed by a country code and a separator),
      then 8-15 digits (E.164 length) with optional space/dash/dot/parentheses;
    * a North American 3-3-4 shape with separators or a parenthesised area code:
      ``(555) 123-4567``, ``555-123-4567``, ``555.123.4567``, ``1-800-555-1234``;
    * a national number with a trunk ``0``, 10-11 digits in separated groups of
      at least 3 digits: ``020 7946 0958``, ``07700 900123``, ``0161 496 0000``;
    * the French five-pairs shape with a trunk ``0``: ``01 23 45 67 89``.

    Look-alikes fail these shapes: dates (4-2-2, d/m/y), times, years, prices
    (commas/currency, 2-digit decimals), ISBNs (1-digit groups), ZIP+4 (5-4),
    IPs and versions (short dotted groups), quantities and dimensions (too few
    digits, ``x``), and codes glued to letters, ``#`` or a ``word-`` prefix
    (``SKU-...``, ``ORD-2026-000123``, ``#A123456789``).

Deliberately not scrubbed: 7-digit local numbers (``555-1234``) and unseparated
national numbers (``5551234567``), both indistinguishable from ids; national
numbers longer than 11 digits (some German mobiles), which are only caught in
``+`` form; numbers spelled out in words ("five five five ..."); e-mail addresses
without a dotted domain (``user@localhost``) or spelled out ("jane at example dot com").
"""

from __future__ import annotations

import re
from collections.abc import Callable

EMAIL_PLACEHOLDER = "[EMAIL]"
PHONE_PLACEHOLDER = "[PHONE]"
CARD_PLACEHOLDER = "[CARD]"

_CARD_MIN_DIGITS = 13
_CARD_MAX_DIGITS = 19
_TRUNK_MIN_DIGITS = 10
_TRUNK_MAX_DIGITS = 11

# Every scrubbed datum needs an "@" or at least 7 digits; this possessive pattern
# answers "7 digits?" without backtracking and beats counting in Python.
_SEVEN_DIGITS = re.compile(r"(?:\D*+\d){7}")

_DIGIT_RUN = re.compile(r"\d+")

_EMAIL = re.compile(
    r"""
    # Only start at the beginning of a local-part run: a leftmost match would
    # start there anyway, and refusing starts inside a run keeps the scan linear.
    (?<![\w.%+-])(?<![\w.%+-]')
    [\w.%+-][\w.%+'-]*+
    @
    (?:[^\W_](?:[^\W_]|-)*+\.)+
    [^\W\d_]{2,63}
    """,
    re.VERBOSE | re.IGNORECASE,
)

_CARD = re.compile(
    r"""
    # Not a continuation of a longer number or word, and not the subscriber part
    # of an international phone number ("+44 7700 900123 4567").
    (?<![\w+])(?<!\d[.,])
    (?<!\+\d[ .-])(?<!\+\d\d[ .-])(?<!\+\d\d\d[ .-])
    [1-9]\d{3}
    (?:
        (?P<sep>[ -])\d{3,6}(?:(?P=sep)\d{3,6}){1,4}
      | \d{9,15}
    )
    (?!\w)(?![.,]\d)
    """,
    re.VERBOSE,
)

_PHONE = re.compile(
    r"""
    (?<![\w+\#])
    (?:
        # International: the "+" (or "00" + country code + separator) is the signal,
        # so the digits themselves may be unseparated.
        (?:\+|00(?=[1-9]\d{0,2}[ .(-]))
        \d(?:(?:[ .-]?\(|\)[ .-]?|[ .-])?\d){7,14}(?!\d)
      |
        # "SKU-", "ref/" or a preceding number mean this is part of a code.
        (?<!\w[-/])(?<!\d[.,])
        (?:
            (?:1[ .-])?(?:\(\d{3}\)[ ]?|\d{3}[ .-])\d{3}[ .-]\d{4}
          | (?P<trunk>(?:\(0\d{1,4}\)[ ]?|0\d{1,4}[ .-])\d{3,8}(?:[ .-]\d{3,8}){0,2})
          | 0\d(?P<pair>[ .-])\d\d(?:(?P=pair)\d\d){3}
        )
        (?!\w)(?![-/]\w)(?![.,]\d)
    )
    """,
    re.VERBOSE,
)


def luhn_valid(digits: str) -> bool:
    """Return True if ``digits`` (decimal digits only, no separators) passes Luhn."""
    if not digits or not digits.isdecimal():
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _is_isbn13(digits: str) -> bool:
    if len(digits) != 13 or not digits.startswith(("978", "979")):
        return False
    total = sum(int(char) * (3 if index % 2 else 1) for index, char in enumerate(digits))
    return total % 10 == 0


def _whole_match(match: re.Match[str]) -> int | None:
    return match.end()


def _card_end(match: re.Match[str]) -> int | None:
    # The pattern may swallow a trailing group (CVV, quantity, a second card), so the
    # longest Luhn-valid prefix of whole groups is the card; the rest is re-scanned.
    digits = ""
    end: int | None = None
    for run in _DIGIT_RUN.finditer(match.string, match.start(), match.end()):
        digits += run.group()
        if len(digits) > _CARD_MAX_DIGITS:
            break
        if len(digits) >= _CARD_MIN_DIGITS and luhn_valid(digits) and not _is_isbn13(digits):
            end = run.end()
    return end


def _phone_end(match: re.Match[str]) -> int | None:
    if match.group("trunk") is None:
        return match.end()
    # Trunk-prefixed group lengths vary by country, so the regex only bounds the
    # shape; the digit total decides, trimming trailing groups that overshoot.
    count = 0
    end: int | None = None
    for run in _DIGIT_RUN.finditer(match.string, match.start(), match.end()):
        count += len(run.group())
        if count > _TRUNK_MAX_DIGITS:
            break
        if count >= _TRUNK_MIN_DIGITS:
            end = run.end()
    return end


def _replace(
    text: str,
    pattern: re.Pattern[str],
    accept: Callable[[re.Match[str]], int | None],
    placeholder: str,
) -> str:
    pieces: list[str] = []
    last = 0
    pos = 0
    while (match := pattern.search(text, pos)) is not None:
        end = accept(match)
        if end is None:
            # A rejected candidate may still contain a valid one further in.
            pos = match.start() + 1
            continue
        pieces.append(text[last : match.start()])
        pieces.append(placeholder)
        last = pos = end
    if not pieces:
        return text
    pieces.append(text[last:])
    return "".join(pieces)


def _might_contain_pii(text: str) -> bool:
    return "@" in text or _SEVEN_DIGITS.match(text) is not None


def _scrub_once(text: str) -> str:
    # E-mails first: a local part may hold a phone or card number that must not be
    # half-replaced; cards before phones so a card never becomes "[PHONE]".
    if "@" in text:
        text = _replace(text, _EMAIL, _whole_match, EMAIL_PLACEHOLDER)
    text = _replace(text, _CARD, _card_end, CARD_PLACEHOLDER)
    return _replace(text, _PHONE, _phone_end, PHONE_PLACEHOLDER)


def scrub_text(text: str) -> str:
    """Replace e-mail addresses, Luhn-valid card numbers and phone numbers with placeholders.

    Returns ``text`` itself (same object) when nothing needed replacing.
    """
    current = text
    # Repeat until stable: a replacement changes the context seen by the boundary
    # checks of its neighbours, and output must be idempotent. Each round removes
    # digits or "@", so this terminates, and clean text costs a single round.
    while _might_contain_pii(current):
        scrubbed = _scrub_once(current)
        if scrubbed == current:
            break
        current = scrubbed
    return current

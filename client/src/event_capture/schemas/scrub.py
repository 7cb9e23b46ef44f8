"""Remove personal data from free text (search queries, filter values, voice transcripts, URL
paths) before storage.

E-mail addresses, IBANs, payment card numbers and phone numbers are replaced by fixed
placeholders. The recognisers are maintained libraries where one exists (libphonenumber's
matcher through ``phonenumbers``, ``python-stdnum``'s IBAN check) and the Luhn check for cards;
what is ours is the *shape* rule around each one, because free text is full of harmless numbers
(prices, dates, order ids, barcodes, model numbers) that a library alone would take for data.

Normalisation
    Text is read after NFKC, character by character where a character maps to one (full-width
    ``@`` (U+FF20), ``.`` and digits become ASCII; non-breaking, narrow and ideographic spaces
    become spaces; a ligature that NFKC spells out in several stays), and with zero-width
    characters removed, or turned into a space between two digits (``4111\\u200b1111`` is two
    groups).
    When something is replaced the stored text is the normalised one; text with nothing to
    replace is returned as it came (same object).

E-mails
    ``local@domain.tld``, with the ``@`` full-width or percent-encoded (``%40``), and spelled
    out: ``jane at example dot com``, ``jane [at] example [dot] com``, ``(at)``, ``{dot}`` and
    mixes. A bare word ``at`` counts only with a spelled ``dot`` in the domain, so
    ``shoes at zalando.de`` stays.

IBANs
    Two letters, two digits, then 11-30 letters or digits, grouped or not; kept only if
    ``stdnum.iban`` validates it (country length and format, mod-97), so no ordinary word-digit
    mix is taken.

Cards
    13-19 digits passing Luhn, in groups of at least 3 (the first at least 4, the last at least
    2: Maestro's 18 digits end in a pair) joined by any separator (spaces, dashes, dots,
    slashes, mixed, space-padded) or none. Dates, prices, versions and ISBNs have shorter
    groups. Left alone: runs starting with 0 (no card network issues them), valid ISBN-13s
    (978/979), and unbroken 13-digit runs that are valid EAN-13 barcodes (shoppers search for
    both; Visa's 13-digit numbers are long retired). The longest Luhn-valid prefix of whole
    groups is the card (a trailing CVV stays).

Phones
    libphonenumber's ``PhoneNumberMatcher`` reads each stretch of digits and phone punctuation
    for each region in :func:`phone_regions` (``DEFAULT_PHONE_REGIONS`` unless
    :func:`set_phone_regions` was called); a number it finds is replaced when it carries a
    phone signal:

    * a leading ``+``: any possible number of any country (E.164 length);
    * a trunk ``0``, groups (a separator or parentheses) and a *valid* number of one of the
      regions at the matcher's VALID leniency, which wants the trunk prefix where the region
      writes one (``0151/23456789``, ``0151 2345 6789``, ``8 (912) 345-67-89``,
      ``0044 20 7946 0958``);
    * without a trunk ``0`` (Spain, Italy, Poland, North America), a valid number in the
      region's own grouping, STRICT_GROUPING leniency (``612 34 56 78``, ``312 345 6789``),
      or, in the North American plan, the 3-3-4 shape (``(555)-123-4567``: 555 is no assigned
      area code, but it is how people write a number).

    The matcher takes a stretch whole or not at all, so it is also given parts of it (whole
    groups, 7-17 digits, up to two groups left out at either end, a part inside the stretch
    starting with ``0``, ``(`` or ``+``): ``call 020 7946 0958 2 times`` is found without the
    ``2``. Not a phone: a number glued to a word or code (``SKU-``, ``ref/``, ``#``, letters)
    or to a longer number (``1,``); a ZIP+4 (``90210-1234``, a valid Spanish 902 number); a
    date (``01.12.2026`` is a valid Italian number); an IP address, a decimal or a hyphenated
    ISBN; more than five groups, or four without a trunk; lists of sizes and counts (pairs
    without a trunk ``0``, three or more round numbers: ``36 37 38 39 40``, ``100 200 300``).

Cost
    Text without an ``@``, an ``at`` or 7 digits returns at the first check. The matcher is
    the dear part (about 70 µs a region in pure Python, several times that with the grouping
    check), so it runs only on stretches that are not one bare run, per region only when the
    digits fit the region's numbering plan (libphonenumber's general pattern, a compiled
    regular expression) and the part parses as a valid number there, and at most
    ``_MATCHER_RUNS_PER_TEXT`` times a text (past that a plausible stretch is replaced without
    asking). ``bench/scrub_cost.py`` measures it against the scrubber this one replaced.

Deliberately left alone (each indistinguishable from an id in a shop's text): unseparated
national digit runs (``5551234567``; ``036000291452`` is both a UPC-A barcode and a valid German
number, ``0012345678905`` an EAN-13 and a valid ``00``-prefixed number); numbers shorter than 7
digits (local numbers such as ``555-1234``); order ids, SKUs, dates, times, prices, sizes,
ZIP codes and ISBNs; numbers spelled out in words; national numbers of regions outside the
list, and numbers without a trunk ``0`` grouped other than their region does; e-mail addresses
without a dotted domain (``user@localhost``) or with spaces around a plain ``@``
(``a @ b.com``).

Names and street addresses
    A street address is recognised by a house number beside a street word: ``12 Elm Street``,
    ``221b Baker St.``, ``5 Main Road``, ``12 rue de la Paix``, ``Hauptstraße 5``, ``calle Mayor
    5``, with the street words of a short list (``street``, ``st.``, ``avenue``, ``road``,
    ``lane``, ``boulevard``; ``rue``, ``calle``, ``avenida``, ``via``; German compounds in
    ``-straße``, ``-weg``, ``-allee``, ``-gasse``). Words a shop's text uses after a number are
    left out (``drive``, ``way``, ``place``, ``close``, ``court``: ``2 tb hard drive``, ``3 way
    switch``, ``4 place settings``), and a street word alone, without a number, is a product
    (``abbey road vinyl``). A name is recognised only where the speaker introduces it (``my name
    is Jane Doe``, ``ich heiße``, ``je m'appelle``, ``me llamo``, ``mi chiamo``): a bare name
    cannot be told from a product (``ruby``, ``jasmine``, ``rose``, ``mars``), so a query that is
    only a name is stored as typed.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from urllib.parse import quote, unquote

import phonenumbers
from phonenumbers import Leniency, PhoneMetadata, PhoneNumberMatcher
from stdnum import ean, iban, isbn

# What the scrubbed fields' descriptions (column descriptions, reference pages) say is removed.
SCRUBBED_DATA = (
    "e-mail addresses, phone, card and IBAN numbers, street addresses and introduced names"
)

EMAIL_PLACEHOLDER = "[EMAIL]"
PHONE_PLACEHOLDER = "[PHONE]"
CARD_PLACEHOLDER = "[CARD]"
IBAN_PLACEHOLDER = "[IBAN]"
# URL path segments that are opaque tokens (reset links, JWTs, UUIDs) or long digit ids.
ADDRESS_PLACEHOLDER = "[ADDRESS]"
NAME_PLACEHOLDER = "[NAME]"
TOKEN_PLACEHOLDER = "[TOKEN]"  # noqa: S105 (a placeholder, not a secret)
ID_PLACEHOLDER = "[ID]"

# Where the shop's users are expected to write national numbers: North America (US covers the
# whole +1 plan), Europe's largest markets, and the largest elsewhere. Each region costs one
# matcher pass over a text's separated digit groups; numbers written with "+" are found whatever
# the list holds.
DEFAULT_PHONE_REGIONS: tuple[str, ...] = (
    "US",
    "GB",
    "DE",
    "FR",
    "ES",
    "IT",
    "NL",
    "PL",
    "RU",
    "IN",
    "BR",
    "AU",
    "JP",
    "MX",
)
_phone_regions = DEFAULT_PHONE_REGIONS

_CARD_MIN_DIGITS = 13
_CARD_MAX_DIGITS = 19
_IBAN_MIN_CHARS = 15
_IBAN_MAX_CHARS = 34
_PHONE_MIN_DIGITS = 7
# The most groups a national number is written in.
_MAX_GROUPS = 5
# Groups a part of a digit stretch may leave out at each end (a quantity, a code's tail).
_GROUPS_DROPPED = 2
# Ordinary text needs a few runs (one per region a stretch fits); see _Budget.
_MATCHER_RUNS_PER_TEXT = 64
# E.164's 15 digits and a trunk or carrier prefix: no number written in a text is longer.
_PHONE_MAX_DIGITS = 17
# Every datum but an e-mail has at least 7 digits; this possessive pattern answers "7 digits?"
# without backtracking and beats counting in Python.
_SEVEN_DIGITS = re.compile(r"(?:\D*+\d){7}")
_DIGIT_RUN = re.compile(r"\d+")
# "@", its full-width and small forms (NFKC makes them "@"), or an "at" word for spelled forms.
_AT_HINT = re.compile(r"[@\uff20\ufe6b]|%40|\bat\b", re.IGNORECASE)

_INVISIBLE = "\u00ad\u180e\u200b\u200c\u200d\u2060\ufeff"
_INVISIBLE_BETWEEN_DIGITS = re.compile(f"(?<=\\d)[{_INVISIBLE}]+(?=\\d)")
_INVISIBLE_ANY = re.compile(f"[{_INVISIBLE}]+")

_EMAIL = re.compile(
    r"""
    # Only start at the beginning of a local-part run: a leftmost match would start there
    # anyway, and refusing starts inside a run keeps the scan linear.
    (?<![\w.%+-])(?<![\w.%+-]')
    (?:[\w.+-]|%(?!40))(?:[\w.+'-]|%(?!40))*+
    (?:@|%40)
    (?:[^\W_](?:[^\W_]|-)*+\.)+
    [^\W\d_]{2,63}
    """,
    re.VERBOSE | re.IGNORECASE,
)

_SPELLED_DOT = r"(?:\s*[\[({<]\s*dot\s*[\])}>]\s*|\s+dot\s+|\.)"
_SPELLED_EMAIL = re.compile(
    rf"""
    (?<![\w.+-])
    [\w+-]+(?:{_SPELLED_DOT}[\w+-]+)*?
    (?P<at>\s*[\[({{<]\s*at\s*[\])}}>]\s*|\s+at\s+|@)
    (?P<domain>(?:[^\W_][\w-]*{_SPELLED_DOT})+[^\W\d_]{{2,24}})
    (?!\w)
    """,
    re.VERBOSE | re.IGNORECASE,
)
_SPELLED_WORD = re.compile(r"\bdot\b|\bat\b", re.IGNORECASE)

_IBAN = re.compile(
    r"(?<![^\W_])[A-Z]{2}\d{2}(?:[ .-]?[A-Z0-9]){11,30}(?![^\W_])", re.IGNORECASE | re.ASCII
)

_SEP = r"(?:[ \t]*[-./][ \t]*|[ \t]+)"
_CARD = re.compile(
    rf"""
    # Not a continuation of a longer number or word, and not the subscriber part of an
    # international phone number ("+44 7700 900123 4567").
    (?<![\w+])(?<!\d[.,])
    (?<!\+\d[ .-])(?<!\+\d\d[ .-])(?<!\+\d\d\d[ .-])
    [1-9]\d{{3,18}}(?:{_SEP}\d{{3,19}}){{0,6}}(?:{_SEP}\d\d)?
    (?!\w)(?![.,]\d)
    """,
    re.VERBOSE,
)

# A stretch of digits and the punctuation numbers are written with; the matcher only reads these.
_NUMBER_WINDOW = re.compile(r"[+(]?\d[\d \t().\-/]*\d\)?")
_BARE_RUN = re.compile(r"\d+")
_ZIP_PLUS4 = re.compile(r"\d{5}-\d{4}")
# Dotted quads (IPs) and decimals ("51.507351", "3.14159"); a trunk "0" is never their start.
_OCTET = r"(?:25[0-5]|2[0-4]\d|1?\d?\d)"
_NOT_A_PHONE_WINDOW = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}|(?:[1-9]\d{{0,2}}|0)\.\d+")
# Hyphenated ISBNs end in a one-digit check group; no numbering plan writes one.
_ONE_DIGIT_LAST_GROUP = re.compile(r"(?:^|\D)\d$")
_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
_MONTH = r"(?:0?[1-9]|1[0-2])"
_YEAR = r"(?:19|20)\d\d"
_DATE = re.compile(
    rf"{_DAY}(?P<s>[./-]){_MONTH}(?P=s){_YEAR}|{_MONTH}(?P<t>[./-]){_DAY}(?P=t){_YEAR}"
    rf"|{_YEAR}(?P<u>[./-]){_MONTH}(?P=u){_DAY}"
)
_NANP_SHAPE = re.compile(r"(?:1[ .-]?)?(?:\(\d{3}\)[ .-]?|\d{3}[ .-])\d{3}[ .-]\d{4}")
# A code or a longer number continues before or after: "SKU-", "ref/", "#", "1,".
_GLUED_BEFORE = re.compile(r"(?:[\w#+]|\w[-/]|\d[.,])\Z")
_GLUED_AFTER = re.compile(r"\w|[-/]\w|[.,]\d")

# Between the words of one address or name: spaces, never a line break (a transcript's turns
# are lines, and a name must not run into the next turn's words).
_GAP = r"[^\S\n]+"
# A word of a street's name; a full stop ends it (and the sentence), so a street never runs into
# what follows it.
_LETTERS = r"[^\W\d_][\w'\u2019-]*"
_HOUSE = rf"\b\d{{1,5}}[a-z]?,?{_GAP}"
_STREET_AFTER = r"(?:street|st\.|avenue|ave\.?|road|rd\.|lane|boulevard|blvd\.?)(?!\w)"
_STREET_BEFORE = r"(?:rue|calle|avenida|rua|via|viale|chemin|avenue|boulevard)"
_STREET_COMPOUND = r"[^\W\d_]+(?:stra\u00dfe|strasse|str\.|weg|allee|gasse)"
_ADDRESS = re.compile(
    rf"{_HOUSE}(?:{_LETTERS}{_GAP}){{1,3}}{_STREET_AFTER}"
    rf"|{_HOUSE}{_STREET_BEFORE}{_GAP}{_LETTERS}(?:{_GAP}{_LETTERS}){{0,3}}"
    rf"|\b{_STREET_COMPOUND}{_GAP}\d{{1,4}}[a-z]?\b"
    rf"|\b(?:calle|via|avenida|rua){_GAP}(?:{_LETTERS}{_GAP}){{1,3}}\d{{1,4}}[a-z]?\b",
    re.IGNORECASE,
)
# Cheap tests that let most text skip the patterns: a street word (whole, or ending a German
# compound), or a self-introduction's verb.
_ADDRESS_HINT = re.compile(
    r"\b(?:street|avenue|ave|road|lane|boulevard|blvd|rue|calle|avenida|rua|via|viale|chemin)\b"
    r"|\b(?:st|rd|str)\.|(?:stra\u00dfe|strasse|weg|allee|gasse)\b",
    re.IGNORECASE,
)
# Words that end a name: small words, and the start of another introduction or address.
_NOT_A_NAME = (
    r"(?!(?:and|or|but|from|at|in|on|with|to|the|a|an|i|is|not|here|calling|looking|please"
    r"|my|name|i'm|ich|je|me|mi|mein|calle|rue|via|avenida|rua)\b)"
)
_NAME_CUE = re.compile(
    rf"\b(?:my{_GAP}name{_GAP}is|my{_GAP}name's|name's|i'm{_GAP}called|i{_GAP}am{_GAP}called"
    rf"|mein{_GAP}name{_GAP}ist|ich{_GAP}hei(?:\u00df|ss)e|je{_GAP}m'appelle|me{_GAP}llamo"
    rf"|mi{_GAP}chiamo){_GAP}"
    rf"({_NOT_A_NAME}[^\W\d_][\w'\u2019-]*(?:{_GAP}{_NOT_A_NAME}[^\W\d_][\w'\u2019-]*){{0,2}})",
    re.IGNORECASE,
)
_NAME_HINT = re.compile(
    r"\bname|\bcalled\b|hei(?:\u00df|ss)e\b|appelle\b|\bllamo\b|\bchiamo\b", re.IGNORECASE
)
_JWT = re.compile(r"eyJ[\w-]*\.[\w-]+\.[\w-]*")
_UUID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.I)
_TOKEN_PART = re.compile(r"[A-Za-z0-9+=]{16,}")
_DIGIT_ID = re.compile(r"[\d .()+-]*")

Span = tuple[int, int, str]


def phone_regions() -> tuple[str, ...]:
    """The regions whose national phone formats are recognised (ISO 3166 alpha-2 codes)."""
    return _phone_regions


def set_phone_regions(regions: Iterable[str]) -> None:
    """Recognise national phone numbers of these regions (ISO 3166 alpha-2, e.g. ``("DE",
    "AT", "CH")``) from now on, in this process. Numbers written with ``+`` are found whatever
    the list holds; more regions cost one matcher pass each over a text's digit groups."""
    chosen = tuple(dict.fromkeys(region.upper() for region in regions))
    unknown = [region for region in chosen if region not in phonenumbers.SUPPORTED_REGIONS]
    if unknown or not chosen:
        raise ValueError(f"not libphonenumber regions: {unknown or 'none given'}")
    global _phone_regions
    _phone_regions = chosen


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


def normalise(text: str) -> str:
    """NFKC character by character, with zero-width characters removed (a space between two
    digits). Never longer than ``text``."""
    if text.isascii():
        return text  # NFKC leaves ASCII as it is, and no invisible character is ASCII
    if not unicodedata.is_normalized("NFKC", text):
        # Only where a character stays one character: NFKC spells some out in many ("\ufdfa"
        # is 18), and a scrubbed value must not outgrow its field's length limit.
        text = "".join(
            folded if len(folded := unicodedata.normalize("NFKC", char)) == 1 else char
            for char in text
        )
    text = _INVISIBLE_BETWEEN_DIGITS.sub(" ", text)
    return _INVISIBLE_ANY.sub("", text)


def _is_barcode(digits: str, unbroken: bool) -> bool:
    # EAN-13 (ISBN-13 among them) has 13 digits as a 13-digit Visa had; Visa stopped issuing
    # those long ago while shoppers search barcodes all the time. Grouped, only the ISBN
    # prefixes (978/979, issued by no card network) speak for a barcode.
    if len(digits) != 13 or not ean.is_valid(digits):
        return False
    return unbroken or digits.startswith(("978", "979"))


def _free(spans: list[Span], start: int, end: int) -> bool:
    return all(end <= taken_start or start >= taken_end for taken_start, taken_end, _ in spans)


def _find(
    text: str,
    pattern: re.Pattern[str],
    accept: Callable[[re.Match[str]], int | None],
    placeholder: str,
    spans: list[Span],
) -> None:
    pos = 0
    while (match := pattern.search(text, pos)) is not None:
        end = accept(match) if _free(spans, match.start(), match.end()) else None
        if end is None:
            # A rejected candidate may still contain a valid one further in.
            pos = match.start() + 1
            continue
        spans.append((match.start(), end, placeholder))
        pos = end


def _whole(match: re.Match[str]) -> int | None:
    return match.end()


def _spelled_email_end(match: re.Match[str]) -> int | None:
    # A plain address was taken already; this one must have a spelled word in it, and a bare
    # "at" needs a spelled "dot" too ("shoes at zalando.de" is a shop, not an address).
    if not _SPELLED_WORD.search(match.group()):
        return None
    if match.group("at").strip().lower() == "at" and not _SPELLED_WORD.search(
        match.group("domain")
    ):
        return None
    return match.end()


def _iban_end(match: re.Match[str]) -> int | None:
    # The pattern may swallow a following word ("... 00 please"): the longest prefix that ends
    # on a group boundary and validates is the IBAN.
    text, start = match.string, match.start()
    ends = [i for i in range(match.end(), start, -1) if i == match.end() or text[i] in " .-"]
    for end in ends:
        compact = re.sub(r"[ .-]", "", text[start:end])
        if _IBAN_MIN_CHARS <= len(compact) <= _IBAN_MAX_CHARS and iban.is_valid(compact):
            return end
    return None


def _card_end(match: re.Match[str]) -> int | None:
    # The pattern may swallow a trailing group (CVV, quantity, a second card), so the longest
    # Luhn-valid prefix of whole groups is the card; the rest is re-scanned.
    digits = ""
    end: int | None = None
    for run in _DIGIT_RUN.finditer(match.string, match.start(), match.end()):
        digits += run.group()
        if len(digits) > _CARD_MAX_DIGITS:
            break
        if (
            len(digits) >= _CARD_MIN_DIGITS
            and luhn_valid(digits)
            and not _is_barcode(digits, unbroken=run.start() == match.start())
        ):
            end = run.end()
    return end


def _not_a_phone(raw: str) -> bool:
    groups = _DIGIT_RUN.findall(raw)
    return (
        len(groups) < 2  # a bare run
        # No plan writes a national number in more than five groups ("06 12 34 56 78",
        # "8 (912) 345-67-89"), nor in more than four without a trunk prefix.
        or len(groups) > _MAX_GROUPS
        or (len(groups) > _MAX_GROUPS - 1 and not raw.lstrip("(").startswith(("0", "8")))
        or _ZIP_PLUS4.fullmatch(raw) is not None
        or _DATE.fullmatch(raw) is not None
        or _ONE_DIGIT_LAST_GROUP.search(raw) is not None
        # Sizes and counts: pairs with no trunk "0" ("36 37 38 39 40", while "06 12 34 56 78"
        # is French), or three or more round numbers ("400 500 600" is a valid Spanish number
        # in Spain's own grouping).
        or (not raw.startswith("0") and all(len(group) <= 2 for group in groups))
        or (len(groups) > 2 and all(group.endswith("0") for group in groups))
    )


@functools.cache
def _region_shape(region: str) -> tuple[str, bool, re.Pattern[str], re.Pattern[str]]:
    metadata = PhoneMetadata.metadata_for_region(region)
    assert metadata is not None  # set_phone_regions admits supported regions only
    trunk = metadata.national_prefix or ""
    # Where every format that writes numbers with a prefix rule writes the trunk, and none
    # leaves it optional, VALID wants it written (Brazil writes "(11) 96123-4567" without).
    rules = [
        (
            number_format.national_prefix_formatting_rule,
            number_format.national_prefix_optional_when_formatting,
        )
        for number_format in metadata.number_format
    ]
    required = bool(trunk) and all(
        not optional and (rule is None or trunk in rule) for rule, optional in rules
    )
    # A pattern the metadata lacks matches nothing ("(?!)"), so the region is never tried.
    desc = metadata.general_desc
    general = re.compile((desc.national_number_pattern if desc else None) or "(?!)")
    return trunk, required, general, re.compile(metadata.international_prefix or "(?!)")


def _could_be_national(digits: str, region: str) -> bool:
    """Whether ``digits`` fit the region's numbering plan as a whole (its leading digits and
    lengths, libphonenumber's general pattern) as the matcher would accept them: with the
    trunk prefix where the region writes one (and a two-digit carrier code after it, as Brazil
    writes them), or after the international call prefix. The matcher costs about a hundred
    times this."""
    trunk, required, general, international = _region_shape(region)
    if international.match(digits):
        return True
    if not required and general.fullmatch(digits):
        return True
    if not trunk or not digits.startswith(trunk):
        return False
    national = digits[len(trunk) :]
    return general.fullmatch(national) is not None or general.fullmatch(national[2:]) is not None


def _valid_in(candidate: str, region: str) -> bool:
    """Whether the whole candidate parses as a valid number of the region: a third of a
    matcher run, and the matcher (a grouping check costs it more) runs only when it does."""
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(candidate, region))
    except phonenumbers.NumberParseException:
        return False


class _Budget:
    """Matcher runs left for one text. A text built to make the matcher run for every group of
    thousands (``12-12-12-...``) would cost seconds; past the budget a stretch that fits a
    region's plan is taken for a number without asking: a pathological text is over-scrubbed,
    and scrubbing stays bounded (tens of milliseconds at the 4,000-character transcript)."""

    def __init__(self, runs: int) -> None:
        self.left = runs

    def take(self) -> bool:
        self.left -= 1
        return self.left >= 0


def _phones_in(candidate: str, budget: _Budget) -> list[tuple[int, int]]:
    """Where ``candidate`` (digits and the punctuation numbers are written with) holds a phone
    number."""
    whole = [(0, len(candidate))]
    found: list[tuple[int, int]] = []
    if candidate.startswith("+"):
        if not budget.take():
            return whole
        # The country is written, so any one region reads it; a possible number is enough.
        for match in PhoneNumberMatcher(candidate, _phone_regions[0], leniency=Leniency.POSSIBLE):
            if match.raw_string.startswith("+"):
                found.append((match.start, match.end))
        return found
    if _not_a_phone(candidate):
        return found
    digits = "".join(_DIGIT_RUN.findall(candidate))
    # VALID also wants the trunk prefix where the region writes one, and no letter around. A
    # number written with its trunk "0" may be grouped as people like ("0151 2345 6789");
    # without one (Spain, Italy, Poland, North America), the groups must be the region's own
    # ("612 34 56 78"), or any list of sizes would be a number ("125 250 375" is Polish).
    leniency = Leniency.VALID if candidate.lstrip("(").startswith("0") else Leniency.STRICT_GROUPING
    for region in _phone_regions:
        if not _could_be_national(digits, region) or not _valid_in(candidate, region):
            continue
        if not budget.take():
            return whole
        for match in PhoneNumberMatcher(candidate, region, leniency=leniency):
            if not _not_a_phone(match.raw_string):
                found.append((match.start, match.end))
        if (0, len(candidate)) in found:
            break  # the whole window is one number: no other region can add to it
    if not found and "US" in _phone_regions and _NANP_SHAPE.search(candidate):
        if not budget.take():
            return whole
        for match in PhoneNumberMatcher(candidate, "US", leniency=Leniency.POSSIBLE):
            if _NANP_SHAPE.fullmatch(match.raw_string):
                found.append((match.start, match.end))
    return found


def _parts(candidate: str, *, glued: bool) -> Iterator[tuple[int, int]]:
    """Spans of whole digit groups of the window (with a "(" or "+" before the first) holding
    7 to 17 digits, without up to two groups at either end, by start, longest first. The
    matcher takes a text whole or not at all, so "020 7946 0958 2 times" or "qty 2 0151
    23456789" are found only in a part; the middle of a longer stretch is a list of numbers
    ("36 37 38 39 40 41 42 43"), not a phone, and a part inside one starts with a trunk "0",
    "(" or "+". A window glued to a code ("SKU-555-123-4567") never starts at its first
    group."""
    groups = list(_DIGIT_RUN.finditer(candidate))
    first_start = 1 if glued else 0
    for first in range(first_start, min(len(groups), first_start + _GROUPS_DROPPED + 1)):
        start = groups[first].start()
        if start and candidate[start - 1] in "(+":
            start -= 1
        if first > first_start and candidate[start] not in "0(+":
            continue  # inside a stretch, a number shows where it starts: "0", "(" or "+"
        digits, ends = 0, []
        for last in range(first, len(groups)):
            digits += len(groups[last].group())
            if digits > _PHONE_MAX_DIGITS:
                break
            if digits >= _PHONE_MIN_DIGITS and last >= len(groups) - 1 - _GROUPS_DROPPED:
                ends.append(groups[last].end())
        for end in reversed(ends):
            yield start, end


def _is_hyphenated_isbn(candidate: str) -> bool:
    # Hyphens only: "01 23 45 67 89" is a French number and a valid ISBN-10 as well.
    digits = candidate.replace("-", "")
    # stdnum also takes 9-digit SBNs ("030-122074" is one, and a Berlin number).
    return (
        "-" in candidate and digits.isdigit() and len(digits) in (10, 13) and isbn.is_valid(digits)
    )


def _find_phones(text: str, spans: list[Span]) -> None:
    found: list[tuple[int, int]] = []
    budget = _Budget(_MATCHER_RUNS_PER_TEXT)
    for window in _NUMBER_WINDOW.finditer(text):
        candidate = window.group()
        if _BARE_RUN.fullmatch(candidate) or not _free(spans, window.start(), window.end()):
            continue  # a bare run is never a phone; a found card or IBAN is not one either
        if _NOT_A_PHONE_WINDOW.fullmatch(candidate) or _is_hyphenated_isbn(candidate):
            continue  # an address, a decimal, or an ISBN, whatever group it holds
        glued = _GLUED_BEFORE.search(text[max(0, window.start() - 2) : window.start()])
        searched_to = 0
        for part_start, part_end in _parts(candidate, glued=glued is not None):
            if part_start < searched_to:
                continue  # inside a number found already
            hits = [
                (window.start() + part_start + s, window.start() + part_start + e)
                for s, e in _phones_in(candidate[part_start:part_end], budget)
            ]
            hits = [
                (start, end)
                for start, end in hits
                if not _GLUED_BEFORE.search(text[max(0, start - 2) : start])
                and not _GLUED_AFTER.match(text, end)
                and _free(spans, start, end)
            ]
            if hits:
                found.extend(hits)
                searched_to = max(end for _, end in hits) - window.start()
    # One number read in two regions may be found with and without its trunk prefix.
    for start, end in sorted(found):
        if spans and spans[-1][2] == PHONE_PLACEHOLDER and start < spans[-1][1]:
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]), PHONE_PLACEHOLDER)
        else:
            spans.append((start, end, PHONE_PLACEHOLDER))


def _might_contain_pii(text: str) -> bool:
    return (
        _SEVEN_DIGITS.match(text) is not None
        or _AT_HINT.search(text) is not None
        or _ADDRESS_HINT.search(text) is not None
        or _NAME_HINT.search(text) is not None
    )


def _find_addresses(text: str, spans: list[Span]) -> None:
    # A number found before may have taken the house number ("+353 85 012 1863. 1, rue ..."):
    # the street is still an address, so what is left of the match is replaced.
    for match in _ADDRESS.finditer(text):
        start, end = match.span()
        for taken_start, taken_end, _ in spans:
            if taken_start < end and taken_end > start:
                start = max(start, taken_end)
        if start < end and text[start:end].strip(" ,.") and _free(spans, start, end):
            spans.append((start, end, ADDRESS_PLACEHOLDER))


def _find_names(text: str, spans: list[Span]) -> None:
    # The cue stays ("my name is [NAME]"): it says what was removed.
    for match in _NAME_CUE.finditer(text):
        start, end = match.span(1)
        if _free(spans, start, end):
            spans.append((start, end, NAME_PLACEHOLDER))


def _scrub_once(text: str) -> str:
    # E-mails first: a local part may hold a phone or card number that must not be half
    # replaced; IBANs before cards (their digits can pass Luhn); cards before phones so a card
    # never becomes "[PHONE]".
    spans: list[Span] = []
    if "@" in text or "%40" in text:
        _find(text, _EMAIL, _whole, EMAIL_PLACEHOLDER, spans)
    if _AT_HINT.search(text):
        _find(text, _SPELLED_EMAIL, _spelled_email_end, EMAIL_PLACEHOLDER, spans)
    if _SEVEN_DIGITS.match(text):
        _find(text, _IBAN, _iban_end, IBAN_PLACEHOLDER, spans)
        _find(text, _CARD, _card_end, CARD_PLACEHOLDER, spans)
        _find_phones(text, spans)
    if _ADDRESS_HINT.search(text):
        _find_addresses(text, spans)
    if _NAME_HINT.search(text):
        _find_names(text, spans)
    if not spans:
        return text
    pieces: list[str] = []
    last = 0
    for start, end, placeholder in sorted(spans):
        pieces.append(text[last:start])
        pieces.append(placeholder)
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


def scrub_text(text: str) -> str:
    """Replace e-mail addresses, IBANs, Luhn-valid card numbers, phone numbers, street addresses
    and introduced names with placeholders.

    Returns ``text`` itself (same object) when nothing needed replacing.
    """
    if not _might_contain_pii(text):
        return text
    current = normalise(text)
    # Repeat until stable: a replacement changes the context seen by the boundary checks of its
    # neighbours, and output must be idempotent. Each round removes digits or an "@", so this
    # terminates, and clean text costs a single round.
    while True:
        scrubbed = _scrub_once(current)
        if scrubbed == current:
            break
        current = scrubbed
    return text if current == text else current


def _is_token(segment: str) -> bool:
    if _JWT.search(segment) or _UUID.search(segment):
        return True
    for part in _TOKEN_PART.findall(segment):
        # A long word is a word; a long run mixing digits or cases is a generated secret.
        if any(c.isdigit() for c in part) or (part[1:] != part[1:].lower()):
            return True
    return False


def _scrub_segment(segment: str) -> str:
    # Matrix parameters (";jsessionid=...") carry session ids, never a page's identity.
    bare = segment.split(";", 1)[0]
    decoded = unquote(bare)
    if _is_token(decoded):
        return TOKEN_PLACEHOLDER
    scrubbed = scrub_text(decoded)
    if scrubbed is not decoded:
        return quote(scrubbed, safe="[]@!$&'()*+,=:~")
    if _DIGIT_ID.fullmatch(decoded) and _SEVEN_DIGITS.match(decoded):
        return ID_PLACEHOLDER
    return bare


def scrub_path(path: str) -> str:
    """A URL path with every segment that can identify someone replaced: e-mails, phones, cards
    and IBANs (percent-encoded too) by their placeholders, opaque tokens (JWTs, UUIDs, long
    mixed runs such as reset tokens) by ``[TOKEN]``, runs of 7 or more digits by ``[ID]``;
    matrix parameters (``;jsessionid=...``) are dropped. Short ids (``/products/42``) and
    words stay."""
    return "/".join(_scrub_segment(segment) if segment else segment for segment in path.split("/"))

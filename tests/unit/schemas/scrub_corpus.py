"""Personal data in the shapes people write it, for the scrubber's escape measurement.

Each strategy draws ``(written, needles)``: the datum as a user might type it (random
separators, non-breaking and zero-width spaces, full-width and spelled-out forms) and the
strings whose presence in scrubbed output means it escaped: the digits of a number (looked for
among the output's digits), the local part of an e-mail address.
"""

from __future__ import annotations

from pathlib import Path

import phonenumbers
from hypothesis import assume
from hypothesis import strategies as st
from phonenumbers import PhoneNumberFormat, PhoneNumberType
from stdnum import iban

from event_capture.schemas.scrub import luhn_valid, phone_regions

SHOP_QUERIES = Path(__file__).with_name("shop_queries.txt")

# Separators people put between the groups of a number, alone or mixed in one number. A
# national phone number written without any is left alone by design (it reads as an order id
# or a barcode), so phones draw from the non-empty ones.
SEPARATORS = [" ", "-", ".", "/", "\u00a0", "\u202f", "\u200b", " - "]
FILLER = " ".join(
    [
        "please call me about my order of red running shoes and the oat milk",
        "delivery was late so reach me here or pay with this thanks again for the help",
        "my details are below wrong item in the box refund to my account",
    ]
).split(" ")
# Words or a comma before the datum: digits of the text before it and the datum's are two
# numbers to a reader only when something parts them.
CONNECTORS = [",", "call", "my number is", "mail", "email me at", "card", "iban", "pay to", "tel:"]

# Payment networks: a leading range, total length, and how the digits are usually grouped.
CARD_NETWORKS = [
    ("4", 16, (4, 4, 4, 4)),  # Visa
    ("4", 19, (4, 4, 4, 4, 3)),  # Visa, 19 digits
    ("51", 16, (4, 4, 4, 4)),  # Mastercard
    ("2221", 16, (4, 4, 4, 4)),  # Mastercard 2-series
    ("34", 15, (4, 6, 5)),  # American Express
    ("37", 15, (4, 6, 5)),
    ("6011", 16, (4, 4, 4, 4)),  # Discover
    ("65", 16, (4, 4, 4, 4)),
    ("3528", 16, (4, 4, 4, 4)),  # JCB
    ("36", 14, (4, 6, 4)),  # Diners Club
    ("62", 16, (4, 4, 4, 4)),  # UnionPay
    ("6304", 18, (4, 4, 4, 4, 2)),  # Maestro
]
IBAN_COUNTRIES = ["DE", "GB", "FR", "ES", "IT", "NL", "AT", "CH", "PL", "BE", "IE", "SE"]
EMAIL_TLDS = ["com", "de", "co.uk", "org", "net", "io", "fr", "es"]


def digits_of(text: str) -> str:
    return "".join(char for char in text if char.isdigit())


def escaped(scrubbed: str, needles: list[str]) -> list[str]:
    """The needles still present: digit needles among the output's digits, others as text."""
    digits, lowered = digits_of(scrubbed), scrubbed.lower()
    return [
        needle
        for needle in needles
        if (needle in digits if needle.isdigit() else needle.lower() in lowered)
    ]


def _separated(groups: list[str], draw: st.DrawFn, separators: list[str] = SEPARATORS) -> str:
    out = groups[0]
    for group in groups[1:]:
        out += draw(st.sampled_from(separators)) + group
    return out


@st.composite
def emails(draw: st.DrawFn) -> tuple[str, list[str]]:
    local = draw(st.from_regex(r"[a-z]{3,7}[._]?[a-z]{2,6}[0-9]{0,3}", fullmatch=True))
    domain = draw(st.from_regex(r"[a-z]{4,10}", fullmatch=True))
    tld = draw(st.sampled_from(EMAIL_TLDS))
    form = draw(st.sampled_from(["plain", "fullwidth", "percent", "spelled", "bracket", "paren"]))
    if form == "plain":
        written = f"{local}@{domain}.{tld}"
    elif form == "fullwidth":
        written = f"{local}\uff20{domain}\uff0e{tld}"
    elif form == "percent":
        written = f"{local}%40{domain}.{tld}"
    else:
        at, dot = {
            "spelled": (" at ", " dot "),
            "bracket": (" [at] ", " [dot] "),
            "paren": (" (at) ", " (dot) "),
        }[form]
        written = f"{local}{at}{domain}{dot}{tld.replace('.', dot)}"
    if draw(st.booleans()):
        written = written.upper()
    return written, [local]


def _luhn_completed(body: str) -> str:
    return next(body + check for check in "0123456789" if luhn_valid(body + check))


@st.composite
def cards(draw: st.DrawFn) -> tuple[str, list[str]]:
    prefix, length, grouping = draw(st.sampled_from(CARD_NETWORKS))
    middle = draw(st.text("0123456789", min_size=length - len(prefix) - 1, max_size=length))
    number = _luhn_completed((prefix + middle)[: length - 1])
    if draw(st.booleans()):
        written = number
    else:
        groups, at = [], 0
        for size in grouping:
            groups.append(number[at : at + size])
            at += size
        written = _separated(groups, draw, [*SEPARATORS, ""])
    return written, [number]


@st.composite
def phones(draw: st.DrawFn) -> tuple[str, list[str]]:
    international = draw(st.booleans())
    regions = sorted(phonenumbers.SUPPORTED_REGIONS) if international else list(phone_regions())
    region = draw(st.sampled_from(regions))
    kind = draw(st.sampled_from([PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE]))
    example = phonenumbers.example_number_for_type(region, kind) or phonenumbers.example_number(
        region
    )
    assume(example is not None)
    assert example is not None
    national = str(example.national_number)
    # Vary the subscriber digits; a variation the plan does not allow is drawn again.
    tail = draw(st.text("0123456789", min_size=4, max_size=4))
    candidate = phonenumbers.parse(f"+{example.country_code}{national[:-4]}{tail}")
    number = candidate if phonenumbers.is_valid_number(candidate) else example
    layout = PhoneNumberFormat.INTERNATIONAL if international else PhoneNumberFormat.NATIONAL
    formatted = phonenumbers.format_number(number, layout)
    if international and draw(st.booleans()):
        formatted = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    # Keep the layout's grouping; change the separators between groups.
    pieces = [piece for piece in formatted.replace("-", " ").split(" ") if piece]
    # A slash parts the area code from the rest ("0151/23456789"), never every group.
    first = draw(st.sampled_from([*SEPARATORS, "/"])) if len(pieces) > 1 else ""
    rest = [p for p in SEPARATORS if p != "/"]
    written = pieces[0] + first + _separated(pieces[1:], draw, rest) if first else pieces[0]
    return written, [str(number.national_number)]


@st.composite
def ibans(draw: st.DrawFn) -> tuple[str, list[str]]:
    country = draw(st.sampled_from(IBAN_COUNTRIES))
    example = {
        "DE": "DE89370400440532013000",
        "GB": "GB29NWBK60161331926819",
        "FR": "FR1420041010050500013M02606",
        "ES": "ES9121000418450200051332",
        "IT": "IT60X0542811101000000123456",
        "NL": "NL91ABNA0417164300",
        "AT": "AT611904300234573201",
        "CH": "CH9300762011623852957",
        "PL": "PL61109010140000071219812874",
        "BE": "BE71096123456769",
        "IE": "IE29AIBK93115212345678",
        "SE": "SE4550000000058398257466",
    }[country]
    # Vary the account digits (the last four), then put the check digits right.
    # Some countries (Belgium, Spain) check the BBAN too: the last two digits that pass it.
    head = draw(st.text("0123456789", min_size=2, max_size=2))
    for last in range(100):
        bban = f"{example[4:-4]}{head}{last:02d}"
        number = f"{country}{iban.calc_check_digits(country + '00' + bban)}{bban}"
        if iban.is_valid(number):
            break
    grouped = draw(st.booleans())
    written = " ".join(number[i : i + 4] for i in range(0, len(number), 4)) if grouped else number
    return written, [digits_of(number[4:])]


# A street's or a person's name: invented, so that no filler word or shop query holds it.
_INVENTED = st.from_regex(r"Zq[a-z]{3,7}", fullmatch=True)


@st.composite
def addresses(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A house number beside a street word, in the orders English, French, Spanish and German
    write them; the needle is the street's name."""
    name = draw(_INVENTED)
    number = f"{draw(st.integers(1, 9999))}{draw(st.sampled_from(['', 'a', 'b']))}"
    street = draw(st.sampled_from(["Street", "St.", "Avenue", "Road", "Lane", "Boulevard"]))
    written = draw(
        st.sampled_from(
            [
                f"{number} {name} {street}",
                f"{number} {name} Hill {street}",
                f"{number}, rue {name}",
                f"{number} rue de la {name}",
                f"calle {name} {number}",
                f"{name}stra\u00dfe {number}",
                f"{name}weg {number}",
            ]
        )
    )
    return written, [name]


@st.composite
def introduced_names(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A speaker giving their name (a voice transcript, a message); the needles are the
    names."""
    first, last = draw(_INVENTED), draw(_INVENTED)
    cue = draw(
        st.sampled_from(
            ["my name is", "My name's", "I'm called", "ich hei\u00dfe", "je m'appelle", "me llamo"]
        )
    )
    full = draw(st.booleans())
    return f"{cue} {first} {last}" if full else f"{cue} {first}", [first, last] if full else [first]


def personal_data() -> st.SearchStrategy[tuple[str, list[str]]]:
    return st.one_of(emails(), cards(), phones(), ibans(), addresses(), introduced_names())


@st.composite
def shop_texts(draw: st.DrawFn) -> tuple[str, list[str]]:
    """One datum in ordinary words, or in a line of the shop-query corpus."""
    written, needles = draw(personal_data())
    words = st.lists(st.sampled_from(FILLER), max_size=8).map(" ".join)
    before = draw(st.one_of(words, st.sampled_from(shop_queries())))
    connector = draw(st.sampled_from(CONNECTORS))
    after = draw(words)
    return " ".join(part for part in (before, connector, written, after) if part), needles


def shop_queries() -> list[str]:
    return [line for line in SHOP_QUERIES.read_text().splitlines() if line.strip()]

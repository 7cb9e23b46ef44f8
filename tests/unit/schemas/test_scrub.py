"""Tests for schemas.scrub: personal data must go, look-alike numbers must survive."""

from __future__ import annotations

import pytest

from event_capture.schemas import scrub as scrub_module
from event_capture.schemas.scrub import (
    CARD_PLACEHOLDER,
    EMAIL_PLACEHOLDER,
    PHONE_PLACEHOLDER,
    luhn_valid,
    scrub_text,
)

POSITIVES: list[tuple[str, str]] = [
    # e-mail
    ("mail me at jane.doe+x@example.co.uk please", "mail me at [EMAIL] please"),
    ("JOHN.SMITH@EXAMPLE.COM", "[EMAIL]"),
    ("Jane.Doe@Example.Com wrote", "[EMAIL] wrote"),
    ("contact first_last@mail.sub.example.org today", "contact [EMAIL] today"),
    ("user-name@my-domain.io", "[EMAIL]"),
    ("user%tag@example.com", "[EMAIL]"),
    ("send it to a@b.co.", "send it to [EMAIL]."),
    ("mailto:jane@example.com", "mailto:[EMAIL]"),
    ("<jane@example.com>", "<[EMAIL]>"),
    ("email 'o'brien@example.ie'", "email '[EMAIL]'"),
    ("müller@bücher.de bestellen", "[EMAIL] bestellen"),
    ("jane@example.com,bob@example.org", "[EMAIL],[EMAIL]"),
    ("ticket 4111111111111111@example.com", "ticket [EMAIL]"),
    # payment cards
    ("card 4111 1111 1111 1111 exp 12/27", "card [CARD] exp 12/27"),
    ("4111-1111-1111-1111", "[CARD]"),
    ("amex 378282246310005", "amex [CARD]"),
    ("amex 3782 822463 10005", "amex [CARD]"),
    ("mc 5555555555554444.", "mc [CARD]."),
    ("diners 30569309025904", "diners [CARD]"),
    ("old visa 4222222222222", "old visa [CARD]"),
    ("jcb 3530 1113 3330 0000", "jcb [CARD]"),
    ("discover 6011-0009-9013-9424", "discover [CARD]"),
    ("maestro 6011 0000 0000 0000 001", "maestro [CARD]"),
    ("4111 1111 1111 1111 123", "[CARD] 123"),
    ("4111-1111-1111-1111-123", "[CARD]-123"),
    # phones, international
    ("+44 20 7946 0958", "[PHONE]"),
    ("call +1 (555) 123-4567", "call [PHONE]"),
    ("+44 (0) 20 7946 0958", "[PHONE]"),
    ("+33 1 23 45 67 89", "[PHONE]"),
    ("whatsapp +4915123456789", "whatsapp [PHONE]"),
    ("+1.555.123.4567", "[PHONE]"),
    ("tel:+49 30 12345678", "tel:[PHONE]"),
    ("0044 20 7946 0958", "[PHONE]"),
    ("(call +44 7700 900123)", "(call [PHONE])"),
    # phones, national
    ("call (555) 123-4567 now", "call [PHONE] now"),
    ("(555)123-4567", "[PHONE]"),
    ("555-123-4567", "[PHONE]"),
    ("555.123.4567", "[PHONE]"),
    ("ring 555 123 4567 tonight", "ring [PHONE] tonight"),
    ("1-800-555-1234", "[PHONE]"),
    ("1 (800) 555-1234", "[PHONE]"),
    ("tel.555.123.4567", "tel.[PHONE]"),
    ("020 7946 0958", "[PHONE]"),
    ("my mobile is 07700 900123", "my mobile is [PHONE]"),
    ("0161 496 0000", "[PHONE]"),
    ("(020) 7946 0958", "[PHONE]"),
    ("appelle 01 23 45 67 89", "appelle [PHONE]"),
    ("06.12.34.56.78", "[PHONE]"),
    # issue 26: the shapes the regexes missed
    ("4111\u00a01111\u00a01111\u00a01111", "[CARD]"),
    ("4111\u200b1111\u200b1111\u200b1111", "[CARD]"),
    ("4111.1111.1111.1111", "[CARD]"),
    ("4111/1111/1111/1111", "[CARD]"),
    ("pay 4111 1111-1111.1111 now", "pay [CARD] now"),
    ("4111 - 1111 - 1111 - 1111", "[CARD]"),
    ("\uff14\uff11\uff11\uff11 1111 1111 1111", "[CARD]"),
    ("call 0151/23456789", "call [PHONE]"),
    ("8 (912) 345-67-89", "[PHONE]"),
    ("612 34 56 78", "[PHONE]"),
    ("(555)-123-4567", "[PHONE]"),
    ("0151\u00a023456789", "[PHONE]"),
    ("qty 2 0151 23456789", "qty 2 [PHONE]"),
    ("john\uff20gmail.com", "[EMAIL]"),
    ("john%40gmail.com", "[EMAIL]"),
    ("john at gmail dot com", "[EMAIL]"),
    ("JOHN AT GMAIL DOT COM", "[EMAIL]"),
    ("john [at] gmail [dot] com", "[EMAIL]"),
    ("mail john (at) mail (dot) co (dot) uk", "mail [EMAIL]"),
    ("john.smith at gmail.com [dot] uk", "[EMAIL]"),
    ("DE89 3704 0044 0532 0130 00", "[IBAN]"),
    ("iban GB82WEST12345698765432 thanks", "iban [IBAN] thanks"),
    ("DE89370400440532013000 please", "[IBAN] please"),
]

LOOKALIKES: list[str] = [
    # prices
    "$1,299.99 or $2,499.00 on sale",
    "12.50 eur x 3 = 37.50 eur",
    "€1.299,99 and 1.299.999 EUR",
    "1,234,567,890 views",
    # dates, times, years
    "2026-11-28 to 2026-12-05",
    "28/11/2026 14:30",
    "28.11.2026 and 01.12.2026",
    "2026-11-28T14:30:00Z",
    "10:30:45 - 11:45:00 on 20261128",
    "from 1999 to 2026 and 2019-2026",
    # quantities, sizes, dimensions
    "2 x 500g and 12 x 330ml and 6 x 1000ml",
    "10x20 cm frame, 1920x1080 screen",
    "3840 x 2160 monitor 27 inch 144 hz",
    "room 101 202 303",
    # IPs, versions, decimals, coordinates
    "192.168.100.254 and 10.0.0.255",
    "1.2.3 upgrade to v10.15.7 build 2.31.1045",
    "pi 3.14159265358979",
    "51.507351, -0.127758",
    # product codes, order numbers
    "SKU-12345-XL and SKU-67890-M",
    "B07XJ8C8F5 B08N5WRWNW 1234567",
    "#A123456789",
    "order 123456789",
    "ORD-2026-000123",
    "SKU-555-123-4567",
    "ref/555-123-4567",
    "tracking 1Z999AA10123456784",
    "serial 0000000000000000 and 0000123456789012",
    # ZIP codes
    "zip 90210-1234 and 10001",
    "ZIP 10115 and 94103 and 02134",
    # ISBNs (the last one also passes Luhn)
    "978-3-16-148410-0",
    "ISBN 0-306-40615-2 and 978-0-306-40615-7",
    "ISBN 9780306406164",
    # bare digit runs are ids, not phones
    "5551234567",
    "07700900123",
    "447700900123",
    "12345678901234567890123",
    # 7-digit local numbers are too ambiguous to scrub
    "555-1234 ext 12",
    # Luhn-invalid card-length numbers
    "4111111111111112",
    "4111 1111 1111 1112",
    "1234 5678 9012 3456",
    "1234-5678-1234-5678",
    # arithmetic and signs
    "2+2=4 and 12345+67890",
    "+5 points and +10 more 123456",
    # things with "@" that are not addresses
    "twitter @jane_doe 1234567",
    "a @ b.com",
    "foo@bar",
    "user@localhost",
    "meet @ 10:30 in room 4",
    # already scrubbed
    "[EMAIL] [PHONE] [CARD] [IBAN]",
    # barcodes, dates and shapes only the library would read as phones
    "ean 4006381333931 and 5901234123457",
    "upc 036000291452",
    "0012345678905",
    "order 112-7391048-5537063",
    "12.05.2026 and 2026.05.12 and 05-12-2026",
    # a shop, not an address: a bare "at" needs a spelled "dot"
    "shoes at zalando.de",
    "meet at the store at 10",
    "nbsp\u00a0only 42",
    # lists of sizes and counts: valid numbers somewhere, but not in any region's grouping
    "sizes 36 37 38 39 40 41 42 43",
    "bottles 125 250 375 500 ml",
    "memory 2 4 8 16 32 64 128 256",
    "0 10 20 30 40 50 60",
]

MIXED: list[tuple[str, str]] = [
    (
        "call +1 555 123 4567 card 4111 1111 1111 1111 mail jane.doe@example.com",
        "call [PHONE] card [CARD] mail [EMAIL]",
    ),
    (
        (
            "order ORD-2026-000123 on 2026-11-28 for $1,299.99, reach me at jane@example.com "
            "or 020 7946 0958"
        ),
        "order ORD-2026-000123 on 2026-11-28 for $1,299.99, reach me at [EMAIL] or [PHONE]",
    ),
    (
        "card 4111111111111112 failed, use 4111111111111111 instead",
        "card 4111111111111112 failed, use [CARD] instead",
    ),
    (
        "two cards 4111 1111 1111 1111 4012 8888 8888 1881",
        "two cards [CARD] [CARD]",
    ),
    (
        "ISBN 978-3-16-148410-0, call 555-123-4567",
        "ISBN 978-3-16-148410-0, call [PHONE]",
    ),
    (
        "2 x 500g SKU-12345-XL ship to 07700 900123, bill 5555-5555-5555-4444",
        "2 x 500g SKU-12345-XL ship to [PHONE], bill [CARD]",
    ),
    (
        "Hi it's Jane, J.DOE@MAIL.EXAMPLE.COM, +44 7700 900123, zip 90210",
        "Hi it's Jane, [EMAIL], [PHONE], zip 90210",
    ),
    (
        "call 020 7946 0958 2 times about order 123456789",
        "call [PHONE] 2 times about order 123456789",
    ),
]

FAST_PATH: list[str] = [
    "",
    "red running shoes",
    "iphone 15 pro max 256gb",
    "size 42 and 44",
    "a1b2c3d4e5f6",
    "123456",
]

LUHN_VALID: list[str] = [
    "4111111111111111",
    "5555555555554444",
    "378282246310005",
    "6011111111111117",
    "30569309025904",
    "4222222222222",
    "3530111333300000",
    "4012888888881881",
    "6011000000000000001",
    "79927398713",
    "0",
]

LUHN_INVALID: list[str] = [
    "",
    "4111111111111112",
    "1234567812345678",
    "1234567890123456",
    "79927398710",
    "4111 1111 1111 1111",
    "4111-1111-1111-1111",
    "abcd",
    "4111x111",
]


def test_placeholders() -> None:
    assert (EMAIL_PLACEHOLDER, PHONE_PLACEHOLDER, CARD_PLACEHOLDER) == (
        "[EMAIL]",
        "[PHONE]",
        "[CARD]",
    )


def test_corpus_sizes() -> None:
    assert len(POSITIVES) >= 25
    assert len(LOOKALIKES) >= 30


@pytest.mark.parametrize(("text", "expected"), POSITIVES)
def test_scrubs_personal_data(text: str, expected: str) -> None:
    assert scrub_text(text) == expected


@pytest.mark.parametrize("text", LOOKALIKES)
def test_lookalikes_untouched(text: str) -> None:
    assert scrub_text(text) == text


@pytest.mark.parametrize(("text", "expected"), MIXED)
def test_mixed(text: str, expected: str) -> None:
    assert scrub_text(text) == expected


@pytest.mark.parametrize("text", [p[0] for p in POSITIVES] + [m[0] for m in MIXED])
def test_idempotent(text: str) -> None:
    once = scrub_text(text)
    assert scrub_text(once) == once


def test_card_never_reported_as_phone() -> None:
    for text in ("4111 1111 1111 1111", "3782 822463 10005", "378282246310005"):
        assert scrub_text(text) == CARD_PLACEHOLDER


@pytest.mark.parametrize("text", FAST_PATH)
def test_fast_path_returns_same_object(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert "@" not in text
    assert sum(char.isdigit() for char in text) < 7

    def fail(_: str) -> str:
        raise AssertionError("fast path should skip the regex passes")

    monkeypatch.setattr(scrub_module, "_scrub_once", fail)
    assert scrub_text(text) is text


def test_text_with_nothing_to_replace_is_returned_as_it_came_even_unnormalised() -> None:
    text = "size\u00a042 \uff21\uff22\uff23 caf\u00e9"
    assert scrub_text(text) is text


def test_phone_regions_decide_which_national_formats_are_read() -> None:
    assert scrub_module.phone_regions() == scrub_module.DEFAULT_PHONE_REGIONS
    try:
        scrub_module.set_phone_regions(["de"])
        assert scrub_module.phone_regions() == ("DE",)
        assert scrub_text("612 34 56 78") == "612 34 56 78"  # Spanish, not read any more
        assert scrub_text("0151/23456789 or +34 612 34 56 78") == "[PHONE] or [PHONE]"
    finally:
        scrub_module.set_phone_regions(scrub_module.DEFAULT_PHONE_REGIONS)
    with pytest.raises(ValueError, match="XX"):
        scrub_module.set_phone_regions(["XX"])
    with pytest.raises(ValueError, match="none given"):
        scrub_module.set_phone_regions([])


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/reset/jane.doe%40example.com", "/reset/[EMAIL]"),
        ("/u/%2B44%207700%20900123/orders", "/u/[PHONE]/orders"),
        ("/u/call%20me%20on%200151%2F23456789", "/u/call%20me%20on%20[PHONE]"),
        ("/reset/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "/reset/[TOKEN]"),
        ("/confirm/9f1c2b8e-9a4e-4c9b-8a57-0e3c1b2a9d11", "/confirm/[TOKEN]"),
        ("/reset/a1B2c3D4e5F6g7H8i9J0", "/reset/[TOKEN]"),
        ("/cart;jsessionid=ABCDEF0123456789/items", "/cart/items"),
        ("/orders/123456789", "/orders/[ID]"),
        ("/products/42/red-running-shoes", "/products/42/red-running-shoes"),
        ("/blog/2026/11/28/donaudampfschifffahrt", "/blog/2026/11/28/donaudampfschifffahrt"),
        ("/", "/"),
        ("", ""),
    ],
)
def test_path_segments_that_identify_someone_become_placeholders(path: str, expected: str) -> None:
    assert scrub_module.scrub_path(path) == expected
    assert scrub_module.scrub_path(expected) == expected


def test_clean_text_returns_same_object() -> None:
    text = "order ORD-2026-000123 placed 2026-11-28 for $1,299.99"
    assert scrub_text(text) is text


@pytest.mark.parametrize("digits", LUHN_VALID)
def test_luhn_valid(digits: str) -> None:
    assert luhn_valid(digits)


@pytest.mark.parametrize("digits", LUHN_INVALID)
def test_luhn_invalid(digits: str) -> None:
    assert not luhn_valid(digits)


def test_normalising_never_makes_a_value_longer() -> None:
    # NFKC alone spells U+FDFA out in 18 characters: a 512-character query could outgrow its
    # own limit once scrubbed, and fail validation when the stored row is read back.
    text = "\ufdfa" * 40 + " jane@example.com \uff21"
    assert scrub_text(text) == "\ufdfa" * 40 + " [EMAIL] A"


def test_a_name_ends_with_its_line_so_the_next_turns_name_is_found_too() -> None:
    # A transcript's turns are lines: a name running into the next line would swallow the
    # next turn's self-introduction.
    transcript = "hi, my name is Zqjanet Zqdoeson\nich hei\u00dfe Zqadup\n12 Zqelm Street"

    assert scrub_text(transcript) == "hi, my name is [NAME]\nich hei\u00dfe [NAME]\n[ADDRESS]"

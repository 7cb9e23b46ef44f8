"""Personal data as users type it, in the shapes issue 26 found stored: for the end-to-end test
that looks for it in every store and log (tests/integration/test_personal_data.py) and for the
scrubbing benchmark (bench/scrub_cost.py).

Each sample carries a needle: what must appear nowhere once the datum went through capture or
the collector. A number's needle is its digits (looked for among the digits of each stored
value), an e-mail address's its local part, anything else its distinctive text.
"""

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Sample:
    name: str
    written: str
    needle: str

    @property
    def digits(self) -> bool:
        return self.needle.isdigit()


# Free text: search queries, filter values, transcripts.
TEXT = (
    Sample(name="e-mail", written="zq7.plain@example.com", needle="zq7.plain"),
    Sample(name="e-mail, full-width @", written="zq7.wide\uff20example.com", needle="zq7.wide"),
    Sample(name="e-mail, percent-encoded", written="zq7.pct%40gmail.com", needle="zq7.pct"),
    Sample(name="e-mail, spelled out", written="zq7spelled at gmail dot com", needle="zq7spelled"),
    Sample(
        name="e-mail, bracketed", written="zq7bracket [at] gmail [dot] com", needle="zq7bracket"
    ),
    Sample(name="card", written="4111 1111 1111 1111", needle="4111111111111111"),
    Sample(
        name="card, non-breaking spaces",
        written="4012\u00a08888\u00a08888\u00a01881",
        needle="4012888888881881",
    ),
    Sample(
        name="card, zero-width spaces",
        written="5555\u200b5555\u200b5555\u200b4444",
        needle="5555555555554444",
    ),
    Sample(name="card, dots", written="4000.0566.5566.5556", needle="4000056655665556"),
    Sample(name="card, mixed", written="6011/1111.1111 1117", needle="6011111111111117"),
    Sample(name="card, Amex dashes", written="3782-822463-10005", needle="378282246310005"),
    Sample(name="phone, German national", written="0151/23456789", needle="15123456789"),
    Sample(name="phone, Russian national", written="8 (912) 345-67-89", needle="9123456789"),
    Sample(name="phone, Spanish national", written="612 34 56 78", needle="612345678"),
    Sample(name="phone, North American", written="(555)-123-4567", needle="5551234567"),
    Sample(name="phone, international", written="+44 20 7946 0958", needle="2079460958"),
    Sample(
        name="IBAN, grouped", written="DE89 3704 0044 0532 0130 00", needle="370400440532013000"
    ),
    Sample(name="IBAN, compact", written="GB82WEST12345698765432", needle="12345698765432"),
    Sample(name="street address", written="deliver to 42 Zqelmwood Street", needle="zqelmwood"),
    Sample(name="street address, German", written="Zqlindenstra\u00dfe 12a", needle="zqlinden"),
    Sample(name="name, introduced", written="hi, my name is Zqjanet Zqdoeson", needle="zqjanet"),
    Sample(name="name, German", written="ich hei\u00dfe Zqadup", needle="zqadup"),
)

# URLs (a session's landing page or referrer): what their paths carry, and schemes refused.
URLS = (
    Sample(
        name="URL, percent-encoded e-mail",
        written="https://shop.example.com/account/zq7.url%40example.com/orders",
        needle="zq7.url",
    ),
    Sample(
        name="URL, phone in the path",
        written="/account/%2B4917612345678/settings",
        needle="4917612345678",
    ),
    Sample(
        name="URL, password-reset token",
        written="https://shop.example.com/reset/Zq7ResetTok3nA1b2C3d4E5f6",
        needle="Zq7ResetTok3n",
    ),
    Sample(
        name="URL, JWT",
        written="/login/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ6cTdqd3QifQ.c2lnbmF0dXJl",
        needle="eyJzdWIiOiJ6cTdqd3QifQ",
    ),
    Sample(
        name="URL, jsessionid",
        written="https://shop.example.com/cart;jsessionid=ZQ7SESSION0A1B2C3D4",
        needle="ZQ7SESSION",
    ),
    Sample(
        name="URL, query and fragment",
        written="/search?email=zq7.query@example.com#zq7frag",
        needle="zq7.query",
    ),
)
# Refused whole: the event carrying them is rejected, so nothing of it is stored.
REFUSED_URLS = (
    Sample(
        name="URL, javascript:",
        written="javascript:alert('zq7.script@example.com')",
        needle="zq7.script",
    ),
    Sample(
        name="URL, data:",
        written="data:text/html,<p>zq7.datauri@example.com</p>",
        needle="zq7.data",
    ),
)

# Intent labels a voice agent's model extracted from what the caller said.
INTENTS = (
    Sample(name="intent, an address", written="deliver_to_12_elm_street", needle="elm_street"),
    Sample(name="intent, a name", written="Jane Zqseven", needle="zqseven"),
)

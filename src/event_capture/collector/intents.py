"""Which intent labels a voice agent reports are stored as they are.

The intent is extracted by an LLM from the call, so it can be anything the caller said:
``deliver_to_12_elm_street`` or ``jane_doe``. Its shape alone cannot tell ``jane_doe`` from
``order_status`` (two lowercase words either way), and no list of names or streets is ever
complete, so the rule is the other way round: a label is stored only when *every* word of it is
a word of shop and support intents (``INTENT_WORDS``), with no digit, in at most
``MAX_INTENT_WORDS`` words. Anything else is stored as ``other``: the call still counts, its
free text does not. A new intent whose words are missing here is stored as ``other`` until its
words are added, a one-line change reviewed like any schema change.
"""

from typing import Final

OTHER_INTENT: Final = "other"
MAX_INTENT_WORDS: Final = 4

# Actions and objects of a shop's support and shopping intents, and the few joining words
# labels use. No word here names a person, a street or a place.
INTENT_WORDS: Final = frozenset(
    " ".join(
        (
            "about account add address availability balance basket book booking browse buy",
            "cancel card cart catalog catalogue category change check checkout collect",
            "collection complaint confirm contact coupon create deal deals delete delivery",
            "details discount exchange faq feedback find for gift help hours info information",
            "inquiry invoice item items list login logout lookup loyalty membership my new of",
            "offer offers on open opening order orders other password pay payment pickup points",
            "policy price prices product products promo promotion question recipe recipes",
            "recommend recommendation refund register remove reorder reset return returns",
            "review schedule search shipping shop size sizes status stock store stores",
            "subscription support to track tracking unknown update voucher warranty wishlist",
        )
    ).split(" ")
)


def storable_intent(label: str) -> bool:
    """Whether ``label`` (already lower-case snake_case) may be stored as the intent."""
    words = label.split("_")
    return len(words) <= MAX_INTENT_WORDS and all(word in INTENT_WORDS for word in words)

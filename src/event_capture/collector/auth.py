"""Write keys: which callers the public collector serves, and as what.

A key belongs to a class: ``server`` keys are secret, held by the app's backend SDKs (Python,
Node); ``client`` keys are public, carried in every page and app by the browser and mobile
SDKs, where anyone may read them. Limits and daily caps apply per class and per key
(``limits.py``), so a flood on a client key never starves the backend's traffic. Each key has a
non-secret id (``web``, ``ios``, ``backend``), which the log lines and the stored rows name.

A key arrives as the Basic-auth user name (Segment's and RudderStack's SDKs, the password
ignored) or as ``writeKey`` in the body (Segment's SDKs send both). Every configured key is
compared, always all of them, in constant time over SHA-256 digests, so neither the time an
answer takes nor its length says how much of a key was right, or which key.

``COLLECTOR_WRITE_KEYS`` is a JSON list of ``{"id", "class", "key"}``; a key given alone (a
string in the list, or a plain comma-separated list: the format before classes) is a client
key with an id made from its digest.
"""

import base64
import binascii
import enum
import hashlib
import hmac
import json
import math
from collections import Counter
from dataclasses import dataclass

from event_capture.contracts.provenance import KEY_ID

# A key id per SDK or app, each rotated by adding its next key beside it for a while.
MAX_WRITE_KEYS = 8
MAX_KEYS_PER_ID = 2
MIN_WRITE_KEY_LENGTH = 16
# A random hex key of that length measures about 56 bits by its make-up (estimated_bits); a
# key of few distinct characters ("aaaaaaaaaaaaaaaa", "abababab...") far fewer, whatever its
# length.
MIN_WRITE_KEY_BITS = 48


class KeyClass(enum.StrEnum):
    SERVER = "server"
    CLIENT = "client"


class WriteKeyError(ValueError):
    """The configured keys are unusable; the message never quotes a key."""


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


def estimated_bits(key: str) -> float:
    """The key's length times the Shannon entropy of its characters: what its own make-up
    says it holds at most (a key drawn at random from 64 characters, 6 bits a character)."""
    counts = Counter(key)
    return -sum(n * math.log2(n / len(key)) for n in counts.values())


def key_problem(key: str) -> str | None:
    """Why a key cannot be used, never quoting it; None if it can."""
    if len(key) < MIN_WRITE_KEY_LENGTH:
        return f"must be at least {MIN_WRITE_KEY_LENGTH} characters"
    if any(c in key for c in ":,") or not key.isprintable() or any(c.isspace() for c in key):
        # A Basic-auth user name ends at the first colon; the plain list is comma-separated.
        return "must be printable, without spaces, ':' or ','"
    if estimated_bits(key) < MIN_WRITE_KEY_BITS:
        return (
            f"is too predictable (about {estimated_bits(key):.0f} bits, at least "
            f"{MIN_WRITE_KEY_BITS}): use a random key, e.g. `openssl rand -hex 24`"
        )
    return None


@dataclass(frozen=True, slots=True)
class WriteKey:
    key_id: str
    key_class: KeyClass
    digest: bytes


def _plain(key: str) -> tuple[str, KeyClass, str]:
    """A key given without id or class: a client key, named by its digest."""
    return ("key-" + _digest(key).hex()[:8], KeyClass.CLIENT, key)


def _entries(text: str) -> list[tuple[str, KeyClass, str]]:
    """(id, class, key) of each configured key, in either format."""
    stripped = text.strip()
    if not stripped.startswith("["):
        return [_plain(key.strip()) for key in stripped.split(",") if key.strip()]
    try:
        items = json.loads(stripped)
    except json.JSONDecodeError:
        raise WriteKeyError("must be a JSON list of {id, class, key}") from None
    entries = []
    for position, item in enumerate(items if isinstance(items, list) else [None], 1):
        if isinstance(item, str):
            entries.append(_plain(item.strip()))
            continue
        if not isinstance(item, dict) or set(item) != {"id", "class", "key"}:
            raise WriteKeyError(f"key {position} must be an object of id, class and key")
        key_id, key_class, key = item["id"], item["class"], item["key"]
        if not isinstance(key_id, str) or not KEY_ID.fullmatch(key_id):
            raise WriteKeyError(f"key {position}: id must be 1 to 32 of a-z, 0-9 and '-'")
        if key_class not in tuple(KeyClass):
            raise WriteKeyError(f"key {position}: class must be server or client")
        if not isinstance(key, str):
            raise WriteKeyError(f"key {position}: key must be a string")
        entries.append((key_id, KeyClass(key_class), key))
    return entries


@dataclass(frozen=True, slots=True)
class WriteKeys:
    keys: tuple[WriteKey, ...]

    @classmethod
    def parse(cls, text: str) -> "WriteKeys":
        entries = _entries(text)
        if not entries:
            raise WriteKeyError("at least one write key is required")
        if len(entries) > MAX_WRITE_KEYS:
            raise WriteKeyError(f"at most {MAX_WRITE_KEYS} keys")
        for position, (key_id, _, key) in enumerate(entries, 1):
            if problem := key_problem(key):
                raise WriteKeyError(f"key {position} ({key_id}) {problem}")
        per_id = Counter(key_id for key_id, _, _ in entries)
        if crowded := sorted(i for i, n in per_id.items() if n > MAX_KEYS_PER_ID):
            raise WriteKeyError(
                f"id {crowded[0]}: at most {MAX_KEYS_PER_ID} keys (the current and the next)"
            )
        classes = {key_id: {c for i, c, _ in entries if i == key_id} for key_id in per_id}
        if mixed := sorted(i for i, c in classes.items() if len(c) > 1):
            raise WriteKeyError(f"id {mixed[0]}: its keys must be of one class")
        if len({key for _, _, key in entries}) != len(entries):
            raise WriteKeyError("the same key twice")
        return cls(tuple(WriteKey(i, c, _digest(k)) for i, c, k in entries))

    def find(self, candidate: str) -> WriteKey | None:
        """The configured key ``candidate`` is, if any; every key is compared, whatever the
        first answered."""
        given = _digest(candidate)
        found = None
        for key in self.keys:
            if hmac.compare_digest(given, key.digest):
                found = key
        return found

    def accepts(self, candidate: str) -> bool:
        return self.find(candidate) is not None

    @property
    def ids(self) -> dict[str, KeyClass]:
        return {key.key_id: key.key_class for key in self.keys}


def basic_user(authorization: str | None) -> str | None:
    """The user name of ``Authorization: Basic``, or None when there is no such header.

    A value that is not Basic (Segment's OAuth sends Bearer, with the key in the body) counts
    as no header; a Basic value that does not decode gives "" (a wrong key, not a missing one).
    """
    if authorization is None:
        return None
    scheme, _, credentials = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return ""
    # "key:" as the SDKs send it; "key" alone is taken too, as Segment does.
    return decoded.partition(":")[0]

"""NIP-19 bech32 entities: npub, nsec, note, and the TLV forms nprofile, nevent, naddr."""

from __future__ import annotations

from dataclasses import dataclass, field

from koinon.errors import invalid

_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_GENERATORS = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
MAX_LENGTH = 5000  # NIP-19 TLV strings exceed BIP-173's 90 characters.


def _polymod(values: list[int]) -> int:
    checksum = 1
    for value in values:
        top = checksum >> 25
        checksum = (checksum & 0x1FFFFFF) << 5 ^ value
        for i, generator in enumerate(_GENERATORS):
            if (top >> i) & 1:
                checksum ^= generator
    return checksum


def _expand_hrp(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _convert_bits(data: bytes | list[int], from_bits: int, to_bits: int, pad: bool) -> list[int]:
    acc = bits = 0
    out = []
    mask = (1 << to_bits) - 1
    for value in data:
        acc = (acc << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((acc >> bits) & mask)
    if pad and bits:
        out.append((acc << (to_bits - bits)) & mask)
    elif not pad and (bits >= from_bits or (acc << (to_bits - bits)) & mask):
        raise invalid("bech32 data has bad padding")
    return out


def encode(hrp: str, data: bytes) -> str:
    """Encode bytes as bech32 (BIP-173 checksum, as NIP-19 uses)."""
    words = _convert_bits(data, 8, 5, pad=True)
    checksum = _polymod([*_expand_hrp(hrp), *words, 0, 0, 0, 0, 0, 0]) ^ 1
    words += [(checksum >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_CHARSET[w] for w in words)


def decode(text: str) -> tuple[str, bytes]:
    """Decode a bech32 string into (human-readable part, bytes)."""
    if len(text) > MAX_LENGTH or (text.lower() != text and text.upper() != text):
        raise invalid("not a bech32 string")
    text = text.lower()
    sep = text.rfind("1")
    if sep < 1 or sep + 7 > len(text) or any(c not in _CHARSET for c in text[sep + 1 :]):
        raise invalid("not a bech32 string")
    hrp = text[:sep]
    words = [_CHARSET.index(c) for c in text[sep + 1 :]]
    if _polymod(_expand_hrp(hrp) + words) != 1:
        raise invalid("bech32 checksum mismatch")
    return hrp, bytes(_convert_bits(words[:-6], 5, 8, pad=False))


@dataclass(frozen=True)
class Pointer:
    """A decoded NIP-19 entity. `value` is hex for keys and ids, text for an naddr identifier."""

    kind_name: str
    value: str
    relays: tuple[str, ...] = ()
    author: str | None = None
    kind: int | None = None
    extra: dict[str, str] = field(default_factory=dict)


_SIMPLE = ("npub", "nsec", "note")


def encode_simple(hrp: str, hex_value: str) -> str:
    """npub/nsec/note of a 32-byte hex value."""
    raw = bytes.fromhex(hex_value)
    if hrp not in _SIMPLE or len(raw) != 32:
        raise invalid(f"cannot encode {hrp} from {len(raw)} bytes")
    return encode(hrp, raw)


def _tlv(entries: list[tuple[int, bytes]]) -> bytes:
    out = bytearray()
    for tag, value in entries:
        if len(value) > 255:
            raise invalid("TLV value too long")
        out += bytes((tag, len(value))) + value
    return bytes(out)


def encode_nevent(
    event_id: str, relays: tuple[str, ...] = (), author: str | None = None, kind: int | None = None
) -> str:
    """nevent with optional relay hints, author and kind."""
    entries = [(0, bytes.fromhex(event_id))] + [(1, r.encode()) for r in relays]
    if author:
        entries.append((2, bytes.fromhex(author)))
    if kind is not None:
        entries.append((3, kind.to_bytes(4, "big")))
    return encode("nevent", _tlv(entries))


def encode_nprofile(pubkey: str, relays: tuple[str, ...] = ()) -> str:
    """nprofile with optional relay hints."""
    entries = [(0, bytes.fromhex(pubkey))] + [(1, r.encode()) for r in relays]
    return encode("nprofile", _tlv(entries))


def encode_naddr(identifier: str, author: str, kind: int, relays: tuple[str, ...] = ()) -> str:
    """naddr of an addressable event."""
    entries = [
        (0, identifier.encode()),
        *[(1, r.encode()) for r in relays],
        (2, bytes.fromhex(author)),
        (3, kind.to_bytes(4, "big")),
    ]
    return encode("naddr", _tlv(entries))


def _read_tlv(data: bytes) -> dict[int, list[bytes]]:
    fields: dict[int, list[bytes]] = {}
    i = 0
    while i < len(data):
        if i + 2 > len(data) or i + 2 + data[i + 1] > len(data):
            raise invalid("truncated TLV")
        tag, length = data[i], data[i + 1]
        fields.setdefault(tag, []).append(data[i + 2 : i + 2 + length])
        i += 2 + length
    return fields


def decode_entity(text: str) -> Pointer:
    """Decode any NIP-19 entity (a `nostr:` URI prefix is accepted)."""
    text = text.removeprefix("nostr:")
    hrp, data = decode(text)
    if hrp in _SIMPLE:
        if len(data) != 32:
            raise invalid(f"{hrp} must hold 32 bytes")
        return Pointer(hrp, data.hex())
    if hrp not in ("nprofile", "nevent", "naddr"):
        raise invalid(f"unknown NIP-19 prefix {hrp!r}")
    fields = _read_tlv(data)
    special = fields.get(0, [])
    if len(special) != 1:
        raise invalid(f"{hrp} must have one special entry")
    relays = tuple(r.decode("utf-8", "replace") for r in fields.get(1, []))
    author = fields.get(2, [None])[0]
    if author is not None and len(author) != 32:
        raise invalid("author must be 32 bytes")
    kind_raw = fields.get(3, [None])[0]
    if kind_raw is not None and len(kind_raw) != 4:
        raise invalid("kind must be 4 bytes")
    kind = int.from_bytes(kind_raw, "big") if kind_raw is not None else None
    if hrp == "naddr":
        if author is None or kind is None:
            raise invalid("naddr needs author and kind")
        value = special[0].decode("utf-8", "replace")
    else:
        if len(special[0]) != 32:
            raise invalid(f"{hrp} must point to 32 bytes")
        value = special[0].hex()
    return Pointer(hrp, value, relays, author.hex() if author else None, kind)

"""Message franking: commit to a private message so its recipient can later prove who sent it.

The sender commits to each message with a fresh franking key (HMAC-SHA256); the key travels inside
the ciphertext, the commitment outside it. The sender's node binds the commitment to sender,
recipient and time (an HMAC tag only it can make, signed with its Nostr key so moderators on other
nodes can check it) without ever seeing the message. A recipient who reports a message reveals it
and the key; the moderator checks the opening and the stamp. The AEAD is never relied on to bind
content: whatever the ciphertext decrypts to, only a matching HMAC opening counts.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import StrEnum

from koinon.core import schnorr
from koinon.core.event import MAX_TIMESTAMP, is_hex
from koinon.core.keys import RandomBytes
from koinon.errors import invalid
from koinon.messaging.audience import AudienceProof
from koinon.messaging.primitives import HASH_LEN, equal_ct, hmac_sha256

FRANKING_KEY_LEN = 32
COMMITMENT_LEN = HASH_LEN
TAG_LEN = HASH_LEN
SIGNATURE_LEN = 64
MAX_ATTACHMENTS = 64

# Distinct labels keep a commitment, a stamp tag and a stamp signature from ever being confused.
_COMMITMENT_LABEL = b"koinon/franking/commitment/v1"
_STAMP_LABEL = b"koinon/franking/stamp/v1"
_SIGNATURE_TAG = "koinon/franking/stamp-signature/v1"
_NODE_KEY_LABEL = b"koinon/franking/node-hmac-key/v1"
_PLAINTEXT_MAGIC = b"KFP1"
_STAMP_MAGIC = b"KFS1"


def _frame(*parts: bytes) -> bytes:
    """Each part prefixed by its 32-bit big-endian length: an injective encoding of the sequence."""
    return b"".join(struct.pack(">I", len(part)) + part for part in parts)


class _Reader:
    """Strict reader for `_frame` output: truncation and trailing bytes are rejected."""

    def __init__(self, data: bytes, what: str) -> None:
        self._data = data
        self._offset = 0
        self._what = what

    def take(self, length: int) -> bytes:
        end = self._offset + length
        if end > len(self._data):
            raise invalid(f"{self._what} is truncated")
        chunk = self._data[self._offset : end]
        self._offset = end
        return chunk

    def field(self) -> bytes:
        (length,) = struct.unpack(">I", self.take(4))
        return self.take(length)

    def at_end(self) -> bool:
        return self._offset == len(self._data)

    def finish(self) -> None:
        if not self.at_end():
            raise invalid(f"{self._what} has trailing bytes")


def _check_len(value: object, length: int, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != length:
        raise invalid(f"{what} must be {length} bytes")


def _check_pubkey(value: object, what: str) -> None:
    if not is_hex(value, 64):
        raise invalid(f"{what} must be a 64-character lowercase hex public key")


def _check_timestamp(value: object) -> None:
    if type(value) is not int or not 0 <= value <= MAX_TIMESTAMP:
        raise invalid(f"franking timestamp must be an integer between 0 and {MAX_TIMESTAMP}")


def _check_attachments(attachments: tuple[bytes, ...]) -> None:
    if len(attachments) > MAX_ATTACHMENTS:
        raise invalid(f"at most {MAX_ATTACHMENTS} attachments can be franked")
    for digest in attachments:
        _check_len(digest, HASH_LEN, "an attachment hash")


@dataclass(frozen=True, slots=True)
class FrankedPlaintext:
    """What travels inside the ciphertext: the message, its franking key and attachment hashes."""

    message: bytes
    franking_key: bytes
    attachments: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.message, bytes):
            raise invalid("franked message must be bytes")
        _check_len(self.franking_key, FRANKING_KEY_LEN, "franking key")
        _check_attachments(self.attachments)

    def encode(self) -> bytes:
        """The one canonical byte form, to be encrypted."""
        return _PLAINTEXT_MAGIC + _frame(self.franking_key, self.message, *self.attachments)

    @classmethod
    def decode(cls, data: bytes) -> FrankedPlaintext:
        """Parse `encode` output; anything else raises `Rejected(INVALID)`."""
        if not data.startswith(_PLAINTEXT_MAGIC):
            raise invalid("not a franked plaintext")
        reader = _Reader(data[len(_PLAINTEXT_MAGIC) :], "franked plaintext")
        franking_key = reader.field()
        message = reader.field()
        attachments: list[bytes] = []
        while not reader.at_end():
            if len(attachments) == MAX_ATTACHMENTS:
                raise invalid(f"at most {MAX_ATTACHMENTS} attachments can be franked")
            attachments.append(reader.field())
        return cls(message, franking_key, tuple(attachments))


def _commitment_input(message: bytes, attachments: tuple[bytes, ...]) -> bytes:
    return _COMMITMENT_LABEL + _frame(message, struct.pack(">I", len(attachments)), *attachments)


def commitment_of(plaintext: FrankedPlaintext) -> bytes:
    """HMAC-SHA256 under the franking key of the message and its attachment hashes."""
    return hmac_sha256(
        plaintext.franking_key, _commitment_input(plaintext.message, plaintext.attachments)
    )


def commit(
    message: bytes, attachments_sha256: list[bytes], random_bytes: RandomBytes
) -> tuple[bytes, bytes]:
    """Sender side: a fresh franking key and the commitment to `message` and its attachments."""
    franking_key = random_bytes(FRANKING_KEY_LEN)
    plaintext = FrankedPlaintext(message, franking_key, tuple(attachments_sha256))
    return franking_key, commitment_of(plaintext)


def open_commitment(plaintext: FrankedPlaintext, commitment: bytes) -> bool:
    """Recipient side: True when `commitment` opens to this plaintext; else drop the message."""
    if not isinstance(commitment, bytes) or len(commitment) != COMMITMENT_LEN:
        return False
    return equal_ct(commitment_of(plaintext), commitment)


def _stamp_input(commitment: bytes, sender: str, recipient: str, timestamp: int) -> bytes:
    _check_len(commitment, COMMITMENT_LEN, "commitment")
    _check_pubkey(sender, "sender")
    _check_pubkey(recipient, "recipient")
    _check_timestamp(timestamp)
    return _STAMP_LABEL + _frame(
        commitment, bytes.fromhex(sender), bytes.fromhex(recipient), struct.pack(">Q", timestamp)
    )


def derive_node_hmac_key(node_secret_key: bytes) -> bytes:
    """The node's franking HMAC key, derived from its secret key: nothing more to keep."""
    return hmac_sha256(node_secret_key, _NODE_KEY_LABEL)


def stamp(
    node_secret_hmac_key: bytes,
    commitment: bytes,
    sender_pubkey: str,
    recipient_pubkey: str,
    timestamp: int,
) -> bytes:
    """Node side: the tag binding a commitment to sender, recipient and time; only the node can
    make it."""
    if len(node_secret_hmac_key) < HASH_LEN:
        raise invalid("node franking key must be at least 32 bytes")
    data = _stamp_input(commitment, sender_pubkey, recipient_pubkey, timestamp)
    return hmac_sha256(node_secret_hmac_key, data)


@dataclass(frozen=True, slots=True)
class FrankingStamp:
    """The node's signed statement: `sender` sent `commitment` to `recipient` at `timestamp`."""

    commitment: bytes
    sender: str
    recipient: str
    timestamp: int
    tag: bytes
    node_pubkey: str
    signature: bytes

    def __post_init__(self) -> None:
        _stamp_input(self.commitment, self.sender, self.recipient, self.timestamp)
        _check_len(self.tag, TAG_LEN, "stamp tag")
        _check_pubkey(self.node_pubkey, "node public key")
        _check_len(self.signature, SIGNATURE_LEN, "stamp signature")

    def signed_digest(self) -> bytes:
        """The 32-byte BIP-340 message the node signs: everything but the signature."""
        return _signed_digest(
            self.commitment, self.sender, self.recipient, self.timestamp, self.tag, self.node_pubkey
        )

    def encode(self) -> bytes:
        """The one canonical byte form (for a rumor tag, hex-encoded, or a report)."""
        return _STAMP_MAGIC + _frame(
            self.commitment,
            bytes.fromhex(self.sender),
            bytes.fromhex(self.recipient),
            struct.pack(">Q", self.timestamp),
            self.tag,
            bytes.fromhex(self.node_pubkey),
            self.signature,
        )

    @classmethod
    def decode(cls, data: bytes) -> FrankingStamp:
        """Parse `encode` output; anything else raises `Rejected(INVALID)`. Does not verify."""
        if not data.startswith(_STAMP_MAGIC):
            raise invalid("not a franking stamp")
        reader = _Reader(data[len(_STAMP_MAGIC) :], "franking stamp")
        fields = [reader.field() for _ in range(7)]
        reader.finish()
        commitment, sender, recipient, timestamp, tag, node_pubkey, signature = fields
        _check_len(timestamp, 8, "stamp timestamp")
        for key in (sender, recipient, node_pubkey):
            _check_len(key, 32, "a public key")
        return cls(
            commitment,
            sender.hex(),
            recipient.hex(),
            struct.unpack(">Q", timestamp)[0],
            tag,
            node_pubkey.hex(),
            signature,
        )


def _signed_digest(
    commitment: bytes, sender: str, recipient: str, timestamp: int, tag: bytes, node_pubkey: str
) -> bytes:
    body = _stamp_input(commitment, sender, recipient, timestamp)
    return schnorr.tagged_hash(_SIGNATURE_TAG, _frame(body, tag, bytes.fromhex(node_pubkey)))


def sign_stamp(
    node_secret_key: bytes,
    node_secret_hmac_key: bytes,
    commitment: bytes,
    sender_pubkey: str,
    recipient_pubkey: str,
    timestamp: int,
    aux_rand: bytes,
) -> FrankingStamp:
    """Node side: the HMAC tag plus a BIP-340 signature by the node's Nostr key over all of it."""
    tag = stamp(node_secret_hmac_key, commitment, sender_pubkey, recipient_pubkey, timestamp)
    try:
        node_pubkey = schnorr.public_key(node_secret_key).hex()
    except schnorr.SchnorrError as exc:
        raise invalid("node secret key out of range") from exc
    digest = _signed_digest(
        commitment, sender_pubkey, recipient_pubkey, timestamp, tag, node_pubkey
    )
    signature = schnorr.sign(node_secret_key, digest, aux_rand)
    return FrankingStamp(
        commitment, sender_pubkey, recipient_pubkey, timestamp, tag, node_pubkey, signature
    )


def verify_stamp(
    franking_stamp: FrankingStamp,
    *,
    node_pubkey: str | None = None,
    node_hmac_key: bytes | None = None,
) -> bool:
    """True when the stamp is the node's: signed by `node_pubkey` (any moderator can check) and/or
    tagged with `node_hmac_key` (only the issuing node can check). Every key given must match."""
    if node_pubkey is None and node_hmac_key is None:
        raise invalid("verifying a stamp needs the node's public key or its franking key")
    if node_pubkey is not None:
        if franking_stamp.node_pubkey != node_pubkey:
            return False
        digest = franking_stamp.signed_digest()
        if not schnorr.verify(bytes.fromhex(node_pubkey), digest, franking_stamp.signature):
            return False
    if node_hmac_key is not None:
        expected = stamp(
            node_hmac_key,
            franking_stamp.commitment,
            franking_stamp.sender,
            franking_stamp.recipient,
            franking_stamp.timestamp,
        )
        if not equal_ct(expected, franking_stamp.tag):
            return False
    return True


@dataclass(frozen=True, slots=True)
class AbuseReport:
    """What a recipient reveals to a moderator: the opened message and the node's stamp, and for
    a group message the proof that the stamped audience includes the reporter."""

    plaintext: FrankedPlaintext
    commitment: bytes
    stamp: FrankingStamp
    reporter: str
    audience: AudienceProof | None = None

    def __post_init__(self) -> None:
        _check_len(self.commitment, COMMITMENT_LEN, "commitment")
        _check_pubkey(self.reporter, "reporter")

    def addressed(self) -> str:
        """The recipient the stamp must name: the reporter, or the audience that includes them."""
        return self.reporter if self.audience is None else self.audience.digest_for(self.reporter)


def make_report(
    plaintext: FrankedPlaintext,
    commitment: bytes,
    franking_stamp: FrankingStamp,
    reporter: str,
    audience: AudienceProof | None = None,
) -> AbuseReport:
    """Recipient side: reveal one message (and nothing else) for a moderator to verify."""
    return AbuseReport(plaintext, commitment, franking_stamp, reporter, audience)


class ReportProblem(StrEnum):
    """Why a moderator refused a report, machine-readable."""

    COMMITMENT_DOES_NOT_OPEN = "commitment-does-not-open"
    STAMP_FOR_OTHER_COMMITMENT = "stamp-for-other-commitment"
    REPORTER_NOT_RECIPIENT = "reporter-not-recipient"
    STAMP_NOT_NODES = "stamp-not-nodes"
    SENDER_NOT_STAMPED = "sender-not-stamped"


@dataclass(frozen=True, slots=True)
class ReportVerdict:
    """A moderator's finding; when `problem` is None the report's facts are proven. `recipient`
    is the stamp's: the reporter, or for a group message the audience digest, whose size
    `audience_size` gives (None for a direct message)."""

    problem: ReportProblem | None
    sender: str
    recipient: str
    timestamp: int
    message: bytes
    attachments: tuple[bytes, ...]
    audience_size: int | None = None

    @property
    def accepted(self) -> bool:
        """True when every check passed."""
        return self.problem is None


def _find_problem(
    report: AbuseReport,
    node_pubkey: str | None,
    node_hmac_key: bytes | None,
    claimed_sender: str | None,
) -> ReportProblem | None:
    if not open_commitment(report.plaintext, report.commitment):
        return ReportProblem.COMMITMENT_DOES_NOT_OPEN
    if not equal_ct(report.stamp.commitment, report.commitment):
        return ReportProblem.STAMP_FOR_OTHER_COMMITMENT
    if report.stamp.recipient != report.addressed():
        return ReportProblem.REPORTER_NOT_RECIPIENT
    if not verify_stamp(report.stamp, node_pubkey=node_pubkey, node_hmac_key=node_hmac_key):
        return ReportProblem.STAMP_NOT_NODES
    if claimed_sender is not None and claimed_sender != report.stamp.sender:
        return ReportProblem.SENDER_NOT_STAMPED
    return None


def verify_report(
    report: AbuseReport,
    *,
    node_pubkey: str | None = None,
    node_hmac_key: bytes | None = None,
    claimed_sender: str | None = None,
) -> ReportVerdict:
    """Moderator side: the message opens the commitment, the node stamped that commitment for the
    claimed sender, the reporter as recipient (or an audience that includes them) and the time.

    `report.reporter` must be the authenticated submitter (NIP-42 or a signed event): this function
    cannot know who is really asking. `claimed_sender`, when the report names one, must be the
    sender in the stamp.
    """
    problem = _find_problem(report, node_pubkey, node_hmac_key, claimed_sender)
    return ReportVerdict(
        problem,
        report.stamp.sender,
        report.stamp.recipient,
        report.stamp.timestamp,
        report.plaintext.message,
        report.plaintext.attachments,
        None if report.audience is None else report.audience.size,
    )

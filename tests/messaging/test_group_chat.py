"""Group chats wired together in memory: controls go straight to the device they are for (the
pairwise sessions are tested elsewhere), group messages to every device of each recipient, each
franked and stamped by a node key held here. Creation, joining, removal, ordering, limits, bad
input, franking checks and the stored state."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from koinon.core.keys import SecretKey
from koinon.messaging import franking, group_chat, group_message
from koinon.messaging.audience import Audience
from koinon.messaging.franked_dm import frank
from koinon.messaging.franked_group import FrankedGroupMessage
from koinon.messaging.giftwrap import Rumor
from koinon.messaging.group_chat import Broadcast, Delivery
from koinon.messaging.group_control import (
    Change,
    Device,
    GroupChatError,
    KeyShare,
    Welcome,
    encode_controls,
    parse_controls,
)
from koinon.messaging.group_state import MAX_HISTORY, GroupChat, GroupStore
from koinon.sessions.errors import DecryptError, StateError
from koinon.sessions.group_wire import MAX_MEMBERS, GroupMessage
from koinon.sessions.groups import MissingSenderKey
from tests.messaging.parties import node_stamp

NODE = SecretKey(hashlib.sha256(b"group test node").digest())
TRUSTED = {NODE.public_key}


def person(n: int) -> str:
    return hashlib.sha256(b"group person %d" % n).hexdigest()


@dataclass
class Phone:
    """One member device in memory."""

    device: Device
    random: random.Random
    store: GroupStore = field(init=False)

    def __post_init__(self) -> None:
        self.store = GroupStore(self.device)

    def group(self) -> GroupChat:
        (chat,) = self.store.groups.values()
        return chat


def phone(n: int, device: str = "phone") -> Phone:
    return Phone(Device(person(n), device), random.Random(n * 7919 + len(device)))


@dataclass(frozen=True)
class Mail:
    """Controls (`text`) from a device, or a group message rumor from a Nostr key."""

    sender: Device | str
    text: str = ""
    rumor: Rumor | None = None


@dataclass
class Net:
    """Mailboxes per device; `send` posts, `read` takes in what arrived as the CLI does."""

    phones: dict[Device, Phone] = field(default_factory=dict)
    mail: dict[Device, list[Mail]] = field(default_factory=lambda: defaultdict(list))
    sent: list[tuple[Broadcast, str]] = field(default_factory=list)
    clock: int = 1_700_000_000

    def join(self, *phones: Phone) -> None:
        for p in phones:
            self.phones[p.device] = p

    def send(
        self, sender: Phone, deliveries: Sequence[Delivery], broadcasts: Sequence[Broadcast] = ()
    ) -> None:
        for delivery in group_chat.merge(deliveries):
            text = encode_controls(delivery.controls)
            self.mail[delivery.to].append(Mail(sender.device, text))
        group_chat.mark_shared(sender.store, deliveries)
        for broadcast in broadcasts:
            self.clock += 1
            rumor = group_message.message_rumor(sender.device.pubkey, broadcast.content, self.clock)
            self.sent.append((broadcast, rumor.id))
            for device in self.phones:
                if device.pubkey in broadcast.recipients:
                    self.mail[device].append(Mail(sender.device.pubkey, rumor=rumor))

    def read(self, reader: Phone) -> tuple[list[str], list[str]]:
        """(texts and notices now in the inbox, warnings), sharing keys afterwards."""
        warnings = []
        for mail in self.mail.pop(reader.device, []):
            if isinstance(mail.sender, Device):
                warnings += group_chat.accept_controls(
                    reader.store,
                    reader.device,
                    mail.sender,
                    parse_controls(mail.text),
                    1,
                    reader.random.randbytes,
                )
                continue
            assert mail.rumor is not None
            try:
                group_chat.accept_message(
                    reader.store,
                    reader.device,
                    mail.sender,
                    mail.rumor.id,
                    mail.rumor.created_at,
                    mail.rumor.content,
                )
            except GroupChatError as exc:
                warnings.append(str(exc))
        warnings += group_chat.settle(reader.store, self.clock, TRUSTED)
        self.send(reader, group_chat.key_shares(reader.store))
        lines = [e.text for e in reader.store.take_inbox(None)]
        return lines, warnings

    def franked(self, sender: Phone, text: str, node: SecretKey = NODE) -> FrankedGroupMessage:
        """`text` from `sender` to its group, committed to and stamped by `node`."""
        audience = group_chat.audience(sender.group(), sender.random.randbytes)
        plaintext = frank(text, sender.random.randbytes)
        commitment = franking.commitment_of(plaintext)
        digest, rand = audience.digest(), sender.random.randbytes
        stamp = node_stamp(node, commitment, sender.device.pubkey, digest, rand, self.clock)
        return FrankedGroupMessage(plaintext, stamp, audience)

    def say(self, sender: Phone, text: str) -> Broadcast:
        return self.post(sender, self.franked(sender, text))

    def post(self, sender: Phone, message: FrankedGroupMessage) -> Broadcast:
        shares = group_chat.key_shares(sender.store)  # before encrypting: the chain moves on
        broadcast = group_chat.encrypt(sender.store, sender.group(), message)
        self.send(sender, shares, [broadcast])
        return broadcast


def texts(lines: list[str]) -> list[str]:
    return [line for line in lines if not line.startswith("npub1") and "added you" not in line]


def start(n: int) -> tuple[Net, list[Phone]]:
    """A group of `n` devices created by the first, everyone's keys shared."""
    net, phones = Net(), [phone(i) for i in range(n)]
    net.join(*phones)
    admin = phones[0]
    _, welcomes = group_chat.create(
        admin.store, admin.device, "friends", [p.device for p in phones[1:]], admin.random.randbytes
    )
    net.send(admin, welcomes + group_chat.key_shares(admin.store))
    for p in phones[1:]:
        net.read(p)
    for p in phones:
        net.read(p)
    return net, phones


def test_three_members_read_each_other() -> None:
    net, (alice, bob, carol) = start(3)
    for sender in (alice, bob, carol):
        net.say(sender, f"hello from {sender.device.pubkey[:6]}")
    for reader in (alice, bob, carol):
        lines, warnings = net.read(reader)
        assert warnings == []
        expected = {f"hello from {p.device.pubkey[:6]}" for p in (alice, bob, carol)} - {
            f"hello from {reader.device.pubkey[:6]}"
        }
        assert set(lines) == expected
    assert all(p.group().state.missing_senders == () for p in (alice, bob, carol))


def test_joiner_reads_later_messages_only() -> None:
    net, (alice, bob, carol) = start(3)
    earlier = [net.say(bob, "before dave"), net.say(alice, "also before")]
    for p in (alice, bob, carol):
        net.read(p)
    dave = phone(3)
    net.join(dave)
    net.send(alice, group_chat.add(alice.group(), alice.device, [dave.device]))
    lines, _ = net.read(dave)
    assert lines == [f"{_npub(alice)} added you to 'friends'"]
    for p in (alice, bob, carol):
        net.read(p)
    net.read(dave)
    net.say(bob, "welcome dave")
    assert net.read(dave)[0] == ["welcome dave"]
    assert net.read(carol)[0] == ["welcome dave"]
    # The messages sent before Dave joined, handed to his state, do not open.
    for broadcast in earlier:
        message = group_message.parse_message_content(broadcast.content)
        with pytest.raises(DecryptError):
            dave.group().state.decrypt(message)


def _npub(p: Phone) -> str:
    from koinon.core.keys import npub

    return npub(p.device.pubkey)


def test_removed_member_cannot_read_after_removal() -> None:
    net, (alice, bob, carol, dave) = start(4)
    net.say(bob, "all four")
    assert net.read(carol)[0] == ["all four"]
    net.send(alice, group_chat.remove(alice.group(), alice.device, carol.device.pubkey))
    for p in (bob, dave):
        lines, warnings = net.read(p)
        assert f"{_npub(carol)} was removed" in lines and warnings == []
    assert net.read(carol)[0] == ["you were removed from 'friends'"]
    for p in (alice, bob, dave):
        net.read(p)
    after = [net.say(bob, "carol is gone"), net.say(alice, "new keys"), net.say(dave, "indeed")]
    assert sorted(net.read(dave)[0]) == ["carol is gone", "new keys"]
    for broadcast in after:
        assert carol.device.pubkey not in broadcast.recipients
        message = group_message.parse_message_content(broadcast.content)
        with pytest.raises(MissingSenderKey):
            carol.group().state.decrypt(message)
        assert message.epoch == carol.group().state.epoch + 1
    assert carol.group().removed
    with pytest.raises(GroupChatError, match="no longer a member"):
        group_chat.audience(carol.group(), carol.random.randbytes)


def test_messages_of_an_epoch_are_read_before_a_removal_applies() -> None:
    net, (alice, bob, carol) = start(3)
    net.say(carol, "sent before the removal")
    net.send(alice, group_chat.remove(alice.group(), alice.device, carol.device.pubkey))
    net.say(alice, "after")  # Bob takes in Carol's message, the removal and this at once
    lines, warnings = net.read(bob)
    assert warnings == []
    assert texts(lines) == ["sent before the removal", "after"]


def test_joiner_message_in_the_same_fetch_as_the_addition() -> None:
    net, (alice, bob, _) = start(3)
    dave = phone(3)
    net.join(dave)
    net.send(alice, group_chat.add(alice.group(), alice.device, [dave.device]))
    net.read(dave)  # joins and shares his key with everybody
    net.say(dave, "first words")
    lines, warnings = net.read(bob)  # the change, Dave's key and his message at once
    assert warnings == [] and texts(lines) == ["first words"]


def test_welcomes_are_taken_first_within_one_fetch() -> None:
    alice, bob, carol = phone(0), phone(1), phone(2)
    _, welcomes = group_chat.create(
        alice.store, alice.device, "g", [bob.device, carol.device], alice.random.randbytes
    )
    by_device = {d.to: d.controls for d in welcomes}
    group_chat.accept_controls(
        bob.store, bob.device, alice.device, by_device[bob.device], 1, bob.random.randbytes
    )
    (bob_share,) = group_chat.key_shares(bob.store)[1:]  # the one for Carol
    assert bob_share.to == carol.device
    batches = [
        (bob.device, bob_share.controls, 1),  # Bob's key, stamped the same second, comes first
        (alice.device, by_device[carol.device], 1),
    ]
    assert (
        group_chat.accept_batches(carol.store, carol.device, batches, carol.random.randbytes) == []
    )
    group_chat.settle(carol.store, 1, TRUSTED)
    assert carol.group().state.missing_senders == (alice.device.member,)


def test_changes_apply_in_order_and_only_from_the_admin() -> None:
    net, (alice, bob, carol) = start(3)
    dave, erin = phone(3), phone(4)
    net.join(dave, erin)
    first = group_chat.add(alice.group(), alice.device, [dave.device])
    second = group_chat.add(alice.group(), alice.device, [erin.device])
    to_bob = [d for d in first + second if d.to == bob.device]
    net.send(alice, list(reversed(to_bob)))  # the second change arrives first
    net.read(bob)
    assert set(bob.group().devices) == {p.device.member for p in (alice, bob, carol, dave, erin)}
    forged = Change(bob.group().group_id, 9, "remove", 1, (alice.device,))
    warnings = group_chat.accept_controls(
        bob.store, bob.device, carol.device, [forged], 1, bob.random.randbytes
    )
    assert warnings and "not sent by its admin" in warnings[0]
    with pytest.raises(GroupChatError, match="only the admin"):
        group_chat.add(bob.group(), bob.device, [phone(5).device])


def test_welcome_only_from_its_admin_and_for_this_device() -> None:
    alice, bob, mallory = phone(0), phone(1), phone(2)
    _, (welcome_delivery,) = group_chat.create(
        alice.store, alice.device, "g", [bob.device], alice.random.randbytes
    )
    (welcome,) = welcome_delivery.controls
    warnings = group_chat.accept_controls(
        bob.store, bob.device, mallory.device, [welcome], 1, bob.random.randbytes
    )
    assert "not sent by the group's admin" in warnings[0] and not bob.store.groups
    warnings = group_chat.accept_controls(
        mallory.store, mallory.device, alice.device, [welcome], 1, mallory.random.randbytes
    )
    assert "does not list this device" in warnings[0] and not mallory.store.groups


def test_hundred_member_devices_and_no_more() -> None:
    net, phones = start(MAX_MEMBERS)
    assert len(phones[0].group().devices) == MAX_MEMBERS
    net.say(phones[57], "one of a hundred")
    for p in (phones[0], phones[1], phones[99]):
        assert net.read(p)[0] == ["one of a hundred"]
    with pytest.raises(GroupChatError, match=f"at most {MAX_MEMBERS} member devices"):
        group_chat.add(phones[0].group(), phones[0].device, [phone(MAX_MEMBERS).device])
    assert len(phones[0].group().devices) == MAX_MEMBERS
    creator = phone(500)
    too_many = [phone(1000 + i).device for i in range(MAX_MEMBERS)]
    with pytest.raises(GroupChatError, match=f"not {MAX_MEMBERS + 1}"):
        group_chat.create(creator.store, creator.device, "big", too_many, creator.random.randbytes)
    assert creator.store.groups == {}


def _mutations(content: str) -> dict[str, str]:
    import base64

    data = base64.b64decode(content)
    flipped = bytearray(data)
    flipped[100] ^= 1  # inside the ciphertext
    signature = bytearray(data)
    signature[-1] ^= 1
    return {
        "ciphertext": base64.b64encode(bytes(flipped)).decode(),
        "signature": base64.b64encode(bytes(signature)).decode(),
        "truncated": base64.b64encode(data[:-10]).decode(),
        "very short": base64.b64encode(data[:40]).decode(),
        "version": base64.b64encode(b"\x34" + data[1:]).decode(),
        "not base64": "%%%",
    }


def test_bad_group_messages_give_clear_errors_and_leave_state_intact() -> None:
    net, (alice, bob, _) = start(3)
    good = net.say(alice, "real")
    net.mail.pop(bob.device)
    before = bob.store.to_bytes()
    for name, content in _mutations(good.content).items():
        bad = group_message.message_rumor(alice.device.pubkey, content, 5)
        net.mail[bob.device].append(Mail(alice.device.pubkey, rumor=bad))
        lines, warnings = net.read(bob)
        assert lines == [], name
        (warning,) = warnings
        expected = {
            "ciphertext": "failed authentication|signature does not verify",
            "signature": "signature does not verify",
            "truncated": "signature does not verify",
            "very short": "too short",
            "version": "unknown group message version 0x34",
            "not base64": "not base64",
        }[name]
        assert any(part in warning for part in expected.split("|")), (name, warning)
        assert bob.store.to_bytes() == before, name
    rumor = group_message.message_rumor(alice.device.pubkey, good.content, 6)
    net.mail[bob.device].append(Mail(alice.device.pubkey, rumor=rumor))
    assert net.read(bob) == (["real"], [])


def test_unknown_control_versions() -> None:
    with pytest.raises(GroupChatError, match="unknown group control version 2"):
        parse_controls('{"v":2,"controls":[]}')
    with pytest.raises(GroupChatError, match="unknown type 'promote'"):
        parse_controls('{"v":1,"controls":[{"type":"promote","group":"' + "ab" * 32 + '"}]}')


def _deliver_raw(net: Net, sender: Phone, payload: bytes) -> None:
    """Encrypt any payload with the sender's real chain, as a modified client could."""
    encrypted = sender.group().state.encrypt(payload)
    recipients = tuple(sorted({d.pubkey for d in sender.group().recipients()}))
    content = group_message.message_content(encrypted)
    net.send(sender, [], [Broadcast(sender.group().group_id, recipients, content)])


def _restamped(message: FrankedGroupMessage, recipient: str, sender: str) -> FrankedGroupMessage:
    at = message.stamp.timestamp
    stamp = node_stamp(NODE, message.commitment, sender, recipient, bytes, at)
    return dataclasses.replace(message, stamp=stamp)


def test_messages_whose_franking_does_not_check_are_dropped() -> None:
    net, (alice, bob, carol) = start(3)
    mallory_node = SecretKey(hashlib.sha256(b"made-up node").digest())

    def altered() -> bytes:
        message = net.franked(alice, "what the node stamped")
        shown = dataclasses.replace(message.plaintext, message=b"what Bob would see")
        return dataclasses.replace(message, plaintext=shown).encode()

    def without_bob() -> bytes:
        message = net.franked(alice, "not for bob")
        audience = Audience(message.audience.key, (carol.device.pubkey,))
        return _restamped(
            dataclasses.replace(message, audience=audience),
            audience.digest(),
            alice.device.pubkey,
        ).encode()

    def other_audience() -> bytes:
        message = net.franked(alice, "stamped for another audience")
        return _restamped(message, person(42), alice.device.pubkey).encode()

    def other_sender() -> bytes:
        message = net.franked(alice, "stamped for carol")
        return _restamped(message, message.audience.digest(), carol.device.pubkey).encode()

    cases = {
        "altered": (altered, "commitment does not open"),
        "untrusted-node": (
            lambda: net.franked(alice, "self-stamped", node=mallory_node).encode(),
            "which you do not trust",
        ),
        "audience-without-me": (without_bob, "does not include you"),
        "stamp-for-other-audience": (other_audience, "another recipient"),
        "stamp-for-other-sender": (other_sender, "another sender"),
        "unfranked": (lambda: b'{"v":1,"text":"old client"}', "not franked"),
        "future": (lambda: b'{"v":7,"text":"x"}', "unknown group message payload version 7"),
        "junk": (lambda: b"\xff", "not a franked group message payload"),
    }
    history = list(bob.store.history)
    for name, (make, needle) in cases.items():
        _deliver_raw(net, alice, make())
        lines, warnings = net.read(bob)
        assert lines == [], name
        (warning,) = warnings
        assert warning.startswith(f"dropped a message from {_npub(alice)} in 'friends': ")
        assert needle in warning, (name, warning)
        assert bob.store.history == history and bob.store.inbox == [], name
    net.say(alice, "an honest one")
    assert net.read(bob) == (["an honest one"], [])
    assert net.read(carol)[0][-1] == "an honest one"


def test_history_keeps_sent_and_shown_messages_with_their_audience() -> None:
    net, (alice, bob, carol) = start(3)
    broadcast = net.say(alice, "keep me")
    assert broadcast.recipients == tuple(sorted([bob.device.pubkey, carol.device.pubkey]))
    net.read(bob)
    (sent,) = alice.store.history
    (shown,) = bob.store.history
    assert sent == shown and shown.sender == alice.device.pubkey and len(shown.message.id) == 64
    audience = shown.message.audience
    assert set(audience.members) == {bob.device.pubkey, carol.device.pubkey}
    proof = audience.proof(bob.device.pubkey)
    assert proof.digest_for(bob.device.pubkey) == shown.message.stamp.recipient
    assert proof.digest_for(carol.device.pubkey) != shown.message.stamp.recipient
    restored = GroupStore.from_bytes(bob.store.to_bytes(), bob.random.randbytes)
    assert restored.history == bob.store.history
    for _ in range(MAX_HISTORY + 5):
        restored.keep(shown)
    assert len(restored.history) == MAX_HISTORY
    # A store written before the history existed (version 1) still opens, with none.
    old = json.loads(bob.store.to_bytes())
    del old["history"]
    old["v"] = 1
    assert GroupStore.from_bytes(json.dumps(old).encode(), bob.random.randbytes).history == []


def test_a_message_must_be_addressed_to_the_current_members() -> None:
    net, (alice, _, carol) = start(3)
    message = net.franked(alice, "x")
    net.send(alice, group_chat.remove(alice.group(), alice.device, carol.device.pubkey))
    with pytest.raises(GroupChatError, match="not addressed to the members"):
        group_chat.encrypt(alice.store, alice.group(), message)


def test_sealing_for_a_non_member_and_messages_from_elsewhere() -> None:
    net, (alice, bob, _) = start(3)
    broadcast = net.say(alice, "x")
    with pytest.raises(GroupChatError, match="sealed by someone other"):
        group_chat.accept_message(bob.store, bob.device, person(9), "id", 1, broadcast.content)
    stranger = phone(9)
    with pytest.raises(GroupChatError, match="not in"):
        group_chat.accept_message(
            stranger.store, stranger.device, alice.device.pubkey, "id", 1, broadcast.content
        )


def test_store_round_trip_keeps_groups_keys_and_waiting() -> None:
    net, (alice, bob, _) = start(3)
    net.say(alice, "kept waiting")
    dave = phone(3)
    net.join(dave)
    net.send(alice, group_chat.add(alice.group(), alice.device, [dave.device]))
    net.read(dave)
    restored = GroupStore.from_bytes(dave.store.to_bytes(), dave.random.randbytes)
    assert restored.to_bytes() == dave.store.to_bytes()
    dave.store = restored
    net.read(bob)  # Bob shares his key with Dave
    net.say(bob, "after restore")
    assert net.read(dave)[0] == ["after restore"]
    with pytest.raises(StateError):
        GroupStore.from_bytes(b'{"v":2}', random.Random(1).randbytes)
    data = bob.store.to_bytes()
    with pytest.raises(StateError):
        GroupStore.from_bytes(data.replace(b'"seq":', b'"seq":"x",', 1), random.Random(1).randbytes)


def test_find_by_name_or_id_and_ambiguity() -> None:
    alice = phone(0)
    first, _ = group_chat.create(alice.store, alice.device, "same", [], alice.random.randbytes)
    assert alice.store.find("same") is first
    second, _ = group_chat.create(alice.store, alice.device, "same", [], alice.random.randbytes)
    with pytest.raises(GroupChatError, match="several groups"):
        alice.store.find("same")
    assert alice.store.find(second.group_id.hex()[:8]) is second
    with pytest.raises(GroupChatError, match="no group called"):
        alice.store.find("other")


def test_key_share_round_trip_and_group_binding() -> None:
    alice = phone(0)
    chat, _ = group_chat.create(
        alice.store, alice.device, "g", [phone(1).device], alice.random.randbytes
    )
    share = KeyShare(chat.group_id, chat.state.distribution())
    (parsed,) = parse_controls(encode_controls([share]))
    assert parsed == share
    wrong = encode_controls([share]).replace(chat.group_id.hex(), "00" * 32)
    with pytest.raises(GroupChatError, match="another group"):
        parse_controls(wrong)
    welcome = group_chat.create(
        alice.store, alice.device, "h", [phone(1).device], alice.random.randbytes
    )[1][0]
    assert isinstance(welcome.controls[0], Welcome)
    assert parse_controls(encode_controls(welcome.controls)) == welcome.controls


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 2**33) | st.text(max_size=70),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
FIELDS = ["type", "group", "name", "admin", "seq", "epoch", "members", "op", "key"]
CONTROL = st.dictionaries(
    st.sampled_from(FIELDS),
    JSON
    | st.sampled_from(
        ["welcome", "change", "removed", "sender-key", "add", "ab" * 32, ["ab" * 32, "phone"]]
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=300)
    | st.lists(CONTROL, max_size=3).map(lambda controls: json.dumps({"v": 1, "controls": controls}))
)
def test_junk_controls_raise_only_our_errors(text: str) -> None:
    with contextlib.suppress(GroupChatError):
        for control in parse_controls(text):
            assert parse_controls(encode_controls([control])) == (control,)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_junk_group_messages_raise_only_our_errors(data: bytes) -> None:
    import base64

    try:
        message = group_message.parse_message_content(base64.b64encode(data).decode())
    except GroupChatError:
        return
    assert isinstance(message, GroupMessage)

"""One client connection as a sans-IO state machine: frames in, frames and commands out.

The server feeds `receive` with every websocket message and carries out what it returns: frames to
send, events to publish through the accept pipeline, queries and counts to run against the store.
It reports the outcomes back (`published`, `query_done`, `counted`) and offers every newly accepted
event to `live`. Nothing here touches a socket, a database or a clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from koinon.core import kinds
from koinon.core.event import Event, verify_event
from koinon.core.filters import Filter
from koinon.errors import Reason, Rejected, invalid
from koinon.relay import frames
from koinon.settings import Limits

AUTH_WINDOW_SECONDS = 600


@dataclass(frozen=True, slots=True)
class Send:
    """Send this frame to the client."""

    frame: bytes


@dataclass(frozen=True, slots=True)
class Publish:
    """Run the event through the accept pipeline, then call `Session.published`."""

    event: Event


@dataclass(frozen=True, slots=True)
class Query:
    """Query the store, then call `Session.query_done` with the generation given here."""

    sub_id: str
    generation: int
    filters: tuple[Filter, ...]
    readers: frozenset[str] = frozenset()  # gift wraps are served only to these recipients


@dataclass(frozen=True, slots=True)
class Count:
    """Count matching events, then call `Session.counted`."""

    sub_id: str
    filters: tuple[Filter, ...]
    readers: frozenset[str] = frozenset()


Command = Send | Publish | Query | Count


@dataclass
class _Subscription:
    filters: tuple[Filter, ...]
    generation: int
    # Live events that arrived while the stored ones were being fetched; None once EOSE is sent.
    pending: list[tuple[str, bytes]] | None = field(default_factory=list)


class TokenBucket:
    """Allows `rate` events per second on average with bursts up to `burst` (rate 0: no limit)."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)
        self.updated = now

    def take(self, now: float) -> bool:
        """Spend one token if there is one."""
        if self.rate <= 0:
            return True
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


def _same_relay(claimed: str, ours: str) -> bool:
    try:
        a, b = urlsplit(claimed.strip().rstrip("/")), urlsplit(ours.rstrip("/"))
        return a.scheme in ("ws", "wss") and (a.hostname, a.port) == (b.hostname, b.port)
    except ValueError:  # a port that is not a number, an unclosed IPv6 bracket, ...
        return False


def _size(data: str | bytes) -> int:
    """Bytes on the wire: text frames count in UTF-8, measured only when it could matter."""
    return len(data.encode("utf-8", "surrogatepass")) if isinstance(data, str) else len(data)


class Session:
    """Protocol state of one connection."""

    def __init__(self, limits: Limits, relay_url: str, challenge: str, now: float) -> None:
        self.limits = limits
        self.relay_url = relay_url
        self.challenge = challenge
        self.authenticated: set[str] = set()
        self.subscriptions: dict[str, _Subscription] = {}
        self._generation = 0
        self._bucket = TokenBucket(limits.events_per_second, limits.event_burst, now)
        self._frame_limits = frames.FrameLimits(
            limits.max_subid_length, limits.max_filters, limits.max_filter_values
        )

    def start(self) -> list[Command]:
        """What to send as soon as the connection opens: the NIP-42 challenge."""
        return [Send(frames.auth_challenge(self.challenge))]

    # -- client frames ---------------------------------------------------------------------

    def receive(self, data: str | bytes, now: float) -> list[Command]:
        """Handle one websocket message received at time `now` (Unix seconds)."""
        try:
            frame = frames.decode(data, self._frame_limits)
        except frames.FrameError as error:
            return [Send(self._answer_error(error))]
        limit = self.limits.max_message_bytes
        if len(data) > limit or (len(data) * 4 > limit and _size(data) > limit):
            too_big = invalid(f"message larger than {limit} bytes")
            if isinstance(frame, frames.EventFrame | frames.AuthFrame):
                return [Send(frames.ok(frame.event.id, False, too_big.wire))]
            if isinstance(frame, frames.ReqFrame | frames.CountFrame):
                return [Send(frames.closed(frame.sub_id, too_big.wire))]
            return [Send(frames.notice(too_big.wire))]
        if isinstance(frame, frames.EventFrame):
            return self._on_event(frame.event, now)
        if isinstance(frame, frames.ReqFrame):
            return self._on_req(frame)
        if isinstance(frame, frames.CountFrame):
            return self._on_count(frame)
        if isinstance(frame, frames.CloseFrame):
            self.subscriptions.pop(frame.sub_id, None)
            return []
        return [Send(self._on_auth(frame.event, now))]

    def _answer_error(self, error: frames.FrameError) -> bytes:
        if error.event_id is not None:
            return frames.ok(error.event_id, False, error.wire)
        if error.sub_id is not None:
            return frames.closed(error.sub_id, error.wire)
        return frames.notice(error.wire)

    def _on_event(self, event: Event, now: float) -> list[Command]:
        if self.limits.auth_required_for_write and not self.authenticated:
            reply = "auth-required: authenticate to publish"
            return [Send(frames.ok(event.id, False, reply))]
        if not self._bucket.take(now):
            reply = Rejected(Reason.RATE_LIMITED, "slow down: too many events").wire
            return [Send(frames.ok(event.id, False, reply))]
        return [Publish(event)]

    def _on_req(self, frame: frames.ReqFrame) -> list[Command]:
        if self.limits.auth_required_for_read and not self.authenticated:
            return [Send(frames.closed(frame.sub_id, "auth-required: authenticate to read"))]
        if (
            frame.sub_id not in self.subscriptions
            and len(self.subscriptions) >= self.limits.max_subscriptions
        ):
            reply = (
                f"rate-limited: too many open subscriptions (max {self.limits.max_subscriptions})"
            )
            return [Send(frames.closed(frame.sub_id, reply))]
        refused = self._gift_wrap_access(frame.filters)
        if refused:
            self.subscriptions.pop(frame.sub_id, None)
            return [Send(frames.closed(frame.sub_id, refused))]
        self._generation += 1
        self.subscriptions[frame.sub_id] = _Subscription(frame.filters, self._generation)
        readers = frozenset(self.authenticated)
        return [Query(frame.sub_id, self._generation, frame.filters, readers)]

    def _on_count(self, frame: frames.CountFrame) -> list[Command]:
        if self.limits.auth_required_for_read and not self.authenticated:
            return [Send(frames.closed(frame.sub_id, "auth-required: authenticate to read"))]
        refused = self._gift_wrap_access(frame.filters)
        if refused:
            return [Send(frames.closed(frame.sub_id, refused))]
        return [Count(frame.sub_id, frame.filters, frozenset(self.authenticated))]

    def _gift_wrap_access(self, filters: tuple[Filter, ...]) -> str | None:
        """Why a request for gift wraps is refused: only their authenticated recipient may read
        them. Requests that merely could match wraps are served with the wraps left out."""
        for flt in filters:
            if flt.kinds is None or kinds.GIFT_WRAP not in flt.kinds:
                continue
            if not self.authenticated:
                return "auth-required: gift wraps are served only to their recipient"
            recipients = dict(flt.tags).get("p")
            if recipients is None or not recipients <= self.authenticated:
                return "restricted: ask for gift wraps with #p naming only your own keys"
        return None

    def _on_auth(self, event: Event, now: float) -> bytes:
        try:
            verify_event(event)
            if event.kind != kinds.CLIENT_AUTH:
                raise invalid(f"AUTH event must be kind {kinds.CLIENT_AUTH}")
            if event.first_tag("challenge") != self.challenge:
                raise invalid("challenge does not match")
            relay = event.first_tag("relay")
            if relay is None or not _same_relay(relay, self.relay_url):
                raise invalid("relay tag does not name this relay")
            if abs(event.created_at - now) > AUTH_WINDOW_SECONDS:
                raise invalid("AUTH event is too old or too far in the future")
        except Rejected as rejected:
            return frames.ok(event.id, False, rejected.wire)
        self.authenticated.add(event.pubkey)
        return frames.ok(event.id, True, "")

    # -- outcomes reported by the server ---------------------------------------------------

    def published(self, event_id: str, error: Rejected | None) -> bytes:
        """The OK frame for a publish outcome (None: durably stored or fanned out)."""
        if error is None:
            return frames.ok(event_id, True, "")
        accepted = error.reason is Reason.DUPLICATE and error.message == "already have this event"
        return frames.ok(event_id, accepted, error.wire)

    def query_done(self, sub_id: str, generation: int, stored: list[bytes]) -> list[bytes]:
        """Frames for a finished query: stored events, EOSE, then live ones that came meanwhile."""
        sub = self.subscriptions.get(sub_id)
        if sub is None or sub.generation != generation:
            return []
        out = [frames.event(sub_id, json) for json in stored]
        out.append(frames.eose(sub_id))
        pending, sub.pending = sub.pending or [], None
        if pending:
            sent = set(stored)
            out += [frames.event(sub_id, json) for _, json in pending if json not in sent]
        return out

    def query_failed(self, sub_id: str, generation: int, error: Rejected) -> list[bytes]:
        """The subscription could not be served: close it with the reason."""
        sub = self.subscriptions.get(sub_id)
        if sub is None or sub.generation != generation:
            return []
        del self.subscriptions[sub_id]
        return [frames.closed(sub_id, error.wire)]

    def counted(self, sub_id: str, value: int) -> bytes:
        """The COUNT reply."""
        return frames.count(sub_id, value)

    def live(self, event: Event, event_json: bytes) -> list[bytes]:
        """Frames delivering a newly accepted event to this client's matching subscriptions."""
        out: list[bytes] = []
        if event.kind == kinds.GIFT_WRAP and self.authenticated.isdisjoint(event.tag_values("p")):
            return out
        for sub_id, sub in self.subscriptions.items():
            if any(f.matches(event) for f in sub.filters):
                if sub.pending is not None:
                    sub.pending.append((event.id, event_json))
                else:
                    out.append(frames.event(sub_id, event_json))
        return out

"""Prekey bundles on the relay (kind 30448): fetch each device's newest, publish this device's.

`koinon dm` and `koinon group` share one DM device per home, so both publish and replenish its
bundle here.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable

from koinon.cli.client import RelayClient, RelayError
from koinon.cli.dmstore import State
from koinon.core.event import parse_event, sign_event
from koinon.core.keys import SecretKey
from koinon.errors import KoinonError
from koinon.messaging import dm
from koinon.sessions.errors import BundleError
from koinon.sessions.prekeys import PrekeyBundle

ONE_TIME_PREKEYS = 20


async def fetch_bundles(
    client: RelayClient, pubkeys: Iterable[str]
) -> dict[str, dict[str, PrekeyBundle]]:
    """The newest prekey bundle of each device of each person, by pubkey and device id."""
    authors = sorted(set(pubkeys))
    latest: dict[tuple[str, str], tuple[int, PrekeyBundle]] = {}
    if authors:
        found = await client.query([{"kinds": [dm.BUNDLE_KIND], "authors": authors}], "bundles")
        for raw in found:
            try:
                event = parse_event(raw)
                device, bundle = dm.parse_bundle_event(event)
            except KoinonError:
                continue
            held = latest.get((event.pubkey, device))
            if event.pubkey in authors and (held is None or held[0] < event.created_at):
                latest[(event.pubkey, device)] = (event.created_at, bundle)
    result: dict[str, dict[str, PrekeyBundle]] = {}
    for (pubkey, device), (_, bundle) in sorted(latest.items()):
        result.setdefault(pubkey, {})[device] = bundle
    return result


async def publish_bundle(client: RelayClient, key: SecretKey, state: State) -> None:
    """Sign and publish this device's bundle, newer than the last; the caller saves `state`."""
    bundle = state.device.bundle(key.raw, os.urandom)
    kind, content, tags = dm.bundle_event_template(state.device.device_id, bundle)
    state.bundle_at = max(int(time.time()), state.bundle_at + 1)
    event = sign_event(
        key.raw,
        kind=kind,
        content=content,
        tags=tags,
        created_at=state.bundle_at,
        aux_rand=os.urandom(32),
    )
    result = await client.publish(event)
    if not result.accepted:
        raise RelayError(f"relay refused the prekey bundle: {result.message}")
    state.device.bundle_published(bundle, state.bundle_at)  # starts consumed keys' grace


def bundle_stale(state: State, one_time_before: int, now: int) -> bool:
    """Whether the bundle needs republishing: one-time prekeys consumed since `one_time_before`
    was counted, or a signed prekey rotation due at `now`."""
    return len(state.device.one_time) < one_time_before or state.device.rotation_due(now)


async def replenish_prekeys(
    client: RelayClient, key: SecretKey, state: State, save: Callable[[], None], now: int
) -> list[str]:
    """Replace consumed one-time prekeys, rotate the signed prekey if due at `now`, and
    republish the bundle; the warnings.

    The new prekeys are saved before the bundle naming them is published, so none is lost; the
    old signed prekey is kept until `forget_signed_prekeys` finds its grace over.
    """
    state.device.top_up(ONE_TIME_PREKEYS, os.urandom)
    state.device.rotate_signed_prekey(now, os.urandom)
    save()
    try:
        await publish_bundle(client, key, state)
    except (RelayError, BundleError) as exc:
        return [f"could not republish the prekey bundle: {exc}"]
    finally:
        save()
    return []

"""Serve the Rust relay from the `nostr-sdk` wheel (nostr-relay-builder's LocalRelay) on 127.0.0.1.

Runs inside `.venv-bench`, never the project's venv. The ingest benchmark starts it as
`.venv-bench/bin/python benchmarks/localrelay_server.py --port P --db lmdb --data-dir D`.
It prints the relay URL once listening and stops on SIGTERM or SIGINT.

Storage: `--db lmdb` opens `NostrLmdb` in D (events on disk); `--db memory` keeps the builder's
default in-memory database, which evicts the oldest events beyond 75,000.
The builder's default rate limit (60 events per minute per connection) is lifted, because the
benchmark measures the relay, not its throttle.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from nostr_sdk import LocalRelayBuilder, NostrLmdb, RateLimit, uniffi_set_event_loop

_U32_MAX = 2**32 - 1


async def serve(host: str, port: int, database: str, data_dir: str) -> None:
    """Build the relay, announce its URL, and run until signalled."""
    builder = LocalRelayBuilder().addr(host).port(port)
    builder = builder.rate_limit(RateLimit(max_reqs=10_000, notes_per_minute=_U32_MAX))
    if database == "lmdb":
        # The binding hands a Python-side database to Rust as a callback object; Rust calls it from
        # its own threads, so the callbacks must be told which event loop to run on.
        uniffi_set_event_loop(asyncio.get_running_loop())
        lmdb = await NostrLmdb.open(data_dir)
        builder = builder.database(lmdb)
    relay = builder.build()
    await relay.run()
    print(f"LocalRelay listening on {await relay.url()} (database: {database})", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    relay.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", choices=("lmdb", "memory"), default="lmdb")
    parser.add_argument("--data-dir", default="localrelay-lmdb")
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port, args.db, args.data_dir))


if __name__ == "__main__":
    main()

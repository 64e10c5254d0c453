"""Errors of the chain adapter, and the one place where web3/eth-tester/HTTP errors become them."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import eth_tester.exceptions as tester
import requests
from eth.exceptions import PyEVMError
from eth_utils.exceptions import ValidationError as EthValidationError
from web3.exceptions import ContractLogicError, TimeExhausted, Web3Exception

from koinon.errors import KoinonError

_REVERT_PREFIX = "execution reverted: "
_UNREACHABLE = (requests.ConnectionError, requests.Timeout, requests.HTTPError, TimeExhausted)
_FAILED = (
    Web3Exception,
    requests.RequestException,
    PyEVMError,
    EthValidationError,
    tester.ValidationError,
    tester.BlockNotFound,
    tester.TransactionNotFound,
    sqlite3.Error,
)


class ChainError(KoinonError):
    """The chain or the registry contract did not do what was asked (not worth retrying as is)."""


class ChainUnavailable(ChainError):
    """The chain could not be reached or did not answer in time; the same call may be retried.

    After a timeout an `anchor` transaction may still have been mined: read `latest()` before
    sending it again, or the retry is refused with "size must grow".
    """


class ContractRejected(ChainError):
    """A contract refused a call (its dry run reverted); `reason` is the revert message."""

    def __init__(self, action: str, reason: str) -> None:
        super().__init__(f"{action} rejected: {reason}")
        self.action = action
        self.reason = reason


class AnchorRejected(ContractRejected):
    """The registry refused an anchor; `reason` is the contract's revert message."""

    def __init__(self, reason: str) -> None:
        super().__init__("anchor", reason)


class RewardsRejected(ContractRejected):
    """A rewards contract refused a call: `action` ("claim", "bond", …) and the revert `reason`.

    The reasons are the contracts' own messages, listed in docs/chain.md ("already claimed",
    "bad proof", "epoch not finalized", "insufficient balance", …).
    """


def revert_reason(exc: BaseException) -> str:
    """The contract's revert message without the node's "execution reverted: " prefix."""
    message = getattr(exc, "message", None) or (exc.args[0] if exc.args else "")
    text = str(message)
    return text.removeprefix(_REVERT_PREFIX).strip() or "reverted"


class AnchorNotFound(ChainError, LookupError):
    """The operator has no anchor at the index asked for."""


@contextmanager
def translated(
    action: str, *, rejected: Callable[[str], ContractRejected] | None = None
) -> Iterator[None]:
    """Turn the foreign errors raised while doing `action` into `ChainError`s.

    With `rejected`, a contract revert is the contract refusing the call: `rejected(reason)` is
    raised (e.g. `AnchorRejected`); otherwise it is unexpected and reported as a `ChainError`.
    """
    try:
        yield
    except KoinonError:
        raise
    except (ContractLogicError, tester.TransactionFailed) as exc:
        reason = revert_reason(exc)
        if rejected is not None:
            raise rejected(reason) from exc
        raise ChainError(f"{action}: reverted: {reason}") from exc
    except (*_UNREACHABLE, ConnectionError) as exc:
        raise ChainUnavailable(f"{action}: chain unreachable ({type(exc).__name__})") from exc
    except _FAILED as exc:
        raise ChainError(f"{action}: {type(exc).__name__}: {exc}") from exc


@contextmanager
def unreachable_translated(action: str) -> Iterator[None]:
    """Turn only "the chain cannot be reached" into `ChainUnavailable`; the rest passes through."""
    try:
        yield
    except (*_UNREACHABLE, ConnectionError) as exc:
        raise ChainUnavailable(f"{action}: chain unreachable ({type(exc).__name__})") from exc

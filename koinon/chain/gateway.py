"""JSON-RPC answers from the node's own chain, for `/chain/rpc` (see koinon/api/chain.py).

web3 hands back Python values (ints, bytes, camelCase dicts) whichever backend it talks to; this
module turns them back into JSON-RPC encoding (hex quantities and data) so that any wallet or
web3 library can use a chain that lives inside the node. Contract reverts keep their reason and
data, as a JSON-RPC node reports them (code 3), so callers decode them the usual way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import eth_tester.exceptions as tester
from web3.exceptions import ContractLogicError, Web3Exception

from koinon.chain.errors import ChainUnavailable

# Standard methods a wallet needs: reads, fee data, and sending transactions signed by the caller.
ALLOWED_METHODS = frozenset(
    {
        "eth_blockNumber",
        "eth_call",
        "eth_chainId",
        "eth_estimateGas",
        "eth_feeHistory",
        "eth_gasPrice",
        "eth_getBalance",
        "eth_getBlockByNumber",
        "eth_getCode",
        "eth_getTransactionByHash",
        "eth_getTransactionCount",
        "eth_getTransactionReceipt",
        "eth_maxPriorityFeePerGas",
        "eth_sendRawTransaction",
        "net_version",
    }
)
PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, SERVER_ERROR, REVERTED = (
    -32700,
    -32600,
    -32601,
    -32000,
    3,
)
_BLOOM_BYTES = 256

Request = Callable[[str, list[Any]], Any]


def error_body(call_id: object, code: int, message: str, data: str | None = None) -> dict[str, Any]:
    """A JSON-RPC 2.0 error response."""
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return {"jsonrpc": "2.0", "id": call_id, "error": error}


def encode(value: Any, key: str = "") -> Any:
    """`value` in JSON-RPC encoding: ints as hex quantities, bytes as hex data."""
    if isinstance(value, bool) or value is None or isinstance(value, str | float):
        return value
    if isinstance(value, int):
        if key == "logsBloom":
            return "0x" + value.to_bytes(_BLOOM_BYTES, "big").hex()
        return hex(value)
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    if isinstance(value, Mapping):
        return {str(k): encode(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode(item) for item in value]
    raise TypeError(f"cannot encode {type(value).__name__} for JSON-RPC")


def answer(request: Request, call: object) -> dict[str, Any]:
    """The JSON-RPC response to `call` (one request object), made with `request(method, params)`.

    Raises `ChainUnavailable` when the chain cannot be reached; every other failure becomes a
    JSON-RPC error in the response.
    """
    if not isinstance(call, dict) or call.get("jsonrpc") != "2.0":
        return error_body(None, INVALID_REQUEST, "expected one JSON-RPC 2.0 request object")
    call_id = call.get("id")
    method, params = call.get("method"), call.get("params", [])
    if not isinstance(method, str) or not isinstance(params, list):
        return error_body(call_id, INVALID_REQUEST, "method must be a string and params a list")
    if method not in ALLOWED_METHODS:
        return error_body(call_id, METHOD_NOT_FOUND, f"method {method} is not offered here")
    try:
        result = request(method, params)
    except ChainUnavailable:
        raise
    except ContractLogicError as exc:
        message = str(exc.message or "execution reverted")
        data = exc.data if isinstance(exc.data, str) else None
        return error_body(call_id, REVERTED, message, data)
    except tester.TransactionFailed as exc:
        reason = str(exc.args[0]) if exc.args else "reverted"
        return error_body(call_id, REVERTED, f"execution reverted: {reason}")
    except (Web3Exception, tester.ValidationError, ValueError, TypeError, KeyError) as exc:
        return error_body(call_id, SERVER_ERROR, f"{method} failed: {_summary(exc)}")
    return {"jsonrpc": "2.0", "id": call_id, "result": encode(result)}


def _summary(exc: BaseException) -> str:
    """One line about a refused call (the caller's own input: a bad nonce, fee, or parameter)."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:300]

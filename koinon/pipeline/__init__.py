"""The one write path: verify → admit → commit → fan out. Websocket, HTTP and sync all use it."""

from koinon.pipeline.accept import AcceptPipeline, Done, Listener
from koinon.pipeline.signatures import SignatureChecker

__all__ = ["AcceptPipeline", "Done", "Listener", "SignatureChecker"]

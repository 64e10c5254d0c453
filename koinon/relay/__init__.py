"""The relay: a sans-IO session state machine, the accept pipeline's fan-out, and the server."""

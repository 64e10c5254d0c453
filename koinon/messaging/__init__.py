"""Private messages: NIP-44 v2 encryption, NIP-59 gift wraps and NIP-17 direct messages."""

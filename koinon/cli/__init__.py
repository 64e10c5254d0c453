"""The `koinon` command line: run a node, manage keys, publish and read."""

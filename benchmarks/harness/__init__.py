"""Load-generation harness shared by the benchmarks in this folder (not part of the koinon package)."""

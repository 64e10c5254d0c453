"""Load-generation harness shared by the benchmarks here (not part of the koinon package)."""

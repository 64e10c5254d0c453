"""Simulation: one generated event log settled by Koinon, Hive-current and Steem-HF21."""

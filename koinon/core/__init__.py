"""The pure core: events, keys, encodings and filters. No I/O, no clocks, no global randomness."""

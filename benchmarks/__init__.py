"""On-demand benchmarks (``make bench``); each module writes ``benchmarks/results/<name>.json``."""

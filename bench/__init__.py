"""Benchmarks of the hub against its peers (printed and written to bench/results/, never asserted).

`siapp-siasn bench` (or `make bench`) runs `bench.suite`; each measured system runs in its own
child process (`bench.peer_ours`, `bench.peer_dlt`, `bench.peer_naive`, `bench.dag_parse`).
"""

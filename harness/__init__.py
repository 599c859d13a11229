"""What the tests and the benchmarks share, in one place: the app as real processes
(processes, redis_server, stack), clients that talk to those processes and checks
on what they received (clients, checks), and helpers for the socket tests that run
the app in the test's own process (sockets, permissions).

Nothing here is a test; nothing here imports `tests`.
"""

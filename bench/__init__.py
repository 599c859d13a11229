"""Benchmarks (issue 7): our app against the Channels-tutorial setup and a Node peer."""

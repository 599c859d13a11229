"""The Channels-tutorial setup, mounted in this project for the benchmarks only."""

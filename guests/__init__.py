"""Sources and build scripts of the guests the tests and benchmarks boot."""

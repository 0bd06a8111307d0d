"""The measurements behind ``tools/analysis/``: each module parses its
tool's arguments and returns the tool's result as a dict, which the tool
prints or writes and tests (and ``benchmarks/``) read directly."""

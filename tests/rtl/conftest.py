"""The RTL tests run in the RTL environment only (``tox -e rtl``: da4ml, Verilator, yosys); elsewhere (the main
``tests`` environment, numpy < 2, no da4ml) this directory is not collected."""

import importlib.util

collect_ignore_glob = [] if importlib.util.find_spec("da4ml") is not None else ["*.py"]

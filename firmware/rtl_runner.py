"""The main environment's side of the RTL path: hand a network to the RTL environment and read its report back.

da4ml needs numpy >= 2 and the main stack (TensorFlow 2.15) numpy < 2, so the RTL path runs in its own environment
(``tox -e rtl`` makes ``.tox/rtl``; tox exports its python as ``L1AD_RTL_PYTHON`` to every environment).
:func:`run_rtl` writes the network file and test vectors (with what the emulator computes for them here), runs
``python -m l1ad.firmware.rtl`` there as a subprocess with a time limit, and returns the validated ``rtl.json``.
Nothing here imports da4ml.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import numpy as np

from l1ad.config.parts import DEFAULT_PART
from l1ad.errors import L1adError, one_line
from l1ad.firmware.emulator import FixedPointNetwork
from l1ad.firmware.network import FixedNetwork
from l1ad.firmware.rtl_report import (
    DEFAULT_CLOCK_PERIOD_NS,
    VECTORS_FILE,
    RTLError,
    RTLReport,
    part,
    read_rtl_report,
    temporary_sibling,
    write_vectors,
)

RTL_PYTHON_VARIABLE = "L1AD_RTL_PYTHON"
MISMATCH_EXIT = 3  # l1ad.firmware.rtl's exit status when it wrote the report but the RTL disagrees with the emulator
DEFAULT_TIMEOUT_S = 3600.0


def rtl_python() -> Path:
    """The RTL environment's python, from ``L1AD_RTL_PYTHON``; a one-line error if it is unset or missing."""
    value = os.environ.get(RTL_PYTHON_VARIABLE)
    how = "create it with 'python3.11 -m tox -e rtl' (tox sets L1AD_RTL_PYTHON to .tox/rtl/bin/python)"
    if not value:
        raise RTLError(f"no RTL environment: {RTL_PYTHON_VARIABLE} is not set; {how}")
    path = Path(value)
    if not path.is_file() or not os.access(path, os.X_OK):
        raise RTLError(f"no RTL environment: {RTL_PYTHON_VARIABLE}={value} is not an executable file; {how}")
    return path


def run_rtl(network: FixedNetwork, inputs: np.ndarray, directory: Path, *,
            clock_period_ns: float = DEFAULT_CLOCK_PERIOD_NS, part: str = DEFAULT_PART,
            timeout_s: float = DEFAULT_TIMEOUT_S, extra_args: tuple[str, ...] = ()) -> RTLReport:
    """Build, simulate (against the emulator) and synthesize ``network`` in the RTL environment, into ``directory``.

    ``inputs`` are the network's input values (events x values), e.g. ``network_inputs.h5``; at least 10k events
    make the agreement figure meaningful. ``directory`` is replaced only when the run succeeded. The returned report
    states the agreement; it is not an error for the RTL to disagree (``agreement.mismatching_events`` says so).

    Raises
    ------
    RTLError
        Missing RTL environment, an unsupported layer, a failed Verilator or yosys run, a time-out: one line naming
        the model and the layer or tool.
    """
    model = network.model
    python = rtl_python()
    part_name = _part_name(part)
    directory = Path(directory)
    try:
        emulator = FixedPointNetwork(network)
        outputs = emulator.predict(inputs)
        score = emulator.score(inputs) if network.score is not None else None
    except L1adError as exc:
        raise RTLError(f"{model}: {exc}" if model not in str(exc) else str(exc)) from None
    staging = temporary_sibling(directory, "inputs")
    try:
        network_path = network.write(staging / "network.json")
        vectors_path = staging / VECTORS_FILE
        write_vectors(vectors_path, np.asarray(inputs, dtype=np.float64).reshape(len(outputs), -1), outputs, score)
        command = [str(python), "-m", "l1ad.firmware.rtl", str(network_path), str(vectors_path), str(directory),
                   "--clock-period-ns", repr(float(clock_period_ns)), "--part", part_name, "-q", *extra_args]
        code, stderr = _run(command, model, directory, timeout_s)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if code not in (0, MISMATCH_EXIT):
        lines = [line for line in stderr.splitlines() if line.strip()]
        message = lines[-1] if lines else "no message"
        if message.startswith("l1ad: error: "):
            message = message[len("l1ad: error: "):]
            raise RTLError(message if model in message else f"{model}: {message}")
        raise RTLError(f"{model}: the RTL path failed (exit {code}: {one_line(message)[:200]})")
    return read_rtl_report(directory)


def _part_name(name: str) -> str:
    return part(name).name


def _run(command: list[str], model: str, directory: Path, timeout_s: float) -> tuple[int, str]:
    """Run the entry point in its own process group; on a time-out end that group (and only it)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}  # the other env's packages
    try:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                   start_new_session=True)
    except OSError as exc:
        raise RTLError(f"{model}: cannot start the RTL environment's python ({one_line(str(exc))[:200]})") from None
    try:
        _, stderr = process.communicate(timeout=timeout_s)
    except BaseException as exc:  # a time-out or an interrupt: the child's tools (make, verilator, yosys) go too
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.communicate()
        for leftover in directory.parent.glob(f".{directory.name}.rtl-{process.pid}-*"):
            shutil.rmtree(leftover, ignore_errors=True)
        if isinstance(exc, subprocess.TimeoutExpired):
            raise RTLError(f"{model}: the RTL path did not finish within {timeout_s:g} s") from None
        raise
    return process.returncode, stderr

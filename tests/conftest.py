"""Shared test set-up: Qt offscreen, the shared data folder, small seeded helpers, and
`--cpu-durations N` (the N tests that used the most CPU time, their child processes included: on
a machine shared with other work this is the steadier measure for deciding what is `slow`)."""
from __future__ import annotations

import os
import resource
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
_CPU_TIMES = pytest.StashKey[dict]()


def pytest_addoption(parser):
    parser.addoption("--cpu-durations", type=int, default=None, metavar="N",
                     help="show the N tests that used the most CPU seconds (this process and the "
                          "child processes it waited for)")


def pytest_configure(config):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    config.stash[_CPU_TIMES] = {}


def _cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    start = _cpu_seconds()
    yield
    item.config.stash[_CPU_TIMES][item.nodeid] = _cpu_seconds() - start


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    count = config.getoption("--cpu-durations")
    if not count:
        return
    all_times = config.stash[_CPU_TIMES]
    times = sorted(all_times.items(), key=lambda kv: -kv[1])[:count]
    terminalreporter.write_sep("=", f"{len(times)} tests using the most CPU (setup + call + teardown); "
                                    f"all {len(all_times)}: {sum(all_times.values()):.0f} s CPU")
    for nodeid, seconds in times:
        terminalreporter.write_line(f"{seconds:8.1f} s CPU  {nodeid}")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA

"""The one time budget (hermite_dual._util.deadline): counted work, any thread, the
caller's timers untouched, a BaseException nobody's ``except Exception`` can swallow."""

import signal
import sys
import threading

import pytest

import hermite_dual as hd
from hermite_dual._util.deadline import (Budget, BudgetExceeded, WallClockExceeded,
                                         WorkBudgetExceeded, from_seconds)


def _calls(n):
    def f(i):
        return i
    return [f(i) for i in range(n)]


def test_budget_exceptions_are_base_exceptions():
    assert issubclass(WorkBudgetExceeded, BaseException)
    assert not issubclass(WorkBudgetExceeded, Exception)
    with pytest.raises(WorkBudgetExceeded):
        with Budget(units=500):
            try:
                _calls(10_000)
            except Exception:   # a library's broad handler must not swallow it
                pytest.fail("swallowed")


def test_same_work_same_stop_point():
    spent = []
    for _ in range(3):
        b = Budget(units=50_000)
        try:
            with b:
                _calls(1_000_000)
        except WorkBudgetExceeded as exc:
            spent.append(exc.spent)
    assert len(set(spent)) == 1 and spent[0] == 50_000


def test_nested_budgets_and_reserve():
    outer = Budget(units=100_000)
    with outer:
        inner = outer.child(units=10**9)
        assert inner.units < outer.remaining        # a reserve stays with the parent
        with pytest.raises(WorkBudgetExceeded):
            with inner:
                _calls(10**6)
        _calls(100)                                 # the parent finishes its wrap-up
    assert inner.exhausted and not outer.exhausted


def test_wall_clock_only_stops():
    with pytest.raises(WallClockExceeded):
        with Budget(wall_seconds=0.01):
            _calls(10**8)


def test_tracer_removed_and_foreign_tracer_chained():
    seen = []

    def foreign(frame, event, arg):
        seen.append(event)
        return None

    sys.settrace(foreign)
    try:
        with Budget(units=10_000):
            _calls(10)
        assert sys.gettrace() is foreign
    finally:
        sys.settrace(None)
    assert "call" in seen
    with Budget(units=10_000):
        pass
    assert sys.gettrace() is None


def test_bad_budget():
    with pytest.raises(ValueError, match="-1"):
        Budget(units=-1)


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs setitimer")
def test_callers_timer_survives_check_conditions():
    """Regression: every old budget ended with setitimer(ITIMER_REAL, 0)."""
    old = signal.signal(signal.SIGALRM, lambda *a: None)
    try:
        signal.setitimer(signal.ITIMER_REAL, 500.0)
        signal.setitimer(signal.ITIMER_PROF, 500.0)
        hd.check_conditions("tanh")
        real, _ = signal.getitimer(signal.ITIMER_REAL)
        prof, _ = signal.getitimer(signal.ITIMER_PROF)
        assert 400 < real <= 500 and 400 < prof <= 500
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGALRM, old)


def test_exact_budget_holds_in_a_thread():
    """Regression: off the main thread the exact route used to run with no budget."""
    out = {}

    def run():
        try:
            hd.hermite_coefficients("erf(x)*exp(-x**2)", 40, method="exact", timeout=0.01)
            out["result"] = "finished"
        except ValueError as exc:
            out["result"] = str(exc)

    th = threading.Thread(target=run)
    th.start()
    th.join()
    assert "work budget" in out["result"]


_CHECK = ("import json, sys, hermite_dual as hd; "
          "r = hd.check_conditions(sys.argv[1], time_budget=float(sys.argv[2])).to_dict(); "
          "r.pop('elapsed_seconds'); print(json.dumps(r, sort_keys=True))")


def _verdict(spec, budget):
    import subprocess
    return subprocess.run([sys.executable, "-c", _CHECK, spec, str(budget)], check=True,
                          capture_output=True, text=True).stdout


def test_check_conditions_budget_is_counted_work():
    """A tiny budget stops at the same place in two fresh processes (same input, same
    answer; within one process sympy's cache can make a repeat call cheaper)."""
    a = _verdict("x/(1+exp(-1.702*x))", 0.2)
    assert a == _verdict("x/(1+exp(-1.702*x))", 0.2)
    assert '"undetermined"' in a


def test_certified_verdict_is_the_same_under_load():
    """Regression: beside three busy loops the swish verdict used to end 'undetermined'
    ("time budget after 16 box evaluations") where a quiet machine certified it."""
    import subprocess
    quiet = _verdict("x/(1+exp(-1.702*x))", 20)
    busy = [subprocess.Popen([sys.executable, "-c", "import time\nt=time.time()\n"
                              "while time.time() - t < 300: pass"]) for _ in range(3)]
    try:
        loaded = _verdict("x/(1+exp(-1.702*x))", 20)
    finally:
        for p in busy:
            p.kill()
            p.wait()
    assert '"admissible": true' in quiet
    assert loaded == quiet


def test_wall_clock_of_check_conditions_raises_timeout():
    with pytest.raises(TimeoutError, match="wall-clock"):
        hd.check_conditions("x/(1+exp(-1.702*x))", wall_clock=0.05)
    with pytest.raises(ValueError, match="wall_clock"):
        hd.check_conditions("tanh", wall_clock=-1)


def test_from_seconds_label():
    b = from_seconds(0.001, label="tiny")
    with pytest.raises(BudgetExceeded, match="tiny"):
        with b:
            _calls(10**6)

"""The one time budget of hermite_dual: budgets count work, not seconds.

Verdicts (condition suprema, closed forms, exact coefficients) must not depend on machine
load, so a budget here is a number of **work units**, and the unit is one Python function
call made inside the budgeted block (counted with :func:`sys.settrace`, which sees every
call sympy, mpmath and our own loops make).  The same input under the same budget does the
same work and stops at the same place on a quiet and on a loaded machine.  For readability
a budget is given in *nominal seconds*: ``UNITS_PER_SECOND`` calls, about one second of
sympy on this project's reference machine.

Why counted calls rather than a signal-based alarm or a worker process:

- ``SIGALRM``/``setitimer`` measure seconds (load-dependent), work only in the main thread
  and clobber the caller's own timer;
- a worker process costs a sympy import per call and cannot return sympy objects cheaply;
- a trace function works in any thread (``sys.settrace`` is per thread), interrupts code
  we do not control (sympy's solvers) at its next call, and costs about 1.7x on
  sympy-heavy code (measured on ``diff``/``solve``/``integrate`` of tanh/erf/exp mixtures).

An optional **wall-clock limit** only stops a call: it raises :class:`WallClockExceeded`,
which callers never turn into a verdict.  Exhausting the *work* budget raises
:class:`WorkBudgetExceeded`; callers turn that into "undetermined" (and never cache it).
Both derive from :class:`BudgetExceeded`, a ``BaseException``, so a library's
``except Exception`` cannot swallow them.

A trace function that raises is uninstalled by CPython; every budget re-installs the
tracer for the budgets still open when it closes, and :meth:`Budget.check` (called by
cooperative loops) re-installs it if an exception raised inside a ``__del__`` or a garbage
collection callback was swallowed.  An existing tracer (a debugger, coverage) is chained.

>>> b = Budget(units=10_000)
>>> def spin(n):
...     return sum(abs(i) for i in range(n))
>>> with b:
...     _ = spin(10)
>>> 0 < b.spent < 10_000
True
>>> try:
...     with Budget(units=1_000):
...         _ = [abs(i) for i in range(10)] and [spin(5) for _ in range(10_000)]
... except WorkBudgetExceeded as exc:
...     print(exc.limit)
1000
"""

import sys
import threading
import time

__all__ = ["UNITS_PER_SECOND", "Budget", "BudgetExceeded", "WorkBudgetExceeded",
           "WallClockExceeded", "from_seconds", "rearm"]

UNITS_PER_SECOND = 400_000
_WALL_CHECK_EVERY = 4096
_GENERATOR_FLAGS = 0x20 | 0x80 | 0x100 | 0x200   # generator, coroutine, iterable coroutine, async gen


class BudgetExceeded(BaseException):
    """A budget ran out (a ``BaseException``, so ``except Exception`` cannot eat it)."""

    def __init__(self, message, *, spent=0, limit=0):
        super().__init__(message)
        self.spent = spent
        self.limit = limit


class WorkBudgetExceeded(BudgetExceeded):
    """The work budget (counted calls) ran out: the answer is "undetermined"."""


class WallClockExceeded(BudgetExceeded):
    """The optional wall-clock limit ran out: the call stops; no verdict is drawn from it."""


class _Meter(threading.local):
    def __init__(self):
        self.count = 0
        self.stack = []          # open budgets, innermost last
        self.next_stop = float("inf")
        self.next_wall = float("inf")
        self.chained = None      # a tracer that was installed before ours
        self.tracer = self.trace  # one bound method, so identity checks work

    def refresh(self):
        # a budget that has raised once does not raise again from the tracer, so the code
        # that caught it can finish its (bounded) wrap-up; enclosing budgets still count
        self.next_stop = min((b._stop for b in self.stack if not b.exhausted),
                             default=float("inf"))
        walls = [b._wall_at for b in self.stack if b._wall_at is not None]
        self.next_wall = min(walls, default=float("inf"))

    def trace(self, frame, event, arg):
        self.count += 1
        # never raise into a generator frame: one closed by the garbage collector would
        # swallow the exception (and CPython would drop the tracer); the next plain call
        # raises instead
        if self.count >= self.next_stop and not frame.f_code.co_flags & _GENERATOR_FLAGS:
            self.hit()
        # the same rule for the wall clock (raised into a closing sympy genexpr, it was
        # swallowed: "Exception ignored in generator")
        if (self.next_wall != float("inf") and self.count % _WALL_CHECK_EVERY == 0
                and not frame.f_code.co_flags & _GENERATOR_FLAGS):
            self.check_wall()
        chained = self.chained
        return chained(frame, event, arg) if chained is not None else None

    def hit(self):
        for b in self.stack:
            if self.count >= b._stop and not b.exhausted:
                b.exhausted = True
                self.next_stop = float("inf")   # raise once; __exit__ refreshes
                raise WorkBudgetExceeded(
                    f"work budget of {b.units} units used up{b._label()}",
                    spent=b._spent_now(), limit=b.units)

    def check_wall(self):
        now = time.monotonic()
        for b in self.stack:
            if b._wall_at is not None and now >= b._wall_at:
                self.next_wall = float("inf")
                raise WallClockExceeded(
                    f"wall-clock limit of {b.wall_seconds:g} s reached{b._label()}",
                    spent=b._spent_now(), limit=b.units)

    def install(self):
        current = sys.gettrace()
        if current is self.tracer:
            return
        if current is not None and self.chained is None:
            self.chained = current          # a debugger or coverage: keep it running
        sys.settrace(self.tracer)


_METER = _Meter()


class Budget:
    """A work budget, optionally with a wall-clock limit; use it as a context manager.

    Parameters
    ----------
    units : int or None
        Work units (counted Python calls) the block may spend; ``None`` for no work limit.
    wall_seconds : float or None
        Stop the call (``WallClockExceeded``) after this many seconds; ``None`` for none.
    label : str
        Named in the exception message.

    Budgets nest: an inner budget spends from every enclosing one, and the first to run
    out raises.  A budget object can be entered several times (its spending accumulates),
    so one budget can be shared by the stages of one computation.

    Examples
    --------
    >>> def f(i):
    ...     return i + 1
    >>> outer = Budget(units=50_000, label="outer")
    >>> with outer:
    ...     with outer.child(units=100, label="step") as step:
    ...         try:
    ...             _ = [f(i) for i in range(1000)]
    ...         except WorkBudgetExceeded as exc:
    ...             print("stopped:", "step" in str(exc))
    stopped: True
    >>> outer.exhausted, step.exhausted
    (False, True)
    """

    def __init__(self, units=None, *, wall_seconds=None, label=""):
        if units is not None:
            units = int(units)
            if units < 0:
                raise ValueError(f"a work budget must be >= 0 units, got {units!r}")
        self.units = units
        self.wall_seconds = wall_seconds
        self.label = label
        self.spent = 0
        self.exhausted = False
        self._entered_at = None
        self._wall_at = None
        self._stop = float("inf")
        self._depth = 0

    def _label(self):
        return f" ({self.label})" if self.label else ""

    @property
    def remaining(self):
        """Units left (``inf`` without a work limit); counts the block in progress."""
        if self.units is None:
            return float("inf")
        return max(self.units - self._spent_now(), 0)

    def _spent_now(self):
        if self._depth and self._entered_at is not None:
            return self.spent + (_METER.count - self._entered_at)
        return self.spent

    def child(self, units=None, *, label=""):
        """A budget of at most ``units``, and less than what is left of this one.

        A child never takes all of its parent: a reserve of 5 % of what is left (at least
        1,000 and at most 100,000 units) stays with the parent, so code that catches the
        child's exhaustion can finish its wrap-up under the parent.
        """
        left = self.remaining
        if left != float("inf"):
            reserve = min(max(left // 20, 1_000), 100_000)
            cap = max(left - reserve, 0)
            units = cap if units is None else min(units, cap)
        return Budget(units=units, label=label or self.label)

    def spent_out(self):
        """Cooperative stop for loops: ``True`` (and no exception later) once spent."""
        if self.units is not None and self._spent_now() >= self.units:
            if not self.exhausted:
                self.exhausted = True
                _METER.refresh()
            return True
        return False

    def fraction(self, share, *, label=""):
        """A child holding ``share`` (0..1] of what is left."""
        left = self.remaining
        return self.child(None if left == float("inf") else int(left * share), label=label)

    def check(self):
        """Cooperative check for loops: raise if this budget (or its wall clock) ran out.

        Also re-installs the tracer if a swallowed exception uninstalled it.
        """
        if self._depth and sys.gettrace() is not _METER.tracer:
            _METER.install()
        if self.units is not None and self._spent_now() >= self.units:
            self.exhausted = True
            raise WorkBudgetExceeded(f"work budget of {self.units} units used up{self._label()}",
                                     spent=self._spent_now(), limit=self.units)
        if self._wall_at is not None and time.monotonic() >= self._wall_at:
            raise WallClockExceeded(
                f"wall-clock limit of {self.wall_seconds:g} s reached{self._label()}",
                spent=self._spent_now(), limit=self.units)

    def __enter__(self):
        if self._depth == 0:
            self._entered_at = _METER.count
            if self.units is not None:
                self._stop = _METER.count + max(self.units - self.spent, 0)
            if self.wall_seconds is not None:
                self._wall_at = time.monotonic() + self.wall_seconds
            _METER.stack.append(self)
        self._depth += 1
        _METER.refresh()
        _METER.install()
        if self.units is not None and self.spent >= self.units:
            self._leave()
            self.exhausted = True
            raise WorkBudgetExceeded(f"work budget of {self.units} units used up{self._label()}",
                                     spent=self.spent, limit=self.units)
        return self

    def _leave(self):
        self._depth -= 1
        if self._depth == 0:
            self.spent += _METER.count - self._entered_at
            self._entered_at = None
            self._wall_at = None
            self._stop = float("inf")
            if self in _METER.stack:
                _METER.stack.remove(self)
        _METER.refresh()
        if _METER.stack:
            _METER.install()
        else:
            sys.settrace(_METER.chained)
            _METER.chained = None

    def __exit__(self, exc_type, exc, tb):
        self._leave()
        return False

    def __repr__(self):
        return (f"Budget(units={self.units!r}, spent={self.spent}, "
                f"wall_seconds={self.wall_seconds!r}{', exhausted' if self.exhausted else ''})")


def rearm():
    """Re-install the tracer after catching a :class:`WorkBudgetExceeded` inside an open
    budget (CPython uninstalls a trace function that raised); spending is counted again
    and the open budgets stop at their limits again."""
    _METER.refresh()
    if _METER.stack:
        _METER.install()


def from_seconds(nominal_seconds, *, wall_seconds=None, label=""):
    """A :class:`Budget` of ``nominal_seconds * UNITS_PER_SECOND`` work units.

    >>> from_seconds(2.0).units == 2 * UNITS_PER_SECOND
    True
    """
    return Budget(units=int(nominal_seconds * UNITS_PER_SECOND), wall_seconds=wall_seconds,
                  label=label)

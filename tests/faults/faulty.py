"""A fault-injecting wrapper for any collaborator (a store, a client): fail the N-th call of a
named method with a chosen exception, before the call reaches the wrapped object or after it
returned (its effect applied, its answer lost).

    store = Faulty(SQLiteStore(path))
    store.fail("create_message", StoreUnavailableError("locked"), nth=1, when="after")
    service = MessageService(store=store, ...)   # passed in, not patched

Every other attribute is the wrapped object's own; ``calls`` counts calls per method.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

When = Literal["before", "after"]


@dataclass
class _Fault:
    method: str
    error: BaseException
    nth: int
    times: int
    when: When


class Faulty:
    """Wraps ``inner``; methods behave as the wrapped object's until a planned fault fires."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.fired: list[tuple[str, int, When]] = []  # (method, call number, when) of each fault

    @property
    def inner(self) -> Any:
        return self._inner

    def fail(
        self,
        method: str,
        error: BaseException,
        *,
        nth: int = 1,
        times: int = 1,
        when: When = "before",
    ) -> Faulty:
        """Make calls ``nth`` .. ``nth + times - 1`` of ``method`` (counted from its first call
        ever) raise ``error``: ``before`` delegating (nothing happened) or ``after`` it (the
        effect is applied, the caller never learns it)."""
        if not callable(getattr(self._inner, method, None)):
            raise AttributeError(f"{type(self._inner).__name__} has no method {method!r}")
        if nth < 1 or times < 1:
            raise ValueError("nth and times start at 1")
        with self._lock:
            self._faults.append(_Fault(method, error, nth, times, when))
        return self

    def heal(self) -> None:
        """Forget every planned fault that has not fired yet."""
        with self._lock:
            self._faults.clear()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if not callable(attribute) or name.startswith("__"):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.calls[name] += 1
                n = self.calls[name]
                fault = next(
                    (f for f in self._faults if f.method == name and f.nth <= n < f.nth + f.times), None
                )
            if fault is not None and fault.when == "before":
                self.fired.append((name, n, "before"))
                raise fault.error
            result = attribute(*args, **kwargs)
            if fault is not None:
                self.fired.append((name, n, "after"))
                raise fault.error
            return result

        return call

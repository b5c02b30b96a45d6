"""A live panel's pictures, drawn on a worker thread for the latest setting and kept in a small cache,
with the neighbouring settings drawn ahead while the reader looks (see ``live_panel.live``)."""

from __future__ import annotations

import sys
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable
from contextlib import contextmanager

__all__ = ["GAP", "Pictures", "quick_switching", "setting_key"]

SETTLE = 0.08  # s after a picture is shown before the worker draws ahead
GAP = 0.25  # s: a picture replaced by a newer request before it is drawn is dropped, unless none has been
# shown for this long (a drag still shows pictures as it goes)
SWITCH = 0.0005  # s: the interpreter's switch interval while drawing (Python's default is 0.005), so that
# the kernel reads the next control value while a picture is drawn instead of after it

_switching = {"drawers": 0, "interval": 0.0}
_switching_lock = threading.Lock()


@contextmanager
def quick_switching():
    """Within: the interpreter's switch interval is at most ``SWITCH``; the first of overlapping
    users (panels drawing at once) sets it and the last puts the one before back."""
    with _switching_lock:
        if _switching["drawers"] == 0:
            _switching["interval"] = sys.getswitchinterval()
            sys.setswitchinterval(min(_switching["interval"], SWITCH))
        _switching["drawers"] += 1
    try:
        yield
    finally:
        with _switching_lock:
            _switching["drawers"] -= 1
            if _switching["drawers"] == 0:
                sys.setswitchinterval(_switching["interval"])


def setting_key(values: dict) -> tuple | None:
    """A hashable key for a panel's setting, or None if a value cannot be hashed. Floats are rounded to
    9 decimals: a slider's value and the same position computed here (value + step) can differ in the
    last bit."""
    key = tuple((name, round(v, 9) if isinstance(v, float) else v) for name, v in sorted(values.items()))
    try:
        hash(key)
    except TypeError:
        return None
    return key


class Pictures:
    """A live panel's pictures, drawn on a worker thread: ``draw(values)`` returns a picture, ``show``
    puts it on screen, ``fail(text)`` shows an error in its place.

    ``request(values, next_values)`` asks for the picture of ``values``. If it is in the cache (the
    ``size`` most recent pictures), it is shown at once; otherwise it is drawn next. Requests made while
    a picture is being drawn replace each other, so a drag draws the latest position only, and a
    finished picture is shown unless a newer one is on screen already. While nothing is requested the
    worker draws ``next_values`` (the neighbouring positions, see ``ahead``) into the cache, so that a
    step to one of them shows its picture without waiting for a draw (or for the rest of its draw, if
    it is being drawn ahead when it is asked for). Drawing ahead starts ``SETTLE`` s after the last
    picture was shown and ``delay`` s after the last request (a reader still moving a control would
    otherwise wait behind a picture drawn ahead). ``wait`` blocks until idle.

    ``draw`` may return None for a picture it dropped; it asks ``superseded()`` whether to (true when a
    request for another setting has come since the drawing began, and either the picture is drawn
    ahead or one was shown less than ``GAP`` s ago).
    """

    def __init__(
        self,
        draw: Callable[[dict], bytes | None],
        show: Callable[[bytes], None],
        fail: Callable[[str], None],
        size: int = 32,
    ):
        self._draw, self._show, self._fail, self._size = draw, show, fail, size
        self._cache: OrderedDict[tuple, bytes] = OrderedDict()
        self._lock, self._idle = threading.Lock(), threading.Event()
        self._wanted: tuple[int, dict] | None = None  # (request number, values) not yet drawn
        self._next: list[dict] = []
        self._asked = self._shown = 0  # numbers of the latest request and of the one on screen
        self._busy, self._since, self._ahead_at, self._wake = False, 0.0, 0.0, threading.Event()
        self._drawing: tuple[int, tuple | None] = (0, None)  # (number, setting key) being drawn
        self._idle.set()

    def request(self, values: dict, next_values: list[dict] = (), delay: float = 0.0) -> None:
        key = setting_key(values)
        with self._lock:
            self._asked += 1
            self._next, self._ahead_at = list(next_values), time.monotonic() + delay
            if key in self._cache:
                self._cache.move_to_end(key)
                self._wanted, self._shown, self._since = None, self._asked, time.monotonic()
                self._show(self._cache[key])
            else:
                self._wanted = (self._asked, values)
            self._wake.set()
            if self._busy or (self._wanted is None and not self._next):
                return
            self._busy = True
            self._idle.clear()
        threading.Thread(target=self._run, daemon=True, name="fmtutor-live").start()

    def _job(self) -> tuple[int, dict] | None:
        """The next picture to draw (under the lock): the request waiting, else a neighbour not cached
        (numbered 0: it is not shown)."""
        if self._wanted is not None:
            job, self._wanted = self._wanted, None
            return job
        while self._next:
            values = self._next.pop(0)
            if setting_key(values) not in self._cache:
                return 0, values
        return None

    def _run(self) -> None:
        while True:
            while self._wanted is None and self._next and self._settle():  # only drawing ahead is left
                pass
            with self._lock:
                job = self._job()
                if job is None:
                    self._busy = False
                    self._idle.set()
                    return
            number, values = job
            self._drawing = (number, setting_key(values))
            try:
                with quick_switching():
                    picture = self._draw(values)
            except Exception:  # shown to the reader: a worker thread's traceback would go nowhere
                with self._lock:
                    if number > self._shown:
                        self._fail(traceback.format_exc(limit=3))
                continue
            if picture is None:  # dropped: see superseded
                continue
            with self._lock:
                self.remember(values, picture)
                if number == 0 and self._wanted is not None and setting_key(self._wanted[1]) == setting_key(values):
                    (number, _), self._wanted = self._wanted, None  # asked for while drawn ahead
                if number > self._shown:
                    self._shown, self._since = number, time.monotonic()
                    self._show(picture)

    def superseded(self) -> bool:
        """Whether the picture being drawn is no longer worth finishing: a request for another setting
        came since it began, and it is drawn ahead or a picture was shown less than ``GAP`` s ago."""
        wanted, (number, key) = self._wanted, self._drawing
        if wanted is None or setting_key(wanted[1]) == key:
            return False
        return number == 0 or time.monotonic() - self._since < GAP

    def _settle(self) -> bool:
        """Wait (or until a new request) until ``SETTLE`` s after the last picture was shown (drawing at
        once would hold the interpreter while that picture is on its way to the page) and until the
        last request's ``delay`` has passed."""
        self._wake.clear()
        wait = max(self._since + SETTLE, self._ahead_at) - time.monotonic()
        if wait > 0 and self._wanted is None:
            return self._wake.wait(wait)  # True: woken by a request, whose delay starts again
        return False

    def remember(self, values: dict, picture: bytes) -> None:
        """Keep ``picture`` as the picture of ``values`` (the least recently used beyond ``size`` go)."""
        key = setting_key(values)
        if key is None:
            return
        self._cache[key] = picture
        self._cache.move_to_end(key)
        while len(self._cache) > self._size:
            self._cache.popitem(last=False)

    def wait(self, timeout: float | None = None) -> bool:
        """True once nothing is requested or being drawn (False if ``timeout`` passed first)."""
        return self._idle.wait(timeout)

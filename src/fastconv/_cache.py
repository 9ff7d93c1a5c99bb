"""A least-recently-used cache bounded by bytes, for plans and border maps: memory stays small however many
distinct kernels and image sizes a process sees."""
import threading
from collections import OrderedDict


class ByteCache:
    """Keeps values up to `budget` bytes in all (each value's size given when stored), dropping the least
    recently used first; a value larger than the budget is not kept. Safe to use from several threads."""

    def __init__(self, budget):
        self.budget = budget
        self.used = 0
        self._items = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            self._items.move_to_end(key)
            return item[0]

    def put(self, key, value, nbytes):
        with self._lock:
            if key in self._items:
                self.used -= self._items.pop(key)[1]
            if nbytes > self.budget:
                return
            self._items[key] = (value, nbytes)
            self.used += nbytes
            while self.used > self.budget:
                self.used -= self._items.popitem(last=False)[1][1]

    def clear(self):
        with self._lock:
            self._items.clear()
            self.used = 0

    def resize(self, budget):
        """A new budget; values beyond it are dropped."""
        with self._lock:
            self.budget = budget
            while self.used > self.budget and self._items:
                self.used -= self._items.popitem(last=False)[1][1]

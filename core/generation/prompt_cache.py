"""Text embeddings cached per distinct prompt: a batch of 500 photos with one template encodes once."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Callable


class PromptCache:
    """A small LRU of prompt -> embedding tensor, with hit counts a benchmark or test can read."""

    def __init__(self, capacity: int = 64) -> None:
        self.capacity = capacity
        self.hits = 0
        self.misses = 0
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, prompt: str, encode: Callable[[str], Any]) -> Any:
        with self._lock:
            if prompt in self._items:
                self._items.move_to_end(prompt)
                self.hits += 1
                return self._items[prompt]
        value = encode(prompt)  # outside the lock: encoding is the slow part
        with self._lock:
            self.misses += 1
            self._items[prompt] = value
            self._items.move_to_end(prompt)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.hits = self.misses = 0

"""The immutable, ordered collection that every dataset of the engine is built on."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Generic, TypeVar, overload

Item = TypeVar("Item")


class ItemCollection(Sequence[Item], Generic[Item]):
    """Items with unique ``id``s, the names of their classes or labels, and where they come from.

    Slicing returns the same kind of collection; subclasses add task-specific views.
    """

    def __init__(self, items: Sequence[Item], names: Sequence[str], name: str = ""):
        self._items = tuple(items)
        self._names = list(names)
        self.name = name
        ids = [item.id for item in self._items]  # type: ignore[attr-defined]
        if len(set(ids)) != len(ids):
            raise ValueError(f"{name or 'images'}: image ids are not unique")

    def _with(self, items: Sequence[Item], name: str | None = None):
        """A collection of the same kind and names holding ``items``."""
        return type(self)(items, self._names, self.name if name is None else name)

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, index: int) -> Item: ...

    @overload
    def __getitem__(self, index: slice) -> "ItemCollection[Item]": ...

    def __getitem__(self, index):
        if isinstance(index, slice):
            return self._with(self._items[index])
        return self._items[index]

    def __iter__(self) -> Iterator[Item]:
        return iter(self._items)

    def subset(self, indices: Sequence[int], name: str | None = None):
        """The items at ``indices``, in that order."""
        return self._with([self._items[i] for i in indices], name or None)

    @property
    def ids(self) -> list[str]:
        """Item ids in order."""
        return [item.id for item in self._items]  # type: ignore[attr-defined]

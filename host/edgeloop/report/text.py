"""How both renderers write a layer's name and a byte count, so the terminal and the page agree."""

from __future__ import annotations


def layer_label(name: str, width: int = 40) -> str:
    """The Keras layer a tensor name points at: 'model/dense_1/MatMul;...' -> 'dense_1'."""
    first = name.split(";")[0]
    parts = [p for p in first.split("/") if p]
    label = parts[-2] if len(parts) >= 3 else first
    return label if len(label) <= width else label[:width - 1] + "…"


def kb(n: int) -> str:
    return f"{n:,} B" if n < 10240 else f"{n / 1024:,.1f} KiB"


def listed(items, most: int = 8) -> str:
    """A list of numbers for a one-line message: the first `most`, then how many more."""
    items = list(items)
    shown = ", ".join(str(i) for i in items[:most])
    return shown + (f" and {len(items) - most} more" if len(items) > most else "")

"""The memory plan: every activation and scratch buffer gets an arena offset.

Computed on the host so the board allocates one arena of a known size and
never allocates per tensor. Buffers whose lifetimes (first op that writes,
last op that reads) do not overlap may share bytes; placement is greedy,
largest first, at the lowest offset that fits -- the strategy of TFLM's
GreedyMemoryPlanner. An alias (RESHAPE and friends) makes two tensors one
buffer whose lifetime spans both.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Buffer:
    key: object  # a tensor index (the group's representative) or ("scratch", op)
    size: int
    first: int  # op index that first needs it
    last: int  # op index that last needs it
    offset: int = -1


def plan_memory(sizes: dict[int, int], plans, n_inputs_from: list[int], outputs: list[int],
                alias_of: dict[int, int], align: int = 1) -> tuple[dict[object, Buffer], int]:
    """Place every buffer. `alias_of` maps a tensor to the tensor whose bytes it reuses; every
    size is rounded up to `align`, so every offset is a multiple of it.

    Returns the buffers by key (tensor representative or ("scratch", i)) and the arena size.
    """
    def root(t):
        while t in alias_of:
            t = alias_of[t]
        return t

    n_ops = len(plans)
    life: dict[object, list[int]] = {}

    def touch(key, i):
        span = life.setdefault(key, [i, i])
        span[0], span[1] = min(span[0], i), max(span[1], i)

    for t in n_inputs_from:
        touch(root(t), 0)
    for i, p in enumerate(plans):
        for t in p.reads + p.writes:
            touch(root(t), i)
        if p.scratch:
            touch(("scratch", i), i)
    for t in outputs:
        touch(root(t), n_ops)  # outputs outlive the last op: the caller reads them
    buffers = {}
    for key, (first, last) in life.items():
        size = plans[key[1]].scratch if isinstance(key, tuple) else sizes[key]
        size = -(-size // align) * align
        buffers[key] = Buffer(key, size, first, last)
    placed: list[Buffer] = []
    for b in sorted(buffers.values(), key=lambda b: (-b.size, b.first, str(b.key))):
        clashes = sorted((o.offset, o.offset + o.size) for o in placed
                         if not (o.last < b.first or b.last < o.first))
        offset = 0
        for lo, hi in clashes:
            if offset + b.size <= lo:
                break
            offset = max(offset, hi)
        b.offset = offset
        placed.append(b)
    arena = max((b.offset + b.size for b in placed), default=0)
    return buffers, arena

"""Host halves of the kernels: one module per op, each with `prepare(ctx) -> OpPlan`.

The board half of `ops/<name>.py` is `edgeloop_fw/runtime/kernels/<name>.py`;
the pairing is the table in edgeloop_fw/runtime/opcodes.py.
"""

"""Board halves of the kernels: one module per op, each with `eval(p, arena, model)`."""

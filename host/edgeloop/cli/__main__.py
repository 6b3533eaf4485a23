"""`python -m edgeloop.cli`: the same as the `edgeloop` console script (tests run it as a subprocess)."""

from edgeloop.cli import main

main()

# The on-board half of edgeloop. This line is the one place edgeloop's version
# is written: the board's hello frame (app.py) and `edgeloop demo` read it here,
# the host package re-exports it (edgeloop.__version__), and pyproject.toml's
# version is read from it by hatchling ([tool.hatch.version]) -- host and
# firmware ship together, so one number cannot drift into two.
__version__ = "0.1.0"

"""Putting MicroPython or CircuitPython onto a board: one module per flashing method
(uf2, esp, dfu), plus firmware downloads, USB detection and the CIRCUITPY drive.

Every flasher validates the image against the board profile before it touches
the board, so a refused flash leaves the board as it was.
"""

"""TFLite Micro, the reference edgeloop's int8 outputs are bit-exact with.

Every use of tflite-micro goes through here, so a missing install is told the
same way everywhere and a crash in TFLM's C++ stays in a child process.
`tflm` loads and runs models; `arena` asks for TFLM's smallest arena.
"""

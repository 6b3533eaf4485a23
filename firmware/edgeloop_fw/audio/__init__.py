"""On-board keyword-spotting audio front end, bit-exact with TFLM's micro_speech.

`AudioFrontend` turns 30 ms of int16 audio into 40 int8 features, the input
micro_speech_quantized.tflite was trained on. One stage per module, integer
only, buffers allocated once; the same code computes training features on the
host. See docs/audio-frontend.md.
"""

from .frontend import AudioFrontend, frame_count  # noqa: F401

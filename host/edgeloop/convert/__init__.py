"""Model conversion: a trained model in, the on-board int8 model file out.

tflite.py reads .tflite FlatBuffers; int8.py turns an int8 .tflite into the
file described in docs/model-format.md, one op at a time through ops/<name>.py;
keras.py (Keras/SavedModel -> int8 .tflite) and sklearn_trees.py sit beside it.
"""

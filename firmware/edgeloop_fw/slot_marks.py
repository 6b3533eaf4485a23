"""The two names by which the app tells a slots board: part of the bundle format (bundle_format
re-exports them), kept apart so the app can test them without importing that module, which costs
~8 KB of heap on the rp2040 virtual board, where the keyword app has none to spare."""

KEY = "/keys/edgeloop.pub"  # the board's trusted public key (32 raw bytes); present = provisioned
MARK = "@slots/"  # /edgeloop.json's "model" when the app runs the active slot's model (edgeloop_fw.slots)

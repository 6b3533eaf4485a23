"""The board's own name for the log, imported by the app's hello only: port.py, which every
module imports, stays as small as the heap of the rp2040 virtual board needs."""


def device_id():
    """The chip's unique id as hex ('' where the port has none): what names a board in the log
    when /edgeloop.json gives no device_id. Called once per hello, so it may allocate."""
    uid = None
    try:
        import machine
        uid = machine.unique_id()
    except (ImportError, AttributeError, OSError):
        try:
            import microcontroller  # CircuitPython
            uid = microcontroller.cpu.uid
        except (ImportError, AttributeError):
            pass
    if not uid:
        return ""
    from binascii import hexlify
    return hexlify(bytes(uid)).decode()

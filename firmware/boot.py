# edgeloop: on CircuitPython, ask for the second USB CDC port so frames can flow on
# usb_cdc.data while the console stays free; MicroPython has nothing to do here.
try:
    import usb_cdc
    usb_cdc.enable(console=True, data=True)
except (ImportError, RuntimeError, AttributeError):
    pass

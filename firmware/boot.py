# edgeloop: on CircuitPython, ask for the second USB CDC port so frames can flow on
# usb_cdc.data while the console stays free; MicroPython has nothing to do here.
try:
    import usb_cdc
    usb_cdc.enable(console=True, data=True)
except (ImportError, RuntimeError, AttributeError):
    pass


# edgeloop: a board that autostarts the app imports its modules here, in their own script
# (edgeloop_fw/autostart.py, compiled, so this file stays small: boot.py is compiled from source
# at every reset, and its parse costs heap on the virtual board). A board whose garbage collector
# runs only between scripts (the WebAssembly virtual board) then starts main.py with the imports'
# garbage gone; on other boards this is the same work done a moment earlier.
try:
    import edgeloop_fw.autostart
    edgeloop_fw.autostart.preload()
    edgeloop_fw.autostart.forget()
    del edgeloop_fw  # the REPL's globals stay as they were (tests measure allocation against them)
except Exception:  # no firmware, a broken one: main.py reports it (or the REPL stays)
    pass

# edgeloop: on CircuitPython, ask for the second USB CDC port so frames can flow on
# usb_cdc.data while the console stays free; MicroPython has nothing to do here.
try:
    import usb_cdc
    usb_cdc.enable(console=True, data=True)
except (ImportError, RuntimeError, AttributeError):
    pass

# edgeloop: a board that autostarts the app imports its modules here, in their own script. A
# board whose garbage collector runs only between scripts (the WebAssembly virtual board) then
# starts main.py with the imports' garbage gone, as the host's stream link does with one import
# per execution; on other boards this is the same work done a moment earlier.
try:
    import json
    with open("/edgeloop.json") as _f:
        _c = json.load(_f)
    if _c.get("autostart"):
        import edgeloop_fw.protocol
        import edgeloop_fw.app
        if str(_c.get("model") or "").endswith(".elm"):
            import edgeloop_fw.runtime.loader
            import edgeloop_fw.runtime.interpreter
        if _c.get("capture"):
            import edgeloop_fw.capture
    del _c
except Exception:  # no config, a broken firmware: main.py reports it (or the REPL stays)
    pass

# edgeloop: start streaming at power-up only when /edgeloop.json says so ("autostart": true);
# otherwise the board sits at its REPL and the host starts the app (docs/firmware.md).
try:
    import json
    with open("/edgeloop.json") as _f:
        _auto = json.load(_f).get("autostart", False)
except (OSError, ValueError, ImportError):
    _auto = False
if _auto:
    import edgeloop_fw.app
    edgeloop_fw.app.run()

# edgeloop: a model update (A/B slots) that did not confirm on its last start goes back to the
# previous slot now, before anything runs it (docs/bundle.md); one stat on boards without slots.
try:
    import os
    os.stat("/slots/state.json")
    import edgeloop_fw.slots
    edgeloop_fw.slots.recover()
except (OSError, ImportError):
    pass
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
    edgeloop_fw.app.run(publish=True)  # with an mqtt section, the board publishes itself (docs/fleet.md)

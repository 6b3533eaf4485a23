"""`microcontroller` for the virtual board on the unix port: only `reset()`, which the
sim turns into a hard reset (boot.py runs again; usb_cdc's interfaces are set
anew), and `cpu` for code that reads the temperature or frequency."""

import usb_cdc


def reset():
    ctl = usb_cdc._state["ctl"]
    if ctl is not None:
        ctl.write(b"R\n")
    raise SystemExit


class _Cpu:
    frequency = 125000000
    temperature = 25.0
    voltage = 3.3


cpu = _Cpu()

"""`edgeloop deploy`: push firmware/ (and model files) to a board."""

from __future__ import annotations

from pathlib import Path

import click


def progress_bar():
    """A rich bar with bytes/s, and the callback deploy_* call to move it."""
    from rich.progress import BarColumn, DownloadColumn, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    from edgeloop.cli.progress import progress_bar as rich_bar

    bar = rich_bar(TextColumn("[bold]deploy[/] {task.description}"), BarColumn(), DownloadColumn(),
                   TransferSpeedColumn(), TimeRemainingColumn())
    task = bar.add_task("", total=None)

    def update(done: int, total: int, label: str) -> None:
        bar.update(task, completed=done, total=total, description=label.rsplit("/", 1)[-1])

    return bar, update


def summary(result) -> list[str]:
    lines = []
    if result.sent or result.removed:
        how = "deflate" if result.compressed else "raw"
        lines.append(f"deployed {len(result.sent)} file(s), {result.bytes_sent:,} bytes in {result.seconds:.2f} s "
                     f"({result.bytes_per_second / 1024:.0f} KiB/s, {how}) to {result.port}")
    else:
        lines.append(f"the board at {result.port} is up to date ({result.seconds:.2f} s)")
    if result.unchanged:
        lines.append(f"  {len(result.unchanged)} file(s) unchanged")
    for path in result.removed:
        lines.append(f"  removed {path}")
    for note in result.notes:
        lines.append(f"  note: {note}")
    return lines


@click.command()
@click.option("--port", "-p", help="Serial port of the board (default: $EDGELOOP_PORT, or the one board found).")
@click.option("--board", "-b", "board_name", help="Board profile name, recorded in the manifest (see `edgeloop boards`).")
@click.option("--model", "-m", "models", multiple=True, type=click.Path(),
              help="A model folder (model file + model.json, as `edgeloop train` writes it): the model goes "
                   "to /models/ and /edgeloop.json is written for it. A model file without model.json goes "
                   "to /models/ only. Repeatable for files.")
@click.option("--sensor", help="Which of the board profile's sensors the app reads, by part or kind "
                               "(default: the one of the model's kind); `replay` plays /replay.bin instead.")
@click.option("--autostart", is_flag=True, help="Start the app at power-up (main.py reads it from /edgeloop.json).")
@click.option("--device-id", default="", metavar="NAME",
              help="The name this board gives in every log row (default: its chip's unique id, as hex).")
@click.option("--keep-below", type=click.FloatRange(0, 1), metavar="SCORE",
              help="Capture: keep a window when its top score is below SCORE (e.g. 0.6).")
@click.option("--keep-margin", type=click.FloatRange(0, 1), metavar="DIFF",
              help="Capture: keep a window when top-1 minus top-2 score is below DIFF (e.g. 0.2).")
@click.option("--keep-class", multiple=True, metavar="CLASS",
              help="Capture: keep every window whose top class is CLASS (repeatable).")
@click.option("--keep-random", type=click.FloatRange(0, 1), metavar="SHARE",
              help="Capture: keep this share of the other windows (e.g. 0.05), drawn reproducibly from --keep-seed.")
@click.option("--keep-seed", type=click.IntRange(0, 65535), help="Capture: seed of --keep-random (default 0).")
@click.option("--keep-per-minute", type=click.IntRange(0), metavar="N",
              help="Capture: keep at most N windows per minute (0: no cap).")
@click.option("--keep-ring-kb", type=click.IntRange(0), metavar="KB",
              help="Capture: flash for kept windows while no host listens (default 32; 0: none).")
@click.option("--source", "source_only", is_flag=True,
              help="Send edgeloop_fw as .py sources instead of .mpy (boards without a matching .mpy ABI).")
@click.option("--verify", is_flag=True, help="Hash every file on the board instead of trusting its manifest.")
@click.option("--no-compress", is_flag=True, help="Send raw bytes even when the board can inflate.")
@click.option("--firmware-dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Deploy this folder instead of edgeloop's firmware/ (same layout).")
@click.option("--bundle", "bundle_path", type=click.Path(dir_okay=False),
              help="A signed model bundle (`edgeloop bundle`): the board checks it and installs it in its idle "
                   "A/B slot, self-tests it, then switches; a refused bundle changes nothing.")
@click.option("--provision-key", "provision", type=click.Path(),
              help="Put this public key (edgeloop.pub) on the board; from then on it accepts models only as "
                   "bundles signed with the matching private key.")
@click.option("--broker", metavar="mqtt[s]://HOST[:PORT]",
              help="The board publishes its frames itself to this MQTT broker when it runs on its own "
                   "(with --autostart; docs/fleet.md, Boards that publish themselves).")
@click.option("--ca", type=click.Path(dir_okay=False, exists=True),
              help="With --broker mqtts://: the fleet's CA certificate; the board trusts only it.")
@click.option("--username", help="The board's broker user name (`edgeloop fleet add-device NAME`).")
@click.option("--password-file", type=click.Path(dir_okay=False, exists=True),
              help="File holding the board's broker password (its first line); it goes into /edgeloop.json.")
@click.option("--wifi", metavar="SSID:PASSWORD", help="Wi-Fi the board joins to reach --broker (stored in /edgeloop.json).")
@click.option("--timeout", default=10.0, show_default=True, help="Seconds to wait for the board to answer.")
def deploy(port, board_name, models, sensor, autostart, device_id, keep_below, keep_margin, keep_class, keep_random, keep_seed,
           keep_per_minute, keep_ring_kb, source_only, verify, no_compress, firmware_dir, timeout,
           bundle_path, provision, broker, wifi, ca, username, password_file):
    """Push the on-board code (and a model with its config) to a board: only what changed, verified, atomic.

    boot.py and main.py go to the board root as source; the edgeloop_fw package
    is compiled to .mpy for the board's ABI and goes to /lib/edgeloop_fw/.
    With a model folder, the model goes to /models/ and /edgeloop.json (the
    profile's sensor entry + the model's rate, window, hop and classes) in the
    same transaction. The model is parsed on the host first, and checked
    against the board's sensors and heap: a refused model changes nothing.
    An interrupted deploy leaves the previous app working (see docs/deploy.md).

    Capture rules (--keep-*, or model.json's "capture" section; a flag
    overrides that key) make the board keep the windows worth labelling:
    it sends them to `edgeloop monitor --db`, or, with no host attached,
    stores them in a ring on flash until one is (docs/firmware.md, Capture).

    \b
    Examples:
      edgeloop deploy --model models/gesture            # then: edgeloop monitor
      edgeloop deploy --port /dev/ttyACM0 --board rp2040 --model models/gesture_trees --autostart
      edgeloop deploy --model models/gesture --sensor replay   # virtual board: play /replay.bin
      edgeloop deploy --verify      # re-hash everything on the board
      edgeloop deploy --provision-key keys/edgeloop.pub --bundle gesture-2.bundle   # signed A/B update
      edgeloop deploy --model models/gesture --keep-below 0.6 --keep-random 0.02 --keep-per-minute 20
      edgeloop deploy --board esp32s3 --model models/gesture --autostart --wifi lab:secret123 --broker mqtt://10.0.0.5
    """
    from edgeloop.boards import profiles as boards
    from edgeloop.deploy import board_config as BC
    from edgeloop.link.device import Device
    from edgeloop.deploy.firmware import deploy_firmware
    from edgeloop.deploy.plan import deploy_files, open_session

    capture = {"below": keep_below, "margin": keep_margin, "classes": keep_class, "random": keep_random,
               "seed": keep_seed, "per_minute": keep_per_minute,
               "ring_bytes": None if keep_ring_kb is None else 1024 * keep_ring_kb}
    if board_name:
        boards.load(board_name)  # an unknown name fails before the port is touched
    from edgeloop.deploy import bundle as B
    from edgeloop.deploy import keys as K
    from edgeloop.deploy import slots as SL
    from edgeloop.errors import DeployError

    if bundle_path and models:
        raise DeployError("give --model or --bundle, not both: a bundle carries its own model")
    if provision and models:
        raise DeployError("--provision-key makes the board refuse plain models; deploy the model as a signed "
                          "bundle (--bundle), or provision the key without --model")
    checked = BC.prepare_models(models)  # a file that is not a valid model fails here too
    signed = B.load_bundle(bundle_path) if bundle_path else None  # framing and file hashes, before the port
    public = K.load_public_raw(provision) if provision else None
    BC.check_capture(checked, capture, signed)  # bad capture rules fail before the port is touched too
    network = _network(broker, wifi, checked, signed, device_id, ca, username, password_file)  # and so do a bad --broker or --wifi
    client = []
    if network:
        from edgeloop.deploy.mqtt_client import ca_file_entry, client_files

        client = client_files(source_only=source_only) + ([ca_file_entry(ca)] if ca else [])
    from edgeloop.link.discover import resolve_port

    port = resolve_port(port)
    bar, update = progress_bar()
    circuitpython = False

    def progress(done, total, label):  # the bar appears only once bytes move
        if not bar.live.is_started:
            bar.start()
        update(done, total, label)

    try:
        with Device(port, timeout=timeout) as device:
            profile = BC.board_profile(device, board_name) if checked or signed else None
            if signed is not None:
                plan = BC.bundle_deploy(signed, profile, sensor=sensor, autostart=autostart, capture=capture,
                                        device_id=device_id, network=network)
            else:
                plan = BC.model_deploy(checked, profile, sensor=sensor, autostart=autostart, capture=capture,
                                        device_id=device_id, network=network)
            if checked:
                SL.refuse_plain_models(open_session(device), port)
            name = profile.name if profile else board_name
            circuitpython = device.eval("__import__('sys').implementation.name") == "circuitpython"
            libs = []
            if circuitpython:  # no asyncio built in: Adafruit's, from its PyPI wheel (deploy/cplibs.py)
                from edgeloop.deploy.cplibs import library_files

                libs = library_files()
            result = deploy_firmware(device, board=name, fw_dir=firmware_dir, source_only=source_only,
                                     progress=progress, verify=verify, compress=False if no_compress else None,
                                     extra=(plan.files if signed is None else []) + client + libs)
            if libs:
                from edgeloop.deploy.cplibs import LIBRARIES

                result.notes.append("CircuitPython libraries in /lib: " + ", ".join(f"{n} {v}" for n, v in LIBRARIES))
            if public is not None:
                result.notes += SL.provision_key(device, public, board=name).notes
            if signed is not None:
                done = SL.install_bundle(device, signed)
                result.notes.append(installed_line(done, signed))
                deploy_files(device, plan.files, group=BC.GROUP, board=name)  # /edgeloop.json: run the slot
    finally:
        if bar.live.is_started:
            bar.stop()
    if circuitpython:  # the data channel the app streams on: boot.py enables it at a hard reset
        from edgeloop.deploy.circuitpy import data_channel_step

        result.notes += data_channel_step(port, timeout=timeout)
    click.echo("\n".join(summary(result) + model_lines(plan)))


def _network(broker, wifi, checked, signed, device_id, ca=None, username=None, password_file=None):
    """The mqtt/wifi sections for /edgeloop.json, or None; every mistake is one line before the port is opened."""
    from edgeloop.errors import DeployError

    if not broker:
        if ca or username or password_file:
            raise DeployError("--ca/--username/--password-file are the board's broker credential: give --broker mqtts://HOST too")
        if wifi:
            raise DeployError("--wifi is for a board that publishes itself: give --broker mqtt://HOST[:PORT] too")
        return None
    from edgeloop.deploy.mqtt_client import network_settings, parse_wifi
    from edgeloop.fleet.broker import parse_broker

    b = parse_broker(broker)
    if b.tls and not ca:
        raise DeployError("--broker mqtts:// needs --ca: the fleet's CA certificate, the only one the board trusts")
    if ca and not b.tls:
        raise DeployError(f"--ca is for TLS: write --broker mqtts://{b.host}... (port 8883 unless given)")
    if bool(username) != bool(password_file):
        raise DeployError("--username and --password-file go together (the board's broker credential)")
    password = ""
    if password_file:
        from edgeloop.fleet.broker import read_password

        password = read_password(password_file)
    creds = parse_wifi(wifi) if wifi else None
    if signed is None and not any(c.source.info is not None for c in checked):
        raise DeployError("--broker goes into /edgeloop.json, which needs a model folder (model.json beside the "
                          "model file); pass --model with the folder")
    return network_settings(b.host, b.port, creds, client_id=f"edgeloop-{device_id}" if device_id else "",
                            tls=b.tls, username=username or "", password=password)


def installed_line(done, bundle) -> str:
    how = "signature checked by the board" if done.signature_checked else \
        "signature NOT checked: the board has no key (deploy --provision-key)"
    n = bundle.manifest["confirm"]["inferences"]
    return (f"installed {done.version} (counter {done.counter}) in slot {done.slot}, self-test passed, {how}; "
            f"it is kept once the app has run {n} inferences, else the previous slot comes back at the next start")


def model_lines(plan) -> list[str]:
    """What the model deploy checked, and the config the board got."""
    lines = [f"  checked {fact}" for fact in plan.facts]
    cfg = plan.config
    if cfg is not None:
        s = cfg["sensor"]
        what = s["kind"] if s["kind"] == "replay" else f"{s['kind']} {s['part']} on {s['bus']} at {s['rate']} Hz"
        lines.append(f"  /edgeloop.json: {what}, model {cfg['model']}, window {cfg['window']}, hop {cfg['hop']}, "
                     f"classes {', '.join(cfg['classes'])}{', autostart' if cfg['autostart'] else ''}")
        if cfg.get("capture"):
            rules = ", ".join(f"{k} {','.join(v) if isinstance(v, list) else v}" for k, v in cfg["capture"].items())
            lines.append(f"  capture: {rules}")
        if cfg.get("mqtt"):
            m, w = cfg["mqtt"], cfg.get("wifi") or {}
            lines.append(f"  publishes to {'mqtts' if m.get('tls') else 'mqtt'}://{m['host']}:{m['port']}"
                         f"{' as ' + m['username'] if m.get('username') else ''} when it runs on its own"
                         f"{' (Wi-Fi ' + w['ssid'] + ')' if w else ''}; MQTT client in /lib/chumicro_*")
    return lines

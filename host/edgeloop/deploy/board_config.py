"""The board's /edgeloop.json, and the checks a model passes before it may go on a board.

The app reads /edgeloop.json at start (firmware/edgeloop_fw/app.py; main.py
reads "autostart"): which sensor, which model, window, hop, classes. Its two
sources of truth are the board profile's `[[sensors]]` entry (part, bus,
pins, address) and the model folder's model.json (sensor kind and channels,
rate, window, hop, classes, spotter settings). This module is the one place
that turns them into the file: `edgeloop deploy --model DIR` and `edgeloop
demo` (whose replay sensor is an override of the profile's entry) both call
`board_config`, so the board can never be configured two ways.

Everything here runs on the host before the board is touched: a model that is
not a valid model file, that reads a sensor the board's profile cannot give,
or that does not fit the board's heap is refused in one line, and the board
keeps its previous model and config.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Sequence

from edgeloop import modelinfo as MI
from edgeloop.boards.profiles import BoardProfile
from edgeloop.errors import DeployError, ModelError

from .plan import DeployFile

CONFIG = "/edgeloop.json"
REPLAY = "/replay.bin"
MODELS = "/models"
GROUP = "config"  # manifest group of the config file
GYRO_DPS = 2000  # a 6-channel IMU model: the widest gyroscope range (±2000 dps = ±20000 ddps fits int16)


@dataclass(frozen=True)
class ModelSource:
    """A model to deploy: its file, and its model.json when it came as (or from) a model folder."""

    file: Path
    info: MI.ModelInfo | None = None

    @property
    def remote(self) -> str:
        return f"{MODELS}/{self.file.name}"


@dataclass
class CheckedModel:
    source: ModelSource
    data: bytes
    facts: list[str] = field(default_factory=list)  # what was checked, for the summary
    heap: tuple | None = None  # .elm: (file bytes, arena, params, kernel modules) for the fit check
    trees: object = None  # trees CSV: the parsed forest


def resolve_model(path: str | Path) -> ModelSource:
    """A model folder (model.json + the file it names) or a model file.

    A file that sits in its model folder (the folder's model.json names it)
    is read as that folder; a bare file has no model.json, so no config can be
    written for it.
    """
    p = Path(path)
    if p.is_dir():
        info = MI.load(p)
        f = p / info.model["file"]
        if not f.is_file():
            raise DeployError(f"{f} is missing but {p / MI.FILE_NAME} names it; copy the whole model folder "
                              "or retrain it with `edgeloop train`")
        return ModelSource(f, info)
    if not p.is_file():
        raise DeployError(f"model {p} does not exist; give a model folder (e.g. models/gesture) or a model file")
    beside = p.parent / MI.FILE_NAME
    if beside.is_file():
        info = MI.load(beside)
        if info.model["file"] == p.name:
            return ModelSource(p, info)
    return ModelSource(p, None)


def check_model_file(src: ModelSource) -> CheckedModel:
    """Parse the whole file with the board's own code (CPython) and check it against its model.json."""
    try:
        data = src.file.read_bytes()
    except OSError as e:
        raise DeployError(f"cannot read {src.file}: {e.strerror or e}") from None
    if src.file.suffix == ".csv":
        return _check_trees(src, data)
    if src.info is None and src.file.suffix != ".elm":  # not a format the app runs: a plain file, as before
        return CheckedModel(src, data, [f"{src.file.name}: not .elm or .csv, sent as a plain file (not checked)"])
    return _check_elm(src, data)


def _refuse(src: ModelSource, why) -> ModelError:
    what = "tree model (emlearn CSV)" if src.file.suffix == ".csv" else "edgeloop model"
    return ModelError(f"{src.file} is not a valid {what}: {why}; convert it again with `edgeloop convert` "
                      "(nothing was sent to the board)")


def _check_elm(src: ModelSource, data: bytes) -> CheckedModel:
    from edgeloop_fw.runtime.interpreter import Interpreter
    from edgeloop_fw.runtime.loader import ModelFileError

    from edgeloop.convert.modelcheck import checked_model

    try:
        model = checked_model(data)  # every field against the file and arena; the heap is check_fit's
        Interpreter(model)
    except ModelFileError as e:
        raise _refuse(src, e) from None
    n_out = model.outputs[0].nbytes
    info = src.info
    if info is not None:
        if n_out != len(info.classes):
            raise _refuse(src, f"it outputs {n_out} scores but model.json lists {len(info.classes)} classes")
        if info.task == "gesture" and model.inputs[0].nbytes < info.window * info.sensor["channels"]:
            raise _refuse(src, f"its input holds {model.inputs[0].nbytes} values, fewer than one "
                               f"{info.window}-frame window of {info.sensor['channels']} channels")
    return CheckedModel(src, data, [f"{src.file.name}: {len(model.ops)} ops, {n_out} classes, "
                                    f"SHA-256 verified"],
                        heap=(len(data), model.arena_size, 4 * len(model.params),
                              frozenset(name for _opcode, name, _p, _out in model.ops)))


def _check_trees(src: ModelSource, data: bytes) -> CheckedModel:
    from edgeloop_fw import features as F
    from edgeloop_fw import trees

    try:
        forest = trees.parse(data.decode("ascii").splitlines())
    except (trees.TreeError, ValueError) as e:  # UnicodeDecodeError is a ValueError
        raise _refuse(src, e) from None
    info = src.info
    if info is not None:
        want = F.n_window_features(info.sensor["channels"])
        if forest.n_features != want:
            raise _refuse(src, f"it takes {forest.n_features} features but a {info.sensor['channels']}-channel "
                               f"window gives {want}")
        if forest.n_classes != len(info.classes):
            raise _refuse(src, f"it votes for {forest.n_classes} classes but model.json lists {len(info.classes)}")
    return CheckedModel(src, data, [f"{src.file.name}: {forest.n_trees} trees, {len(forest.feature)} nodes, "
                                    f"{forest.n_classes} classes"], trees=forest)


def check_fit(model: CheckedModel, profile: BoardProfile) -> list[str]:
    """The convert step's fit check, for the board deployed to (ConversionError names the numbers)."""
    if model.trees is not None:
        from edgeloop.convert.sklearn_trees import check_fit as trees_fit

        t = model.trees
        counts = SimpleNamespace(n_nodes=len(t.feature), n_leaves=len(t.leaves), n_trees=t.n_trees)
        return trees_fit(len(model.data), counts, profile.name)
    from edgeloop.convert.fit import check_fit as elm_fit

    return elm_fit(*model.heap, profile)


def _rate_range(part: str) -> tuple[float, float] | None:
    """The output rates the firmware's driver for `part` can run at (None: a part it has no driver for)."""
    import sys

    from edgeloop_fw.sensors import _driver
    from edgeloop_fw.sensors.bus import SensorError

    try:
        module = sys.modules[_driver(part).__module__]
    except SensorError:
        return None
    rates = getattr(module, "RATES", None)
    return (min(rates), max(rates)) if rates else getattr(module, "RATE_RANGE", None)


def _describe(profile: BoardProfile) -> str:
    return ", ".join(f"{s.part} ({s.kind})" for s in profile.sensors) or "none"


def pick_sensor(profile: BoardProfile, info: MI.ModelInfo, choice: str | None = None) -> dict:
    """The profile's sensor entry the model reads, checked against what the model needs.

    `choice` (--sensor) picks an entry by part or kind; "replay" is the
    replay sensor (/replay.bin), which stands in for any sensor.
    """
    want, channels, rate = info.sensor["kind"], info.sensor["channels"], float(info.rate_hz)
    if choice and choice.lower() == "replay":
        return {"kind": "replay", "file": REPLAY}
    if choice:
        hits = [s for s in profile.sensors if choice.lower() in (s.part.lower(), s.kind)]
        if not hits:
            raise DeployError(f"{profile.name} has no sensor {choice!r} (its profile lists {_describe(profile)}); "
                              "pass --sensor with one of those parts or kinds, or replay")
    else:
        hits = [s for s in profile.sensors if s.kind == want]
        if not hits:
            raise DeployError(f"the model reads an {want} but {profile.name}'s profile lists {_describe(profile)}; "
                              f"deploy it to a board with an {want}, or use --sensor replay")
    if len(hits) > 1:
        raise DeployError(f"{profile.name} has {len(hits)} matching sensors ({', '.join(s.part for s in hits)}); "
                          "choose one with --sensor PART")
    s = hits[0]
    need = f"the model reads {channels} channel(s) of an {want} at {rate:g} Hz"
    if s.kind != want:
        raise DeployError(f"{need} but --sensor {choice} is {profile.name}'s {s.kind} ({s.part}); "
                          f"pick its {want} or another model")
    if want == "imu":
        if channels not in (3, 6):
            raise DeployError(f"{need} but an IMU gives 3 (accelerometer) or 6 (with gyroscope) channels; "
                              "retrain the model on IMU takes")
        span = _rate_range(s.part)
        if span is None:
            raise DeployError(f"{profile.name}'s IMU {s.part} has no driver in edgeloop_fw.sensors; "
                              "fix the part in the board profile")
        if not span[0] <= rate <= span[1]:
            raise DeployError(f"{need} but {profile.name}'s {s.part} runs at {span[0]:g}..{span[1]:g} Hz; "
                              "retrain at a rate the sensor has, or use another board")
    elif channels != 1:
        raise DeployError(f"{need} but a microphone gives 1 channel; retrain the model on mono audio")
    entry = {"kind": s.kind, "part": s.part}  # the profile's entry as it stands: no invented empty fields
    for key, value in (("bus", s.bus), ("pins", dict(s.pins)), ("address", s.address)):
        if value not in (None, "", {}):
            entry[key] = value
    entry["rate"] = int(rate) if rate.is_integer() else rate
    if want == "imu" and channels == 6:
        entry["gyro_dps"] = GYRO_DPS
    return entry


def capture_rules(info: MI.ModelInfo, flags: dict | None = None) -> dict | None:
    """The capture section for /edgeloop.json: model.json's `capture`, each key overridden by a
    deploy flag that was given (None values are flags not given). Checked by the board's own
    `edgeloop_fw.capture.check`; DeployError in one line if it is wrong. A keyword model's kept
    windows are its input features (the second it heard), an IMU model's its sensor window."""
    from edgeloop_fw import capture

    given = {k: v for k, v in (flags or {}).items() if v is not None and v != ()}
    if not given and not info.capture:
        return None
    spec = dict(info.capture or {})
    spec.update(given)
    if "classes" in given:
        spec["classes"] = list(given["classes"])
    try:
        return capture.check(spec, list(info.classes))
    except ValueError as e:
        raise DeployError(f"{e} (from --keep-* flags or model.json's capture); fix it and deploy again — "
                          "nothing was sent to the board") from None


def board_config(profile: BoardProfile, info: MI.ModelInfo, model_remote: str, *,
                 sensor: str | dict | None = None, autostart: bool = False, device_id: str = "",
                 kws: dict | None = None, capture: dict | None = None) -> dict:
    """/edgeloop.json's content: the profile's sensor (or `sensor`: --sensor's choice, or an entry
    that replaces it, like the demo's replay), the model's stream settings, and the capture rules
    (model.json's `capture`, overridden key by key by `capture`: the deploy flags)."""
    entry = dict(sensor) if isinstance(sensor, dict) else pick_sensor(profile, info, sensor)
    cfg = {"sensor": entry, "window": info.window, "hop": info.hop, "model": model_remote,
           "classes": list(info.classes), "board": profile.name, "device_id": device_id,
           "autostart": bool(autostart)}
    cfg.update(model_settings(info, kws))
    rules = capture_rules(info, capture)
    if rules:
        cfg["capture"] = rules
    return cfg


def model_settings(info: MI.ModelInfo, kws: dict | None = None) -> dict:
    """The part of /edgeloop.json that belongs to the model, not the board (a signed bundle
    carries it, so a slot's model always runs with its own window, hop and classes)."""
    out = {"window": info.window, "hop": info.hop, "classes": list(info.classes)}
    spotter = kws if kws is not None else info.kws
    if spotter:
        out["kws"] = dict(spotter)
    return out


def config_file(cfg: dict) -> DeployFile:
    """The config as the file deploy puts on the board (with the model, in the same transaction)."""
    return DeployFile(CONFIG, (json.dumps(cfg, indent=1) + "\n").encode(), "edgeloop deploy --model", GROUP)


@dataclass
class ModelDeploy:
    """What `edgeloop deploy --model` adds to a deploy: the model files and, for a folder, the config."""

    files: list[DeployFile]
    config: dict | None
    facts: list[str]


def prepare_models(paths: Sequence[str | Path]) -> list[CheckedModel]:
    """Resolve and parse every model before the board is touched (the board is not needed for this)."""
    checked = [check_model_file(resolve_model(p)) for p in paths]
    if sum(c.source.info is not None for c in checked) > 1:
        raise DeployError("/edgeloop.json names one model, and several model folders were given; "
                          "deploy one model folder (other models as files without model.json)")
    return checked


def check_capture(checked: Sequence[CheckedModel], capture: dict | None, bundle=None) -> None:
    """The --keep-* flags and model.json's capture section (or the flags against a bundle's
    classes), checked before the port is touched."""
    if bundle is not None:
        bundle_capture(bundle, capture)
        return
    with_info = [c for c in checked if c.source.info is not None]
    if any(v not in (None, ()) for v in (capture or {}).values()) and not with_info:
        raise DeployError("--keep-* go into /edgeloop.json, which needs a model folder (model.json beside the "
                          "model file); pass --model with the folder")
    for c in with_info:
        capture_rules(c.source.info, capture)


def model_deploy(checked: Sequence[CheckedModel], profile: BoardProfile | None, *, sensor: str | None = None,
                 autostart: bool = False, capture: dict | None = None, device_id: str = "",
                 network: dict | None = None) -> ModelDeploy:
    """The fit check for `profile`, the config for the model folder, and the files to send.
    `capture`: the --keep-* flags ({"below": 0.6, ...}; None for a flag not given). `network`: the
    mqtt and wifi sections of a board that publishes itself (deploy/mqtt_client.py)."""
    with_info = [c for c in checked if c.source.info is not None]
    keep = any(v not in (None, ()) for v in (capture or {}).values())
    if (sensor or autostart or keep or device_id or network) and not with_info:
        raise DeployError("--sensor, --autostart, --device-id, --broker, --wifi and --keep-* go into /edgeloop.json, "
                          "which needs a model folder "
                          "(model.json beside the model file); pass --model with the folder")
    facts, files = [], []
    for c in checked:
        facts += c.facts
        if profile is not None and (c.heap or c.trees):
            facts += check_fit(c, profile)
        files.append(DeployFile(c.source.remote, c.data, str(c.source.file), "models"))
    config = None
    if with_info:
        if profile is None:
            raise DeployError("cannot tell which board this is, so its sensors are unknown; "
                              "pass --board NAME (see `edgeloop boards`)")
        src = with_info[0].source
        config = board_config(profile, src.info, src.remote, sensor=sensor, autostart=autostart, capture=capture,
                              device_id=device_id)
        config.update(network or {})
        files.append(config_file(config))
    return ModelDeploy(files, config, facts)


def bundle_capture(bundle, flags: dict | None) -> dict | None:
    """The capture section for a bundle deploy: the --keep-* flags, checked against the classes
    the bundle's model has (a bundle carries no model.json, so there is no section to start from).
    The board's config keeps it across slot switches; DeployError in one line if it is wrong."""
    settings = bundle.manifest["config"]
    info = SimpleNamespace(task="keyword" if settings.get("kws") else "gesture", kws=settings.get("kws"),
                           capture=None, classes=list(settings.get("classes") or []))
    return capture_rules(info, flags)


def bundle_deploy(bundle, profile: BoardProfile | None, *, sensor: str | None = None,
                  autostart: bool = False, capture: dict | None = None, device_id: str = "",
                  network: dict | None = None) -> ModelDeploy:
    """/edgeloop.json for a signed bundle: the profile's sensor for the bundle's model, and
    `"model": "@slots/<file>"` (the app takes the model, window, hop and classes from the
    active slot, so a rollback brings its own settings back). The bundle's model gets the
    same file and fit checks as --model, on the bytes it carries. `capture`: the --keep-* flags."""
    from edgeloop_fw.bundle_format import MARK

    m = bundle.manifest
    name = m["model"]
    src = ModelSource(Path(name), None)
    data = bundle.files[name]
    checked = _check_trees(src, data) if name.endswith(".csv") else _check_elm(src, data)
    if profile is None:
        raise DeployError("cannot tell which board this is, so its sensors are unknown; "
                          "pass --board NAME (see `edgeloop boards`)")
    facts = checked.facts + check_fit(checked, profile)
    settings = m["config"]
    need = SimpleNamespace(sensor=m["sensor"], rate_hz=float(settings["rate"]))
    cfg = {"sensor": pick_sensor(profile, need, sensor), "model": MARK + name, "board": profile.name,
           "device_id": device_id, "autostart": bool(autostart)}
    cfg.update({k: settings[k] for k in ("window", "hop", "classes", "kws") if k in settings})
    rules = bundle_capture(bundle, capture)
    if rules:
        cfg["capture"] = rules
    cfg.update(network or {})
    return ModelDeploy([config_file(cfg)], cfg, facts)


def board_profile(device, name: str | None) -> BoardProfile | None:
    """--board's profile, else the one profile the board's own report matches (None when unsure)."""
    from edgeloop.boards import profiles as boards

    if name:
        return boards.load(name)
    from edgeloop.link.discover import board_info

    found = board_info(device).get("profiles") or []
    return boards.load(found[0]) if len(found) == 1 else None

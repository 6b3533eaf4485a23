"""`edgeloop convert`: a model in, the on-board model file out."""

from __future__ import annotations

from pathlib import Path

import click

from edgeloop.convert.sklearn_trees import MAX_NODES


@click.command()
@click.argument("model", type=click.Path(dir_okay=True, path_type=Path))
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the model file (default: MODEL with the .elm suffix).")
@click.option("--board", help="Check that the model fits this board profile (see `edgeloop boards`).")
@click.option("--calib", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Representative float samples (.npz with x, or .npy) shaped like the model input, for int8 quantization.")
@click.option("--validate", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Labelled data (.npz with x and y): accuracy per class of float, TFLM int8 and edgeloop "
                   "(for trees: scikit-learn and edgeloop). Classifiers only.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the report as a self-contained HTML page with plots.")
@click.option("--c-header", type=click.Path(dir_okay=False, path_type=Path),
              help="scikit-learn trees only: also write emlearn's C header, for C firmware.")
@click.option("--max-nodes", type=click.IntRange(min=1),
              help=f"scikit-learn trees only: refuse a model with more decision nodes than this "
                   f"(checked before converting; the board's format holds at most {MAX_NODES}).")
@click.option("--backend", type=click.Choice(["portable", "native"]), default="portable", show_default=True,
              help="native: also build the C kernels as a MicroPython native module for --board's arch.")
@click.option("--activations", type=click.Choice(["int8", "int16"]), default="int8", show_default=True,
              help="int16: TFLite's 16x8 mode (int16 activations and input/output, int8 weights), for a Keras "
                   "model or a float .tflite with --calib; more precise, twice the arena, slower on the board.")
@click.option("--audio-frontend", is_flag=True,
              help="MODEL is TFLM's audio preprocessor (.tflite of signal-library ops): write the board's "
                   "front-end parameters (OUT .py and its .bin tables) instead of a model file.")
def convert(model, out, board, calib, validate, report_path, c_header, backend, activations, audio_frontend,
            max_nodes):
    """Convert a model into edgeloop's on-board model file (.elm).

    MODEL is an int8 .tflite, or a Keras .keras file / SavedModel directory /
    float .tflite / PyTorch .pt2 (torch.export.save; needs the torch extra) /
    ONNX .onnx (through onnx2tf in its own environment: docs/pytorch.md),
    which are quantized to full int8 with --calib data. A
    pickled/joblib scikit-learn DecisionTree/RandomForest/ExtraTrees classifier
    (.pkl, .joblib) becomes emlearn's tree CSV (features must be int16 integers:
    thresholds trained on fractions are rounded, with a note, and refused when
    --validate shows that changes a prediction).

    Every argument is checked before the heavy work starts (an unknown board,
    an option that does not apply to the model, an oversized forest); nothing
    is written until everything, --validate included, has passed.

    Every op is checked against the runtime now, on the laptop: the whole
    model first, then one message lists every op, dtype and parameter the
    board cannot run, each with its layer (docs/ops.md). With --board the
    model file must fit the board's filesystem and the arena plus the runtime
    its heap.

    \b
    Example:
      edgeloop convert micro_speech_quantized.tflite --out speech.elm --board rp2040
      edgeloop convert gesture.keras --calib calib.npz --validate test.npz --report report.html
      edgeloop convert net.pt2 --calib calib.npy --board rp2040
      EDGELOOP_ONNX2TF=~/.onnx2tf/bin/onnx2tf edgeloop convert net.onnx --calib calib.npy
      edgeloop convert gesture.keras --calib calib.npz --activations int16
      edgeloop convert forest.pkl --out forest.csv --c-header forest.h --validate test.npz --board rp2040
      edgeloop convert micro_speech_quantized.tflite --backend native --board rp2040
      edgeloop convert audio_preprocessor_int8.tflite --audio-frontend -o micro_speech_params.py
    """
    from edgeloop.convert.source import model_kind

    kind = "audio-frontend" if audio_frontend else model_kind(model)
    given = {"--board": board, "--calib": calib, "--validate": validate, "--report": report_path,
             "--c-header": c_header, "--backend native": backend == "native", "--max-nodes": max_nodes,
             "--activations int16": activations == "int16"}
    check_arguments(kind, model, given, {"--out": out, "--report": report_path, "--c-header": c_header})
    if audio_frontend:
        from edgeloop.convert.audio_params import write_params

        out = write_params(model, out or model.with_name("micro_speech_params.py"))
        click.echo(f"wrote {out} and {out.with_suffix('.bin')}: the board's audio front-end parameters")
        return
    labelled = None
    if validate:
        from edgeloop.report.validate import load_labelled, load_validation

        labelled = (load_labelled if kind == "sklearn" else load_validation)(validate)
    if kind == "sklearn":
        from edgeloop.cli.convert_trees import convert_trees

        convert_trees(model, out or model.with_suffix(".csv"), c_header=c_header, board=board,
                      max_nodes=max_nodes or MAX_NODES, labelled=labelled, validate_path=validate)
        return
    from edgeloop.atomic import write_bytes_atomic
    from edgeloop.convert.int8 import convert_tflite_bytes

    from edgeloop.cli.convert_console import load_with_progress, make_report, show_report
    source = load_with_progress(model, calib, activations)
    result = convert_tflite_bytes(source.tflite, str(model))
    lines = []
    if board:
        from edgeloop.boards import profiles as boards
        from edgeloop.convert.fit import check_fit, model_kernels
        lines = check_fit(len(result.data), result.arena_size, result.params_bytes, model_kernels(result.data),
                          boards.load(board))
    report = make_report(source, result, labelled)  # bad --validate data fails before anything is written
    out = out or model.with_suffix(".elm")
    write_bytes_atomic(out, result.data)
    click.echo(f"wrote {out}: {len(result.data)} bytes, {len(result.ops)} ops, {result.macs} MACs, "
               f"arena {result.arena_size} bytes")
    for line in lines:
        click.echo(f"  fits {board}: {line}")
    for op in result.allocating_ops:
        click.echo(f"  note: {op.name} ('{op.layer}') can accumulate up to {op.acc_bound}, beyond a 32-bit "
                   "board's small ints (2**30): its outputs stay exact but allocate on the board")
    if backend == "native":
        from edgeloop.native.install import write_for_board

        click.echo(write_for_board(board, out.parent)[1])
    show_report(report, report_path)


# option -> the kinds of MODEL it means something for
APPLIES = {"--board": ("keras", "tflite", "torch", "onnx", "sklearn"), "--calib": ("keras", "tflite", "torch", "onnx"),
           "--validate": ("keras", "tflite", "torch", "onnx", "sklearn"),
           "--report": ("keras", "tflite", "torch", "onnx"), "--c-header": ("sklearn",),
           "--backend native": ("keras", "tflite", "torch", "onnx"), "--max-nodes": ("sklearn",),
           "--activations int16": ("keras", "tflite", "onnx")}
KIND_NAMES = {"keras": "a Keras model", "tflite": "a .tflite model", "torch": "a PyTorch model",
              "onnx": "an ONNX model",
              "sklearn": "scikit-learn trees",
              "audio-frontend": "--audio-frontend"}


def check_arguments(kind: str, model: Path, given: dict, outputs: dict) -> None:
    """Refuse, in a second, what would otherwise fail (or be silently ignored) after minutes of work."""
    from edgeloop.errors import ConversionError

    for option, value in given.items():
        if value and kind not in APPLIES[option]:
            where = " and ".join(KIND_NAMES[k] for k in APPLIES[option])
            raise ConversionError(f"{option} does not apply to {KIND_NAMES[kind]} ({model.name}), only to {where}; "
                                  "drop it")
    if given["--backend native"] and not given["--board"]:
        raise ConversionError("--backend native needs --board (the native module is built for the board's arch)")
    if given["--board"]:
        from edgeloop.boards import profiles as boards

        boards.load(given["--board"])  # an unknown board is refused now, not after quantizing
    for option, path in outputs.items():
        if path is not None and path.exists() and path.resolve() == model.resolve():
            raise ConversionError(f"{option} {path} is the model itself, which would be replaced; give another name")

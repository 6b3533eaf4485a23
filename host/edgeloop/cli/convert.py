"""`edgeloop convert`: a model in, the on-board model file out."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("model", type=click.Path(dir_okay=True, path_type=Path))
@click.option("--out", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the model file (default: MODEL with the .elm suffix).")
@click.option("--board", help="Check that the model fits this board profile (see `edgeloop boards`).")
@click.option("--calib", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Representative float samples (.npz with x, or .npy) shaped like the model input, for int8 quantization.")
@click.option("--validate", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Labelled data (.npz with x and y): accuracy per class of float, TFLM int8 and edgeloop.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the report as a self-contained HTML page with plots.")
@click.option("--c-header", type=click.Path(dir_okay=False, path_type=Path),
              help="scikit-learn trees only: also write emlearn's C header, for C firmware.")
@click.option("--backend", type=click.Choice(["portable", "native"]), default="portable", show_default=True,
              help="native: also build the C kernels as a MicroPython native module for --board's arch.")
@click.option("--audio-frontend", is_flag=True,
              help="MODEL is TFLM's audio preprocessor (.tflite of signal-library ops): write the board's "
                   "front-end parameters (OUT .py and its .bin tables) instead of a model file.")
def convert(model, out, board, calib, validate, report_path, c_header, backend, audio_frontend):
    """Convert a model into edgeloop's on-board model file (.elm).

    MODEL is an int8 .tflite, or a Keras .keras file / SavedModel directory /
    float .tflite, which are quantized to full int8 with --calib data. A
    pickled/joblib scikit-learn DecisionTree/RandomForest/ExtraTrees classifier
    (.pkl, .joblib) becomes emlearn's tree CSV (features must be int16 integers).

    Every op is checked against the runtime now, on the laptop: an op the
    board cannot run is refused with its name and layer. With --board the
    model file must fit the board's filesystem and the arena plus the runtime
    its heap.

    \b
    Example:
      edgeloop convert micro_speech_quantized.tflite --out speech.elm --board rp2040
      edgeloop convert gesture.keras --calib calib.npz --validate test.npz --report report.html
      edgeloop convert forest.pkl --out forest.csv --c-header forest.h
      edgeloop convert micro_speech_quantized.tflite --backend native --board rp2040
      edgeloop convert audio_preprocessor_int8.tflite --audio-frontend -o micro_speech_params.py
    """
    if audio_frontend:
        from edgeloop.convert.audio_params import write_params

        out = write_params(model, out or model.with_name("micro_speech_params.py"))
        click.echo(f"wrote {out} and {out.with_suffix('.bin')}: the board's audio front-end parameters")
        return
    if backend == "native" and not board:
        from edgeloop.errors import ConversionError
        raise ConversionError("--backend native needs --board (the native module is built for the board's arch)")
    if model.suffix.lower() in (".pkl", ".pickle", ".joblib"):
        from edgeloop.convert.sklearn_trees import convert_file

        out = out or model.with_suffix(".csv")
        info = convert_file(model, out, c_header=c_header, board=board)
        click.echo(f"wrote {out}: {info.kind}, {info.n_trees} trees, {info.n_nodes} nodes, "
                   f"{info.n_leaves} leaves, {info.n_features} int16 features, {info.n_classes} classes")
        if c_header:
            click.echo(f"wrote {c_header}: emlearn C header")
        for line in info.fit:
            click.echo(f"  fits {board}: {line}")
        return
    from edgeloop.atomic import write_bytes_atomic
    from edgeloop.convert.int8 import convert_tflite_bytes

    from edgeloop.cli.convert_console import load_with_progress, make_report, show_report
    source = load_with_progress(model, calib)
    result = convert_tflite_bytes(source.tflite, str(model))
    lines = []
    if board:
        from edgeloop.boards import profiles as boards
        from edgeloop.convert.fit import check_fit
        lines = check_fit(len(result.data), result.arena_size, result.params_bytes, boards.load(board))
    report = make_report(source, result, validate)  # bad --validate data fails before anything is written
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

"""Converting int8 .tflite files, the model file's integrity checks, and the convert/predict CLI."""

import numpy as np
import pytest
from click.testing import CliRunner

from edgeloop.cli import cli
from edgeloop.convert.int8 import convert_tflite
from edgeloop.convert.tflite import read_tflite
from edgeloop.errors import ConversionError, ModelError
from edgeloop.run.predict import load_model

from tests.tools.runtime_helpers import DATA, HELLO, SPEECH, need


def one_line_error(result):
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


def test_reader_agrees_with_the_schema_generated_reader():
    """Our slot-by-slot reader vs the generated one shipped with tflite-micro."""
    schema = pytest.importorskip("tflite_micro.tensorflow.lite.micro.python.schema_py_generated")
    data = need(SPEECH).read_bytes()
    ours = read_tflite(data)
    ref = schema.ModelT.InitFromObj(schema.Model.GetRootAs(data, 0))
    sg = ref.subgraphs[0]
    assert [t.name.decode() for t in sg.tensors] == [t.name for t in ours.tensors]
    assert [tuple(t.shape) for t in sg.tensors] == [t.shape for t in ours.tensors]
    assert [list(o.inputs) for o in sg.operators] == [o.inputs for o in ours.operators]
    codes = [max(ref.operatorCodes[o.opcodeIndex].builtinCode, ref.operatorCodes[o.opcodeIndex].deprecatedBuiltinCode)
             for o in sg.operators]
    assert codes == [o.opcode for o in ours.operators]
    for t, r in zip(ours.tensors, sg.tensors):
        if r.quantization is not None and r.quantization.scale is not None:
            assert np.array_equal(t.scale, np.asarray(r.quantization.scale, np.float32))
    dw = ref.subgraphs[0].operators[1].builtinOptions
    assert (dw.strideW, dw.strideH, dw.depthMultiplier) == (
        ours.operators[1].options.int32(1), ours.operators[1].options.int32(2), ours.operators[1].options.int32(3))


def test_float_tflite_is_refused_with_an_explanation():
    with pytest.raises(ConversionError, match="float model.*calib"):
        convert_tflite(need(DATA / "tflm" / "hello_world" / "hello_world_float.tflite"))


def test_unsupported_op_is_refused_with_op_and_layer(monkeypatch):
    from edgeloop_fw.runtime import opcodes
    monkeypatch.delitem(opcodes.KERNELS, 25)  # as if the runtime had no SOFTMAX
    with pytest.raises(ConversionError, match=r"op SOFTMAX \(layer 'labels_softmax'\) is not supported"):
        convert_tflite(need(SPEECH))


def test_not_a_tflite_file_is_refused(tmp_path):
    p = tmp_path / "x.tflite"
    p.write_bytes(b"\0" * 64)
    with pytest.raises(ModelError, match="not a TensorFlow Lite model"):
        convert_tflite(p)


@pytest.mark.parametrize("damage,message", [
    (lambda b: b[:-1], "truncated"),
    (lambda b: b + b"\0", "after its end"),
    (lambda b: b[:-5] + bytes([b[-5] ^ 1]) + b[-4:], "SHA-256 mismatch"),
    (lambda b: b[:4] + b"\x02\x00" + b[6:], "version 2"),
    (lambda b: b"XXXX" + b[4:], "not an edgeloop model"),
    (lambda b: b[:40], "shorter than the header"),
])
def test_damaged_model_file_is_refused_on_the_host(tmp_path, damage, message):
    blob = convert_tflite(need(HELLO)).data
    p = tmp_path / "m.elm"
    p.write_bytes(damage(blob))
    with pytest.raises(ModelError, match=message):
        load_model(p)


def test_cli_convert_then_predict_a_batch(tmp_path):
    out = tmp_path / "hello.elm"
    r = CliRunner().invoke(cli, ["convert", str(need(HELLO)), "--out", str(out), "--board", "rp2040"])
    assert r.exit_code == 0, r.output
    assert "fits rp2040" in r.output and out.exists()
    x = np.arange(-128, 128, dtype=np.int8).reshape(256, 1)
    np.save(tmp_path / "x.npy", x)
    r = CliRunner().invoke(cli, ["predict", "-m", str(out), "-i", str(tmp_path / "x.npy"), "-o", str(tmp_path / "y.npy")])
    assert r.exit_code == 0, r.output
    y = np.load(tmp_path / "y.npy")
    assert y.shape == (256, 1) and y.dtype == np.int8


def test_cli_errors_are_one_line(tmp_path):
    out = tmp_path / "s.elm"
    assert CliRunner().invoke(cli, ["convert", str(need(SPEECH)), "-o", str(out)]).exit_code == 0
    np.save(tmp_path / "f.npy", np.zeros((1, 1960)))
    np.save(tmp_path / "s.npy", np.zeros((1, 40), np.int8))
    line = one_line_error(CliRunner().invoke(cli, ["predict", "-m", str(out), "-i", str(tmp_path / "f.npy")]))
    assert "float64" in line and "int8 [1, 1960]" in line
    line = one_line_error(CliRunner().invoke(cli, ["predict", "-m", str(out), "-i", str(tmp_path / "s.npy")]))
    assert "shape [1, 40]" in line and "[1, 1960]" in line
    (tmp_path / "t.elm").write_bytes(out.read_bytes()[:1000])
    line = one_line_error(CliRunner().invoke(cli, ["predict", "-m", str(tmp_path / "t.elm"), "-i", str(tmp_path / "s.npy")]))
    assert "truncated" in line
    line = one_line_error(CliRunner().invoke(cli, ["convert", str(DATA / "tflm" / "hello_world" / "hello_world_float.tflite"),
                                                   "-o", str(tmp_path / "f.elm")]))
    assert "float model" in line and not (tmp_path / "f.elm").exists()


def test_cli_board_fit_refusal_gives_the_numbers(tmp_path, monkeypatch):
    from edgeloop.convert import fit
    monkeypatch.setattr(fit, "RUNTIME_BASE_BYTES", 10 ** 9)
    line = one_line_error(CliRunner().invoke(cli, ["convert", str(need(SPEECH)), "-o", str(tmp_path / "s.elm"),
                                                   "--board", "rp2040"]))
    assert "bytes of heap" in line and "arena 6040" in line and "for 4 kernel modules" in line
    assert not (tmp_path / "s.elm").exists()


def test_the_fit_check_budgets_the_models_own_kernels_once_each():
    """micro_speech runs DEPTHWISE_CONV_2D, FULLY_CONNECTED, RESHAPE and SOFTMAX (the reader generated
    from TFLite's schema, not ours): its runtime budget is the base plus those four modules, not every kernel."""
    import dataclasses

    from edgeloop.boards import profiles
    from edgeloop.convert import fit

    schema = pytest.importorskip("tflite_micro.tensorflow.lite.micro.python.schema_py_generated")
    ref = schema.ModelT.InitFromObj(schema.Model.GetRootAs(need(SPEECH).read_bytes(), 0))
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    ops = {names[max(ref.operatorCodes[op.opcodeIndex].builtinCode, ref.operatorCodes[op.opcodeIndex].deprecatedBuiltinCode)]
           for op in ref.subgraphs[0].operators}
    assert ops == {"DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "RESHAPE", "SOFTMAX"}
    conv = convert_tflite(need(SPEECH))
    kernels = fit.model_kernels(conv.data)
    assert kernels == {"depthwise_conv_2d", "fully_connected", "reshape", "softmax"}
    portable = fit.runtime_bytes(kernels)
    assert portable == fit.runtime_bytes(sorted(kernels) * 3)  # an op used twice imports its module once
    # A native emitter: the viper depthwise and FC modules replace the portable ones.
    viper = fit.runtime_bytes(kernels, native_emitter=True)
    assert viper == portable + sum(fit.VIPER_MODULE_BYTES[k] - fit.KERNEL_MODULE_BYTES[k]
                                   for k in ("depthwise_conv_2d", "fully_connected"))
    # And edgeloop's native module (the nano's armv6m): its code is loaded for any model.
    runtime = fit.runtime_bytes(kernels, native_emitter=True, native_module=True)
    assert runtime == portable + fit.NATIVE_PACKAGE_BYTES + sum(
        fit.NATIVE_MODULE_BYTES[k] - fit.KERNEL_MODULE_BYTES[k] for k in ("depthwise_conv_2d", "fully_connected", "softmax"))
    every = fit.runtime_bytes(fit.KERNEL_MODULE_BYTES)
    assert portable < every - 30_000  # not every kernel (the old 57,312 B budget)
    need_heap = conv.arena_size + conv.params_bytes + runtime
    # A board with exactly that heap takes it (the single every-kernel figure refused it) ...
    board = dataclasses.replace(profiles.load("nano_rp2040_connect"), heap_bytes=need_heap)
    lines = fit.check_fit(len(conv.data), conv.arena_size, conv.params_bytes, kernels, board)
    assert f"heap {need_heap} B" in lines[1] and "depthwise_conv_2d, fully_connected, reshape, softmax" in lines[1]
    # ... and one byte less does not, with the numbers.
    with pytest.raises(ConversionError, match=f"needs {need_heap} bytes of heap .*runtime {runtime} for 4 kernel"):
        fit.check_fit(len(conv.data), conv.arena_size, conv.params_bytes, kernels,
                      dataclasses.replace(board, heap_bytes=need_heap - 1))


def test_a_kernel_module_without_a_measured_figure_is_refused_not_budgeted_as_nothing():
    from edgeloop.convert import fit
    from edgeloop_fw.runtime.opcodes import KERNELS, KERNELS_16X8

    assert set(fit.KERNEL_MODULE_BYTES) == set(KERNELS.values()) | set(KERNELS_16X8.values())
    with pytest.raises(ValueError, match="runtime_heap --write"):
        fit.runtime_bytes(["reshape", "a_new_kernel"])


def test_cli_convert_names_an_op_whose_accumulators_outgrow_small_ints(tmp_path, monkeypatch):
    """A huge bias makes FULLY_CONNECTED's accumulator bound pass 2**30: convert still writes the
    model (the board's bytes stay exact) and says which op will allocate on a 32-bit board."""
    from edgeloop.convert.ops import fully_connected

    real = fully_connected.prepare

    def big_bias(ctx):
        plan = real(ctx)
        plan.acc_bound += 1 << 30
        return plan

    monkeypatch.setattr(fully_connected, "prepare", big_bias)
    out = tmp_path / "hello.elm"
    r = CliRunner().invoke(cli, ["convert", str(need(HELLO)), "--out", str(out)])
    assert r.exit_code == 0 and out.exists()
    notes = [line for line in r.output.splitlines() if "note: FULLY_CONNECTED" in line]
    assert len(notes) == 3 and "allocate on the board" in notes[0]

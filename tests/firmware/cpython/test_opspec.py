"""The param spec (edgeloop_fw/runtime/opspec.py) and everything generated from it.

Each op's layout is written once; the kernels' const blocks, el_params.h and
opcodes.VERSIONS are derived. These tests fail when a generated copy was
edited by hand or the spec changed without `python -m tests.tools.opspec_gen`.
"""

import re

import pytest

from tests.tools import opspec_gen
from edgeloop_fw.runtime import opcodes, opspec


def test_generated_files_are_up_to_date():
    stale = [str(p) for p in opspec_gen.stale()]
    assert not stale, f"run `python -m tests.tools.opspec_gen`: {stale}"


def test_every_op_has_a_portable_kernel_and_every_kernel_file_a_params_block():
    assert set(opspec.OPS) == set(opcodes.KERNELS.values()) | set(opcodes.KERNELS_16X8.values())
    files = opspec_gen.kernel_files()
    assert {op for p, op in files.items() if p.parent.name == "kernels"} == set(opspec.OPS)
    for path in files:
        assert "# --- generated from opspec: do not edit ---" in path.read_text(), path


def _consts(text: str) -> dict[str, int]:
    block = re.search(r"# --- generated from opspec: do not edit ---\n(.*?)# --- end generated ---", text, re.S)
    return {k: int(v) for k, v in re.findall(r"(\w+) = const\((\d+)\)", block.group(1))}


def test_each_kernel_block_is_the_spec():
    for path, op in opspec_gen.kernel_files().items():
        consts = _consts(path.read_text())
        assert consts.pop("KERNEL_VERSION") == opspec.version(op) == opcodes.VERSIONS[op], path
        names = opspec.names(op)
        assert consts == {k: names[k] for k in consts}, path


def test_the_header_is_the_spec():
    text = opspec_gen.HEADER.read_text()
    for op, prefix in opspec_gen.C_PREFIX.items():
        for name, i in opspec.names(op).items():
            assert f"#define EL_{prefix}_{name} {i}\n" in text


def test_viper_kernels_share_one_requantization():
    blocks = {}
    for name in ("fully_connected", "conv_2d", "depthwise_conv_2d"):
        text = (opspec_gen.RUNTIME / "viper" / f"{name}.py").read_text()
        for kind in ("requant setup", "requant"):
            m = re.search(rf"^([ \t]*)# --- generated {kind}: do not edit ---\n(.*?)^[ \t]*# --- end generated ---",
                          text, re.M | re.S)
            assert m, f"{name}: no {kind} block"
            body = "".join(line[len(m.group(1)):] if line.strip() else line
                           for line in m.group(2).splitlines(True))
            blocks.setdefault(kind, set()).add(body)
    assert blocks == {"requant setup": {opspec_gen.REQUANT_SETUP}, "requant": {opspec_gen.REQUANT}}


def test_pack_lays_out_fields_tails_and_limbs_in_spec_order():
    p = opspec.pack("fully_connected", batches=1, depth=2, units=2, input=3, output=4, weights=5, scratch=6,
                    chunk=7, output_offset=8, act_min=9, act_max=10, per_unit=[(11, 12, 13), (14, 15, 16)],
                    limbs=[0, 17, 18, 19])
    assert p == [1, 2, 2, *range(3, 17), 0, 17, 18, 19]
    names = opspec.names("fully_connected")
    assert p[names["PER_UNIT"] + names["PER_UNIT_STEP"] + names["SHIFT"]] == 16
    p = opspec.pack("concatenation", outer=1, output=2, n_inputs=2, inputs=[(3, 4), (5, 6)])
    assert p == [1, 2, 2, 3, 4, 5, 6]
    assert opspec.pack("reshape") == []


@pytest.mark.parametrize("change, why", [
    (dict(depth=None), "missing"),
    (dict(extra=1), "no field extra"),
    (dict(per_unit=[(1, 2, 3)]), "1 per_unit for units = 2"),
    (dict(per_unit=[(1, 2), (3, 4)]), "has 2 values, not 3"),
    (dict(limbs=[3, 1, 2, 3]), "limb tail"),
])
def test_pack_refuses_an_incomplete_or_misshapen_layout(change, why):
    fields = dict(batches=1, depth=2, units=2, input=3, output=4, weights=5, scratch=6, chunk=7, output_offset=8,
                  act_min=9, act_max=10, per_unit=[(11, 12, 13), (14, 15, 16)], limbs=[0, 17, 18, 19])
    fields.update(change)
    fields = {k: v for k, v in fields.items() if v is not None}
    with pytest.raises(ValueError, match=why):
        opspec.pack("fully_connected", **fields)


def test_pack_checks_run_lengths():
    with pytest.raises(ValueError, match="'regs' has 5 values, not 6"):
        opspec.pack("softmax", outer=1, depth=1, input=0, output=1, table=0, count=1, scratch=2, regs=[0] * 5,
                    input_multiplier=1, input_left_shift=0, diff_min=-1)


def _with_op_version(blob: bytes, version: int) -> bytes:
    """The model with every op-table row's kernel version set, re-hashed (a well-formed file)."""
    import hashlib
    import struct

    from edgeloop_fw.runtime import format as F

    b = bytearray(blob)
    s = struct.unpack_from(F.SUMMARY_FMT, b, F.SUMMARY_AT)
    at = F.TABLES_AT + s[5] * F.TENSOR_SIZE + 2 * (s[7] + s[8])
    for i in range(s[6]):
        struct.pack_into("<H", b, at + i * F.OP_SIZE + 2, version)
    b[12:44] = hashlib.sha256(bytes(b[F.HASHED_FROM:])).digest()
    return bytes(b)


def test_loader_refuses_another_kernel_version_and_the_writer_writes_the_spec_one():
    import io

    from edgeloop.convert.int8 import convert_tflite
    from edgeloop_fw.runtime.loader import Model, ModelFileError
    from tests.tools.runtime_helpers import HELLO, need

    blob = convert_tflite(need(HELLO)).data
    assert _with_op_version(blob, opspec.version("fully_connected")) == blob
    with pytest.raises(ModelFileError, match=r"op 0 \(fully_connected\) kernel version 0, this runtime has 1; "
                                             "convert the model again"):
        Model(io.BytesIO(_with_op_version(blob, 0)))


def test_interpreter_refuses_a_kernel_file_of_another_version(monkeypatch):
    import io

    from edgeloop.convert.int8 import convert_tflite
    from edgeloop_fw.runtime.interpreter import Interpreter
    from edgeloop_fw.runtime.kernels import fully_connected
    from edgeloop_fw.runtime.loader import Model, ModelFileError
    from tests.tools.runtime_helpers import HELLO, need

    monkeypatch.setattr(fully_connected, "KERNEL_VERSION", 99)
    with pytest.raises(ModelFileError, match=r"kernel fully_connected \(level kernels\) is version 99"):
        Interpreter(Model(io.BytesIO(convert_tflite(need(HELLO)).data)), ("kernels",))

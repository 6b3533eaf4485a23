"""`edgeloop devices`, `info` and `sim` from the command line, including every refusal."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from edgeloop.cli import cli
from edgeloop.link.discover import choose_port, match_profiles
from edgeloop.errors import DeviceError, DeviceNotFound


class FakePort:
    def __init__(self, device, vid=None, pid=None, description=""):
        self.device, self.vid, self.pid, self.description = device, vid, pid, description


def one_line_error(result):
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.fixture
def no_sims(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGELOOP_RUNTIME_DIR", str(tmp_path / "runtime"))


def test_no_board_found_names_ports_and_the_sim(no_sims):
    with pytest.raises(DeviceNotFound) as e:
        choose_port(None, ports=[FakePort("/dev/ttyS0")])
    text = str(e.value)
    assert "/dev/ttyS0" in text and "edgeloop sim --board rp2040" in text


def test_one_usb_board_is_chosen_by_vid_pid(no_sims):
    # 2E8A:0005 is MicroPython on a Raspberry Pi RP2040 (rp2040 profile).
    ports = [FakePort("/dev/ttyS0"), FakePort("/dev/ttyACM0", 0x2E8A, 0x0005)]
    assert choose_port(None, ports=ports) == "/dev/ttyACM0"


def test_two_boards_need_port(no_sims):
    ports = [FakePort("/dev/ttyACM0", 0x2E8A, 0x0005), FakePort("/dev/ttyACM1", 0x2E8A, 0x0005)]
    with pytest.raises(DeviceError, match="choose one with --port"):
        choose_port(None, ports=ports)


def test_profile_match_from_machine_string():
    # sys.implementation._machine of stock MicroPython 1.27 on a Pico; _mpy 6.3 + armv6m.
    info = {"machine": "Raspberry Pi Pico with RP2040", "mpy": 6 | 3 << 8 | 4 << 10}
    assert "rp2040" in match_profiles(info)


def test_cli_info_without_board(no_sims, monkeypatch):
    monkeypatch.setattr("serial.tools.list_ports.comports", lambda: [FakePort("/dev/ttyS0")])
    line = one_line_error(CliRunner().invoke(cli, ["info"]))
    assert "no board found" in line and "edgeloop sim" in line


def test_cli_info_port_missing():
    line = one_line_error(CliRunner().invoke(cli, ["info", "--port", "/dev/ttyEDGELOOP-none"]))
    assert "does not exist" in line


def test_cli_sim_unknown_board():
    line = one_line_error(CliRunner().invoke(cli, ["sim", "--board", "pico9000"]))
    assert "unknown board 'pico9000'" in line and "rp2040" in line


def test_cli_sim_without_node(monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name: None)
    line = one_line_error(CliRunner().invoke(cli, ["sim"]))
    assert "node is not installed" in line and "make setup" in line


def test_cli_sim_without_npm_package(monkeypatch, tmp_path):
    monkeypatch.setattr("edgeloop.sim.board.node_project_dir", lambda: tmp_path)
    line = one_line_error(CliRunner().invoke(cli, ["sim"]))
    assert "make setup" in line and "npm ci" in line


@pytest.mark.parametrize("cmd", ["sim", "devices", "info"])
def test_help_has_an_example(cmd):
    result = CliRunner().invoke(cli, [cmd, "--help"])
    assert result.exit_code == 0 and "Example" in result.output


@pytest.mark.sim
def test_devices_and_info_find_a_running_sim(no_sims, monkeypatch):
    from edgeloop.sim import VirtualBoard

    monkeypatch.setattr("serial.tools.list_ports.comports", lambda: [])
    with VirtualBoard("rp2040") as vb:
        out = CliRunner().invoke(cli, ["devices"]).output
        assert vb.port in out and "rp2040" in out and "virtual" in out
        result = CliRunner().invoke(cli, ["info"])
        assert result.exit_code == 0, result.output
        assert "MicroPython 1.27.0" in result.output and "profile     rp2040" in result.output
        assert "ABI 6.3" in result.output
    assert vb.port not in CliRunner().invoke(cli, ["devices"]).output  # unregistered on stop


# --- devices --ask interrupts only what it may ---------------------------------------------------------

@pytest.fixture
def two_boards(no_sims, monkeypatch, tmp_path):
    """A USB Pico on /dev/ttyACM0 and a virtual board that another process registered."""
    import os

    from edgeloop.sim.registry import RunningSim, register

    pty = tmp_path / "pts-7"
    pty.write_text("")
    # pid: a live process (this one) for the bridge; owner: our parent, i.e. another program
    register(RunningSim(port=str(pty), board="rp2040", flash_dir=str(tmp_path), pid=os.getpid(),
                        owner_pid=os.getppid()))
    monkeypatch.setattr("serial.tools.list_ports.comports", lambda: [FakePort("/dev/ttyACM0", 0x2E8A, 0x0005)])
    monkeypatch.setattr("edgeloop.link.detect.scan_drives", lambda *a, **k: [])
    monkeypatch.setattr("edgeloop.link.detect.scan_usb", lambda *a, **k: [])
    asked = []
    monkeypatch.setattr("edgeloop.cli.devices._ask", lambda seen: asked.append(seen.port) or "MicroPython v1.27")
    return str(pty), asked


def test_ask_without_consent_interrupts_nothing(two_boards):
    _, asked = two_boards
    line = one_line_error(CliRunner().invoke(cli, ["devices", "--ask"]))
    assert "would interrupt the app running on /dev/ttyACM0" in line and "--port" in line and "--yes" in line
    assert asked == []


def test_ask_yes_skips_virtual_boards_of_other_programs_and_says_so(two_boards):
    pty, asked = two_boards
    r = CliRunner().invoke(cli, ["devices", "--ask", "--yes"])
    assert r.exit_code == 0, r.output
    assert asked == ["/dev/ttyACM0"]
    assert f"skipped {pty}: a virtual board that another program" in r.output


def test_ask_a_named_virtual_board_only(two_boards):
    pty, asked = two_boards
    r = CliRunner().invoke(cli, ["devices", "--ask", "--port", pty])
    assert r.exit_code == 0, r.output
    assert asked == [pty] and "skipped /dev/ttyACM0: not named with --port" in r.output


def test_ask_on_a_terminal_asks_first(two_boards, monkeypatch):
    _, asked = two_boards
    monkeypatch.setattr("edgeloop.cli.devices._can_prompt", lambda: True)
    r = CliRunner().invoke(cli, ["devices", "--ask"], input="n\n")
    assert r.exit_code == 0 and asked == [] and "skipped /dev/ttyACM0: you said no" in r.output
    r = CliRunner().invoke(cli, ["devices", "--ask"], input="y\n")
    assert r.exit_code == 0 and asked == ["/dev/ttyACM0"]


def test_port_without_ask_is_refused(two_boards):
    line = one_line_error(CliRunner().invoke(cli, ["devices", "--yes"]))
    assert "add --ask" in line

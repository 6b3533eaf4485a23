"""docs/architecture.md is true of the tree: imports flow down its layer table, every folder
has a row, and nothing in the package exists only for tests or benchmarks.

The table is parsed from the page itself, so the page and this check cannot drift apart:
moving a module into the wrong folder, or importing upwards, fails here with the file and
line to look at.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from tests.tools.paths import REPO

HOST = REPO / "host" / "edgeloop"
FIRMWARE = REPO / "firmware"
DOC = REPO / "docs" / "architecture.md"


def _layers() -> dict[str, int]:
    """Top-level name under edgeloop/ ('boards', 'errors', '__init__', ...) -> layer."""
    table = DOC.read_text().split("<!-- layers:", 1)[1].split("\n\n", 1)[0]
    layers = {}
    for num, cell in re.findall(r"^\| (\d+) \| ([^|]+) \|", table, flags=re.M):
        for name in re.findall(r"`([^`]+)`", cell):
            if name.startswith("firmware/"):
                continue
            name = name.removeprefix("edgeloop/").rstrip("/").removesuffix(".py")
            layers[name] = int(num)
    return layers


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(HOST.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module or module.name) for every import in the file."""
    name = _module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.append((node.lineno, mod))
            out += [(node.lineno, f"{mod}.{a.name}") for a in node.names]
    return out


def _host_modules() -> list[Path]:
    # board_scripts are sent to the board as text, and sim/shims are the board-only modules a unix
    # interpreter imports: both run on the board's side and import the board's modules
    return [p for p in sorted(HOST.rglob("*.py")) if "board_scripts" not in p.parts and "shims" not in p.parts]


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_folder_and_top_level_module_has_a_row():
    layers = _layers()
    present = {p.name for p in HOST.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    present |= {p.stem for p in HOST.glob("*.py")}
    assert present == set(layers), (f"in the tree but not in docs/architecture.md: {sorted(present - set(layers))}; "
                                    f"in the page but not in the tree: {sorted(set(layers) - present)}")


def test_imports_go_down_the_layers():
    layers = _layers()
    wrong = []
    for path in _host_modules():
        src = _top(_module_name(path))
        for line, target in _imports(path):
            if target.split(".")[0] != "edgeloop" or target == "edgeloop":
                continue
            dst = _top(target)
            if dst in layers and layers[dst] > layers[src]:
                wrong.append(f"{path.relative_to(REPO)}:{line} ({src}, layer {layers[src]}) imports "
                             f"{target} (layer {layers[dst]})")
    assert not wrong, "imports going up:\n" + "\n".join(wrong)


def test_firmware_imports_nothing_from_the_host():
    wrong = [f"{p.relative_to(REPO)}:{line} {mod}" for p in sorted(FIRMWARE.rglob("*.py"))
             for line, mod in _imports_plain(p) if mod == "edgeloop" or mod.startswith("edgeloop.")]
    assert not wrong, wrong


def _imports_plain(path: Path) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            out.append((node.lineno, node.module or ""))
    return out


def _loaded_by_name() -> set[str]:
    """Modules the package loads by name rather than by an import statement."""
    from edgeloop.cli import COMMANDS
    from edgeloop.cli.train import SUBCOMMANDS as TRAIN
    from edgeloop_fw.runtime.opcodes import KERNELS, KERNELS_16X8

    names = {f"edgeloop.cli.{name}" for name in COMMANDS} | {f"edgeloop.cli.train_{name}" for name in TRAIN}
    return names | {f"edgeloop.convert.ops.{k}" for k in [*KERNELS.values(), *KERNELS_16X8.values()]}


def test_no_module_exists_only_for_tests_or_benchmarks():
    modules = {_module_name(p) for p in _host_modules()}
    # the package, its console script and `python -m edgeloop.cli`
    used = {"edgeloop", "edgeloop.cli", "edgeloop.cli.__main__"} | _loaded_by_name()
    for path in _host_modules():
        used |= {m for _, m in _imports(path)}
    # a package counts as used when one of its modules is
    used |= {m.rsplit(".", 1)[0] for m in used}
    unused = sorted(m for m in modules if m not in used)
    assert not unused, f"modules no host code imports (only tests or benchmarks do, or nothing): {unused}"

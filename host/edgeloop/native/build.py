"""Compile the C kernels for one target: the host (a shared library for ctypes),
bare-metal Cortex-M (objects for the QEMU proof) or a MicroPython native module.

Why per-target flags live here and nowhere else: the same sources must give the
same bytes on every target, and the only thing allowed to differ is which
inner loop (`el_dot.c`) the target's predefined macros select.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..errors import EdgeloopError, ToolMissing

KERNELS = Path(__file__).resolve().parent / "kernels"
C_SOURCES = ("el_ops.c", "el_dot.c", "el_dw.c", "el_dw1.c", "el_misc.c", "el_softmax.c", "el_tconv.c", "el_bmm.c",
             "el_audio.c")  # el_audio.c: the keyword front end (docs/audio-frontend.md)
# Keeps gcc from turning copy/fill loops into memcpy/memset calls: a native
# module and the bare-metal tests link no libc.
FREESTANDING = ("-ffreestanding", "-fno-builtin", "-fno-tree-loop-distribute-patterns")


class ToolchainMissing(ToolMissing):
    """A compiler for the requested target is not installed."""


@dataclass(frozen=True)
class Target:
    name: str
    cc: str
    flags: tuple[str, ...]
    asm: tuple[str, ...] = ()  # extra assembly sources for this target
    install: str = ""  # what to install when `cc` is missing


TARGETS = {
    "host": Target("host", "gcc", ("-O2", "-fPIC")),
    "armv6m": Target("armv6m", "arm-none-eabi-gcc", ("-O2", "-mthumb", "-mcpu=cortex-m0plus"),
                     asm=("el_dot4_v6m.S", "el_requant_v6m.S", "el_dw4_v6m.S", "el_dw1_v6m.S", "el_pw4_v6m.S"), install="Debian's gcc-arm-none-eabi (sudo apt-get install gcc-arm-none-eabi)"),
    "armv7emdp": Target("armv7emdp", "arm-none-eabi-gcc", asm=("el_dot4_v7em.S", "el_dot4w_v7em.S", "el_dw4_v7em.S", "el_dw1_v7em.S", "el_dw3_v7em.S", "el_requant_v7em.S", "el_requant_sat_v7em.S", "el_pw4_v7em.S", "el_pw2p_v7em.S"), flags=
                        ("-O2", "-mthumb", "-mcpu=cortex-m7", "-mfpu=fpv5-d16", "-mfloat-abi=hard"),
                        install="Debian's gcc-arm-none-eabi (sudo apt-get install gcc-arm-none-eabi)"),
    "xtensawin": Target("xtensawin", "xtensa-esp32s3-elf-gcc", ("-O2", "-mlongcalls"),
                        install="Espressif's xtensa-esp32s3-elf-gcc (ESP-IDF's install.sh esp32s3, then export.sh)"),
    "x64": Target("x64", "gcc", ("-O2", "-fno-common")),
}


def sources(target: Target) -> list[Path]:
    return [KERNELS / s for s in C_SOURCES + target.asm]


def need_compiler(target: Target) -> str:
    cc = shutil.which(target.cc)
    if not cc:
        raise ToolchainMissing(f"{target.cc} is not installed: install {target.install or target.cc}")
    return cc


def _digest(*parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.read_bytes() if isinstance(p, Path) else str(p).encode())
    return h.hexdigest()[:16]


def compile_objects(target: Target, out: Path, extra=()) -> list[Path]:
    """One .o per source in `out` (reused when sources and flags are unchanged)."""
    cc = need_compiler(target)
    out.mkdir(parents=True, exist_ok=True)
    objs = []
    for src in sources(target):
        flags = [*target.flags, *FREESTANDING, *extra, "-I", str(KERNELS)]
        obj = out / f"{src.stem}-{_digest(src, KERNELS / 'el_kernels.h', KERNELS / 'el_internal.h', KERNELS / 'el_audio.h', *flags)}.o"
        if not obj.exists():
            _run([cc, *flags, "-c", str(src), "-o", str(obj)])
        objs.append(obj)
    return objs


def host_library(out: Path) -> Path:
    """A shared library of the kernels for ctypes (host gcc)."""
    target = TARGETS["host"]
    objs = compile_objects(target, out)
    lib = out / f"libedgeloop_native-{_digest(*objs)}.so"
    if not lib.exists():
        _run([need_compiler(target), "-shared", "-o", str(lib), *map(str, objs)])
    return lib


def _run(cmd: list[str]) -> None:
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        first = (r.stderr.strip().splitlines() or ["no output"])[0]
        raise EdgeloopError(f"{Path(cmd[0]).name} failed: {first}")


# --- MicroPython native modules -----------------------------------------------------------------

NATMOD = Path(__file__).resolve().parent / "natmod"
# Position independent, no unwind tables, one section per function (the linker
# puts mpy_init's first: the loader starts the module at offset 0), no stack
# protector (it would need a canary symbol the runtime does not export).
NATMOD_FLAGS = ("-fpic", "-fno-common", "-ffunction-sections", "-fdata-sections", "-fno-stack-protector",
                "-fno-asynchronous-unwind-tables", "-fno-unwind-tables", "-Wall")
LINKER = {"x64": "ld", "armv6m": "arm-none-eabi-ld", "armv7emdp": "arm-none-eabi-ld",
          "xtensawin": "xtensa-esp32s3-elf-ld"}


def module_object(arch: str, out: Path) -> Path:
    """One relocatable ELF object: the kernels, the module glue and the libgcc
    helpers they call (ARMv6-M's 64-bit multiply), merged by `ld -r`."""
    target = TARGETS.get(arch)
    if target is None or arch == "host":
        raise EdgeloopError(f"no native build for arch {arch!r}")
    cc = need_compiler(target)
    out.mkdir(parents=True, exist_ok=True)
    flags = [*NATMOD_FLAGS, "-I", str(NATMOD)]
    objs = compile_objects(target, out / "obj", extra=flags)
    glue = NATMOD / "el_module.c"
    gflags = [*target.flags, *FREESTANDING, *flags, "-I", str(KERNELS)]
    headers = (NATMOD / "el_natmod.h", NATMOD / "el_params.h", KERNELS / "el_kernels.h", NATMOD / "el_audio_glue.h",
               KERNELS / "el_audio.h")
    gobj = out / "obj" / f"el_module-{_digest(glue, *headers, *gflags)}.o"
    if not gobj.exists():
        _run([cc, *gflags, "-c", str(glue), "-o", str(gobj)])
    ld = shutil.which(LINKER[arch]) or ""
    if not ld:
        raise ToolchainMissing(f"{LINKER[arch]} is not installed: install {target.install or 'binutils'}")
    libgcc = subprocess.run([cc, *target.flags, "-print-libgcc-file-name"], capture_output=True,
                            text=True).stdout.strip()
    merged = out / f"elnative-{arch}-{_digest(gobj, *objs, libgcc)}.o"
    if not merged.exists():
        # gobj first: mpy_init's section leads the module
        _run([ld, "-r", "-o", str(merged), str(gobj), *map(str, objs),
              *([libgcc] if arch != "x64" and libgcc and Path(libgcc).exists() else [])])
    return merged


def native_module(arch: str, out: Path) -> bytes:
    """The native .mpy for `arch`, linked by edgeloop's own writer."""
    from .mpy_writer import link_mpy

    return link_mpy(module_object(arch, out).read_bytes(), arch)

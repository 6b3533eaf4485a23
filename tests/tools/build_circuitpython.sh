#!/bin/bash
# Build CircuitPython's unix port configured like a board, as the interpreter the firmware
# tests run on when EDGELOOP_CIRCUITPYTHON names it (tests/tools/unix_board.py). Never committed.
#
#   tests/tools/build_circuitpython.sh [DEST]      (DEST defaults to ~/.cache/edgeloop/circuitpython)
#   export EDGELOOP_CIRCUITPYTHON=DEST/src/ports/unix/build-board/micropython
#
# The variant "board": single-precision float, CircuitPython's own struct, hashlib (only
# hashlib.new, over mbedtls as on boards built with CIRCUITPY_HASHLIB_MBEDTLS_ONLY) and
# traceback; no FFI, ulab, btree or frozen manifest. Needs gcc, make, python3, git.
#
# Sources are taken at pinned commits from GitHub (shallow fetches), or from local clones
# (bare or not) named by CPY_REPO, HUFFMAN_REPO, MBEDTLS_REPO, TFPSA_REPO, FRAMEWORK_REPO.
# Only CircuitPython's tools/huffman submodule and what hashlib needs (mbedtls with its
# tf-psa-crypto and framework) are used. CircuitPython pins mbedtls 4.2.0; this uses v4.0.0
# (TF-PSA-Crypto 1.0.0), whose source layout the variant below lists.
set -euo pipefail

DEST=${1:-$HOME/.cache/edgeloop/circuitpython}
CPY_REV=cd3da4a5d894a9648871db7188fc38ee4b344cd4        # 10.3.0-alpha.4-185-gcd3da4a5d8
CPY_VERSION=10.3.0-alpha.4-185-gcd3da4a5d8
HUFFMAN_REV=27b1bba76198a0b343f694a6d680b5293d1c56aa    # CircuitPython's tools/huffman pin
MBEDTLS_REV=v4.0.0
TFPSA_REV=76920edddcad00ac41b248e12d937b845df7bedb      # tf-psa-crypto of mbedtls v4.0.0
FRAMEWORK_REV=457996474728cb8e968ed21953b72f74d2f536b2  # framework of mbedtls v4.0.0

SRC=$DEST/src
if [ -e "$SRC" ]; then
  echo "$SRC exists; remove it to build again" >&2
  exit 1
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# gitdir NAME URL REV LOCAL: a git directory that has REV (the local clone, else a shallow fetch).
gitdir() {
  local name=$1 url=$2 rev=$3 local=${4:-}
  if [ -n "$local" ]; then
    if [ -d "$local/.git" ]; then echo "$local/.git"; else echo "$local"; fi
    return
  fi
  local g=$WORK/$name.git
  git init -q --bare "$g"
  git --git-dir="$g" fetch -q --depth 1 "$url" "$rev" >&2
  echo "$g"
}

# unpack GITDIR REV DEST [SKIP_REGEX]: the tree at REV into DEST, one top-level entry at a
# time, leaving out entries matching SKIP_REGEX (a snapshot may lack blobs of skipped parts).
unpack() {
  local g=$1 rev=$2 d=$3 skip=${4:-'^$'} mode type obj path
  rev=$(git --git-dir="$g" rev-parse "$rev^{commit}")  # a tag names its commit
  mkdir -p "$d"
  git --git-dir="$g" ls-tree "$rev" | while read -r mode type obj path; do
    if [[ "$path" =~ $skip ]]; then continue; fi
    case $type in
      tree) mkdir -p "$d/$path"; git --git-dir="$g" archive "$rev:$path" | tar -x -C "$d/$path" ;;
      blob) git --git-dir="$g" cat-file blob "$obj" > "$d/$path" ;;
    esac
  done
}

CPY=$(gitdir circuitpython https://github.com/adafruit/circuitpython "$CPY_REV" "${CPY_REPO:-}")
HUF=$(gitdir huffman https://github.com/tannewt/huffman "$HUFFMAN_REV" "${HUFFMAN_REPO:-}")
MBT=$(gitdir mbedtls https://github.com/Mbed-TLS/mbedtls "$MBEDTLS_REV" "${MBEDTLS_REPO:-}")
TFP=$(gitdir tfpsa https://github.com/Mbed-TLS/TF-PSA-Crypto "$TFPSA_REV" "${TFPSA_REPO:-}")
FWK=$(gitdir framework https://github.com/Mbed-TLS/mbedtls-framework "$FRAMEWORK_REV" "${FRAMEWORK_REPO:-}")

# CircuitPython without the other ports (large, and not needed), then ports/unix.
unpack "$CPY" "$CPY_REV" "$SRC" '^ports$'
mkdir -p "$SRC/ports/unix"
git --git-dir="$CPY" archive "$CPY_REV:ports/unix" | tar -x -C "$SRC/ports/unix"
rm -rf "$SRC/tools/huffman" "$SRC/lib/mbedtls"
unpack "$HUF" "$HUFFMAN_REV" "$SRC/tools/huffman"
unpack "$MBT" "$MBEDTLS_REV" "$SRC/lib/mbedtls" '^(tests|programs|docs|framework|tf-psa-crypto)$'
unpack "$TFP" "$TFPSA_REV" "$SRC/lib/mbedtls/tf-psa-crypto" '^(tests|programs|docs|framework)$'
unpack "$FWK" "$FRAMEWORK_REV" "$SRC/lib/mbedtls/framework"
unpack "$FWK" "$FRAMEWORK_REV" "$SRC/lib/mbedtls/tf-psa-crypto/framework"

V=$SRC/ports/unix/variants/board
mkdir -p "$V"
cat > "$V/mpconfigvariant.h" <<'EOF'
// edgeloop's board-like variant of CircuitPython's unix port (tests/tools/build_circuitpython.sh).
#define MICROPY_CONFIG_ROM_LEVEL (MICROPY_CONFIG_ROM_LEVEL_EXTRA_FEATURES)
#define MICROPY_FLOAT_IMPL (MICROPY_FLOAT_IMPL_FLOAT)   // boards' floats are single precision
#include "../mpconfigvariant_common.h"
#define MICROPY_PY_STRUCT (0)        // CircuitPython's shared-bindings struct instead
#define MICROPY_PY_HASHLIB (0)       // CircuitPython's shared-bindings hashlib instead
#define MICROPY_PY_CRYPTOLIB (0)     // boards have no cryptolib
#undef MICROPY_PY_CRYPTOLIB_CTR
#define MICROPY_PY_CRYPTOLIB_CTR (0)
#define MICROPY_PY_MICROPYTHON_RINGIO (0)
#undef MICROPY_VFS_ROM_IOCTL
#define MICROPY_VFS_ROM_IOCTL (0)
#undef MICROPY_TRACKED_ALLOC
#define MICROPY_TRACKED_ALLOC (1)    // mbedtls allocates through m_tracked_calloc
EOF
cat > "$V/urandom.c" <<'EOF'
// The entropy hook mbedtls' PSA core asks CircuitPython for (boards read their TRNG).
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "py/mpconfig.h"

bool common_hal_os_urandom(uint8_t *buffer, mp_uint_t length);

bool common_hal_os_urandom(uint8_t *buffer, mp_uint_t length) {
    FILE *f = fopen("/dev/urandom", "rb");
    if (f == NULL) {
        return false;
    }
    size_t got = fread(buffer, 1, length, f);
    fclose(f);
    return got == length;
}
EOF
cat > "$V/mpconfigvariant.mk" <<'EOF'
# edgeloop's board-like variant (tests/tools/build_circuitpython.sh).
FROZEN_MANIFEST =
MICROPY_PY_FFI = 0
MICROPY_PY_BTREE = 0
CIRCUITPY_ULAB = 0

# (urandom.c is built as every .c file of the variant folder is)

# struct and traceback as CircuitPython boards build them
SRC_C += shared-bindings/struct/__init__.c shared-module/struct/__init__.c shared-bindings/util.c
SRC_C += shared-bindings/traceback/__init__.c shared-module/traceback/__init__.c
CFLAGS += -DCIRCUITPY_STRUCT=1 -DCIRCUITPY_TRACEBACK=1

# hashlib over mbedtls' PSA hashing (the CIRCUITPY_HASHLIB_MBEDTLS_ONLY build of boards)
SRC_C += shared-bindings/hashlib/__init__.c shared-bindings/hashlib/Hash.c \
	shared-module/hashlib/__init__.c shared-module/hashlib/Hash.c lib/mbedtls_config/hashlib_psa_port.c
TFPSA := lib/mbedtls/tf-psa-crypto
PSA_SRC := $(addprefix $(TFPSA)/core/, psa_crypto.c psa_crypto_client.c psa_crypto_slot_management.c) \
	$(addprefix $(TFPSA)/drivers/builtin/src/, psa_util.c psa_crypto_hash.c sha1.c sha256.c \
		platform.c platform_util.c constant_time.c)
PSA_GEN := $(BUILD)/tf-psa-crypto
SRC_C += $(PSA_SRC) tf-psa-crypto/psa_crypto_driver_wrappers_no_static.c

$(PSA_GEN)/psa_crypto_driver_wrappers.h: $(TOP)/$(TFPSA)/scripts/generate_driver_wrappers.py
	$(Q)mkdir -p $(PSA_GEN)
	$(Q)PYTHONPATH=$(TOP)/lib/mbedtls/framework/scripts $(PYTHON) $< $(PSA_GEN)
$(PSA_GEN)/psa_crypto_driver_wrappers_no_static.c: $(PSA_GEN)/psa_crypto_driver_wrappers.h
	@true
$(addprefix $(BUILD)/, $(PSA_SRC:.c=.o) tf-psa-crypto/psa_crypto_driver_wrappers_no_static.o \
	lib/mbedtls_config/hashlib_psa_port.o shared-module/hashlib/__init__.o shared-module/hashlib/Hash.o): \
	$(PSA_GEN)/psa_crypto_driver_wrappers.h
$(addprefix $(BUILD)/, $(PSA_SRC:.c=.o) tf-psa-crypto/psa_crypto_driver_wrappers_no_static.o): \
	CFLAGS += -Wno-error -Wno-sign-compare -Wno-unused-parameter -Wno-missing-field-initializers
QSTR_GLOBAL_REQUIREMENTS += $(PSA_GEN)/psa_crypto_driver_wrappers.h
CFLAGS += -DCIRCUITPY_HASHLIB=1 -DCIRCUITPY_HASHLIB_MBEDTLS=1 -DCIRCUITPY_HASHLIB_MBEDTLS_ONLY=1 \
	-I$(PSA_GEN) \
	$(addprefix -isystem $(TOP)/$(TFPSA)/, include drivers/builtin/include drivers/builtin/src core \
		dispatch extras platform utilities) \
	-DTF_PSA_CRYPTO_CONFIG_FILE='"$(abspath $(TOP))/lib/mbedtls_config/tf_psa_crypto_config_hashlib.h"'
EOF

cd "$SRC"
export CP_VERSION=$CPY_VERSION   # the tree is not a git clone: py/version.py cannot describe it
make -C ports/unix VARIANT=board -j"${JOBS:-2}" >&2
BIN=$SRC/ports/unix/build-board/micropython
"$BIN" -c "import sys, hashlib; assert sys.implementation.name == 'circuitpython'; \
assert hashlib.new('sha256', b'abc').digest()[:4] == b'\xba\x78\x16\xbf'; print('ok', sys.version)" >&2
echo "$BIN"

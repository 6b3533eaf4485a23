"""Signed bundles onto a board's A/B slots, and the board's trusted key (docs/bundle.md).

The board decides: `install_bundle` only carries the bundle to /slots/incoming.bundle
(staged and hash-checked like every deploy file) and asks the board's own
edgeloop_fw.slots.install() to check the signature, every file, the counter and the
self-test before it switches slots. A refusal comes back as the board's reason code and
text, and becomes one DeployError line here; the running slot is never touched by a
refused bundle. `provision_key` puts the public key at /keys/edgeloop.pub through the
ordinary atomic deploy plan.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgeloop_fw import bundle_format as BF
from edgeloop_fw import slots as FS

from edgeloop.errors import DeployError
from edgeloop.link.device import BoardException, Device
from edgeloop.link.transfer import BoardSession, StagedFile, sha256_hex

from .bundle import Bundle
from .keys import fingerprint
from .plan import DeployResult, deploy_files, open_session

KEY_GROUP = "keys"

# What the host says for each of the board's refusal codes (the board's own text follows).
REASONS = {
    BF.UNSIGNED: "unsigned bundle",
    BF.BAD_SIGNATURE: "bad signature",
    BF.CHANGED_FILE: "changed file",
    BF.OLDER_COUNTER: "older counter",
    BF.SELFTEST_MISMATCH: "self-test mismatch",
    BF.MALFORMED: "not a valid bundle",
    BF.PENDING: "an update is still pending",
    BF.NO_VERIFIER: "no signature check in this firmware",
}

# Run on the board, each in its own exec after a soft reset: the modules one by one, then the
# checks (the signature check alone takes ~70 KB on the virtual board, which collects garbage
# only between execs), then the install bound to the manifest the checks passed.
_PRELOAD = ("edgeloop_fw.bundle_format", "edgeloop_fw.slots")
_PRELOAD_VERIFY = ("edgeloop_fw.crypto.sha512", "edgeloop_fw.crypto.field", "edgeloop_fw.crypto.ed25519")
_ANSWER = ("import edgeloop_fw.slots as _S, edgeloop_fw.bundle_format as _BF\n"
           "try:\n _r = {call}\n print(repr(('ok',) + tuple(_r)))\n"
           "except _BF.BundleError as _e:\n print(repr(('refused', _e.code, str(_e))))\n"
           "finally:\n del _S, _BF\n")
_STATE = "import edgeloop_fw.slots as _S\nprint(repr(_S.load_state({root!r})))\ndel _S"


class BundleRefused(DeployError):
    """The board checked the bundle and refused it; `code` is the board's reason."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass
class Installed:
    slot: str
    version: str
    counter: int
    signature_checked: bool


def board_key(session: BoardSession) -> bytes | None:
    """The public key the board trusts, or None when none is provisioned."""
    return session.read(BF.KEY)


def provision_key(device: Device, public_raw: bytes, *, session: BoardSession | None = None,
                  board: str | None = None) -> DeployResult:
    """Put the public key on the board; the same key again changes nothing, another key is refused."""
    session = session or open_session(device)
    have = board_key(session)
    if have is not None and have != public_raw:
        raise DeployError(f"the board already trusts key {fingerprint(have)}, not {fingerprint(public_raw)}; "
                          "a board changes keys only through a bundle signed with its current key, "
                          "which this version does not do: reflash the board to start over")
    result = deploy_files(device, [(public_raw, BF.KEY)], group=KEY_GROUP, board=board, session=session)
    result.notes.append(f"the board trusts key {fingerprint(public_raw)} and from now on accepts only "
                        "bundles signed with it")
    return result


def refuse_plain_models(session: BoardSession, port: str) -> None:
    """A board with a key takes models only as signed bundles: say so before anything is written."""
    key = board_key(session)
    if key is not None:
        raise DeployError(f"the board at {port} accepts only signed bundles (it trusts key {fingerprint(key)}); "
                          "build one with `edgeloop bundle --model DIR --key KEY --counter N --out F` "
                          "and deploy it with --bundle F")


def install_bundle(device: Device, bundle: Bundle, *, session: BoardSession | None = None) -> Installed:
    """Send the bundle and have the board install it; BundleRefused with the board's reason if not."""
    session = session or open_session(device)
    incoming = FS.INCOMING
    key_on_board = board_key(session) is not None
    try:
        session.run(f"_el_mkdirs({session.path(FS.SLOTS)!r})")
        session.write_files([StagedFile(incoming, bundle.data, sha256_hex(bundle.data), incoming)])
        device.soft_reset()  # deploy's receiver leaves the REPL's globals: the checks get the heap
        root = session.root
        for module in _PRELOAD + (_PRELOAD_VERIFY if key_on_board else ()):
            device.exec(f"import {module}", timeout=60)
        checked = _ask(device, f"_S.check_first(root={root!r})")
        done = _ask(device, f"_S.install(root={root!r}, checked={tuple(checked)!r})")
    except BoardException as e:
        raise DeployError(f"the board failed while installing the bundle ({e}); "
                          "its running model is unchanged") from None
    return Installed(*done)


def _ask(device: Device, call: str) -> tuple:
    import ast

    answer = ast.literal_eval(device.exec(_ANSWER.format(call=call), timeout=600).decode().strip())
    if answer[0] != "ok":
        _, code, text = answer
        raise BundleRefused(code, f"the board refused the bundle: {REASONS.get(code, code)}: {text}; "
                                  "nothing was replaced")
    return answer[1:]


def slot_state(device: Device, root: str = "") -> dict | None:
    """The board's slot state (active slot, counter, pending, boots, last event), None if never installed."""
    import ast

    return ast.literal_eval(device.exec(_STATE.format(root=root)).decode().strip())

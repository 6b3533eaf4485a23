"""The fleet's credentials: a CA, the broker's certificate, one credential per device, gateway and
collector, and the files Mosquitto reads to check them (docs/fleet.md, Security).

Why it is built this way:
- The broker does the checking (TLS, its password file, its ACL file, its CRL); this module only
  writes what Mosquitto reads, in Mosquitto's own formats, so nothing home-made stands between a
  client and the broker.
- One folder holds it all (`--dir`, default `fleet_dir()`); `fleet.json` in it lists who is
  registered, and the password file, the ACL file and the CRL are rewritten whole from that list
  on every change (atomically): a revoked name leaves no line behind, and a hand edit cannot drift
  from the list.
- A password is made here (secrets) and written to one file, mode 0600, beside nothing else; it
  is never printed or logged. The broker's file holds only its PBKDF2-SHA512 hash in
  mosquitto_passwd's format (`$7$`), computed here, so the password never appears on a command
  line either (`mosquitto_passwd -b` would put it there).
- A certificate's user name is its common name (Mosquitto's `use_identity_as_username`), so the
  same ACL lines serve both kinds of credential. Revoking a certificate puts its serial in the CRL
  (`crlfile`); its ACL lines go too, so even a broker not yet reloaded lets it publish nothing.
- A gateway publishes for the boards on its ports: Mosquitto's ACL cannot match a prefix inside a
  topic level, so each board is named explicitly (`add-device BOARD --gateway GW` writes
  `topic write edgeloop/BOARD/+` under the gateway's user). A board that publishes itself over
  Wi-Fi is its own user. The collector reads every board's topics and writes only confirmations;
  a viewer (`monitor --broker`) only reads.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from edgeloop.atomic import write_secret_atomic as _write_secret, write_text_atomic
from edgeloop.errors import EdgeloopError

from . import wire

ROLES = ("device", "gateway", "board", "collector", "viewer")
PBKDF2_ITERATIONS = 101  # mosquitto_passwd's default for its $7$ (PBKDF2-SHA512) hashes
SALT_BYTES = 12  # as mosquitto_passwd
CERT_DAYS = 825
CA_DAYS = 3650
CRL_DAYS = 365


class FleetCredentialError(EdgeloopError):
    pass


def fleet_dir() -> Path:
    """Where the fleet's CA and credentials live unless --dir says: EDGELOOP_FLEET_DIR, else
    the user's config folder (e.g. ~/.config/edgeloop/fleet)."""
    env = os.environ.get("EDGELOOP_FLEET_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_config_dir("edgeloop")) / "fleet"


def password_hash(password: str, salt: bytes | None = None, iterations: int = PBKDF2_ITERATIONS) -> str:
    """A mosquitto_passwd line's hash part: $7$<iterations>$<base64 salt>$<base64 PBKDF2-SHA512>."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _key():
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())  # small, fast, and in every TLS stack a board has


def _key_pem(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _name(cn: str):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "edgeloop fleet"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def issue_certificate(ca_cert, ca_key, cn: str, *, server_hosts: list[str] | None = None,
                      not_before: dt.datetime | None = None, not_after: dt.datetime | None = None,
                      days: int = CERT_DAYS):
    """(certificate, key) signed by the CA: a client certificate (common name = user name), or
    with `server_hosts` the broker's (DNS names / IP addresses in subjectAltName)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID

    key = _key()
    start = not_before or _now() - dt.timedelta(minutes=5)
    b = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(ca_cert.subject)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(start).not_valid_after(not_after or start + dt.timedelta(days=days))
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
         .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False, content_commitment=False,
                                      data_encipherment=False, key_agreement=True, key_cert_sign=False,
                                      crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False))
    if server_hosts:
        alt = []
        for h in server_hosts:
            try:
                alt.append(x509.IPAddress(ipaddress.ip_address(h)))
            except ValueError:
                alt.append(x509.DNSName(h))
        b = b.add_extension(x509.SubjectAlternativeName(alt), critical=False)
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    else:
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    return b.sign(ca_key, hashes.SHA256()), key


@dataclass
class Issued:
    """What add-device made: paths only (the secret stays in its file)."""
    name: str
    role: str
    folder: Path | None  # the credential's folder (None: a board behind a gateway has none)
    password_file: Path | None = None
    cert: Path | None = None
    key: Path | None = None


class Fleet:
    """One fleet's folder: ca.pem/ca.key, broker/ (what Mosquitto reads), credentials/<name>/,
    fleet.json (who is registered)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.ca_cert = self.root / "ca.pem"
        self.ca_key = self.root / "ca.key"
        self.broker_dir = self.root / "broker"
        self.server_cert = self.broker_dir / "server.pem"
        self.server_key = self.broker_dir / "server.key"
        self.passwd = self.broker_dir / "passwd"
        self.acl = self.broker_dir / "acl"
        self.crl = self.broker_dir / "crl.pem"
        self.conf = self.broker_dir / "mosquitto.conf"
        self.registry = self.root / "fleet.json"

    # -- state -------------------------------------------------------------------------------
    def exists(self) -> bool:
        return self.registry.is_file() and self.ca_key.is_file()

    def _need(self) -> None:
        if not self.exists():
            raise FleetCredentialError(f"no fleet in {self.root}: run `edgeloop fleet init --dir {self.root} "
                                       "--host BROKER_HOST` first")

    def load(self) -> dict:
        self._need()
        try:
            return json.loads(self.registry.read_text())
        except (OSError, ValueError) as e:
            raise FleetCredentialError(f"{self.registry} is unreadable ({e}); restore it from a backup") from None

    def _save(self, reg: dict) -> None:
        # 0600: it holds the password hashes (of random passwords, but the broker's copy is 0600 too)
        _write_secret(self.registry, (json.dumps(reg, indent=1, sort_keys=True) + "\n").encode())

    def _ca(self):
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        return (x509.load_pem_x509_certificate(self.ca_cert.read_bytes()),
                serialization.load_pem_private_key(self.ca_key.read_bytes(), None))

    def devices(self) -> dict:
        return self.load()["devices"]

    # -- making it ---------------------------------------------------------------------------
    def init(self, hosts: list[str], *, ports: tuple[int, int] = (8883, 8884)) -> None:
        """A new CA, the broker's certificate for `hosts`, empty password/ACL files, a CRL and a
        mosquitto.conf that uses them. Refuses a folder that already holds a fleet."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization

        if self.ca_key.exists() or self.registry.exists():
            raise FleetCredentialError(f"{self.root} already holds a fleet (its CA signed every credential; "
                                       "making a new one would cut them all off): choose another --dir")
        if not hosts:
            raise FleetCredentialError("--host: name the broker's host name or address, as clients will dial it")
        self.broker_dir.mkdir(parents=True, exist_ok=True)
        (self.root / "credentials").mkdir(exist_ok=True)
        key = _key()
        start = _now() - dt.timedelta(minutes=5)
        ca = (x509.CertificateBuilder().subject_name(_name("edgeloop fleet CA")).issuer_name(_name("edgeloop fleet CA"))
              .public_key(key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(start).not_valid_after(start + dt.timedelta(days=CA_DAYS))
              .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
              .add_extension(x509.KeyUsage(digital_signature=False, key_encipherment=False, content_commitment=False,
                                           data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                           crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
              .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
              .sign(key, hashes.SHA256()))
        _write_secret(self.ca_key, _key_pem(key))
        write_text_atomic(self.ca_cert, ca.public_bytes(serialization.Encoding.PEM).decode())
        cert, skey = issue_certificate(ca, key, hosts[0], server_hosts=hosts)
        _write_secret(self.server_key, _key_pem(skey))
        write_text_atomic(self.server_cert, cert.public_bytes(serialization.Encoding.PEM).decode())
        reg = {"version": 1, "hosts": list(hosts), "devices": {}, "revoked": []}
        self._write_broker_files(reg)
        write_text_atomic(self.conf, self.mosquitto_conf(*ports))
        self._save(reg)

    def mosquitto_conf(self, password_port: int, cert_port: int, bind: str | None = None,
                       at: str | os.PathLike | None = None) -> str:
        """Mosquitto's settings for this fleet: TLS only, no anonymous clients, one listener for
        user name + password, one for client certificates (the user name is the certificate's
        common name), both checked against this folder's password file, ACL and CRL. `at`: where
        the broker host keeps a copy of this folder's ca.pem and broker/ (paths rebased there)."""
        f = self if at is None else Fleet(at)
        on = f" {bind}" if bind else ""
        tls = (f"cafile {f.ca_cert}\ncertfile {f.server_cert}\nkeyfile {f.server_key}\n"
               f"crlfile {f.crl}\ntls_version tlsv1.2\n")
        return ("# written by `edgeloop fleet` (docs/fleet.md, Security)\n"
                "per_listener_settings false\nallow_anonymous false\n"
                f"password_file {f.passwd}\nacl_file {f.acl}\n\n"
                f"# user name + password (Wi-Fi boards, gateways, the collector)\nlistener {password_port}{on}\n"
                f"{tls}require_certificate false\n\n"
                f"# client certificates: the certificate's common name is the user name\nlistener {cert_port}{on}\n"
                f"{tls}require_certificate true\nuse_identity_as_username true\n")

    def add(self, name: str, role: str = "device", *, auth: str = "password", gateway: str | None = None,
            not_before: dt.datetime | None = None, not_after: dt.datetime | None = None) -> Issued:
        """Register `name` and write its credential (unless it is a board behind a gateway) and
        the broker's files. Refuses a name already registered (revoke it first)."""
        from cryptography.hazmat.primitives import serialization

        reg = self.load()
        if role not in ROLES:
            raise FleetCredentialError(f"--role {role!r}: one of {', '.join(ROLES)}")
        limit = wire.GATEWAY_ID_MAX if role == "gateway" else wire.DEVICE_ID_MAX
        try:
            wire.check_id(name, "device id" if role in ("device", "board") else "gateway id", limit)
        except wire.WireError as e:
            raise FleetCredentialError(f"name {name!r}: {str(e).split(': ', 1)[1]}") from None
        if name in reg["devices"]:
            raise FleetCredentialError(f"{name!r} is already registered (as a {reg['devices'][name]['role']}); "
                                       f"`edgeloop fleet revoke {name}` first to issue a new credential")
        entry = {"role": role}
        if role == "board":
            if not gateway or reg["devices"].get(gateway, {}).get("role") != "gateway":
                raise FleetCredentialError(f"a board behind a gateway needs --gateway GW, a registered gateway "
                                           f"(`edgeloop fleet add-device GW --role gateway`); got {gateway!r}")
            entry["gateway"] = gateway
            reg["devices"][name] = entry
            self._write_broker_files(reg)
            self._save(reg)
            return Issued(name, role, None)
        if gateway:
            raise FleetCredentialError("--gateway goes with --role board (a board that a gateway publishes for)")
        if auth not in ("password", "cert"):
            raise FleetCredentialError(f"--auth {auth!r}: password or cert")
        folder = self.root / "credentials" / name
        folder.mkdir(parents=True, exist_ok=True)
        write_text_atomic(folder / "ca.pem", self.ca_cert.read_text())
        issued = Issued(name, role, folder)
        entry["auth"] = auth
        if auth == "password":
            password = secrets.token_urlsafe(24)
            _write_secret(folder / "password", (password + "\n").encode())
            entry["hash"] = password_hash(password)
            issued.password_file = folder / "password"
        else:
            ca, ca_key = self._ca()
            cert, key = issue_certificate(ca, ca_key, name, not_before=not_before, not_after=not_after)
            _write_secret(folder / "key.pem", _key_pem(key))
            write_text_atomic(folder / "cert.pem", cert.public_bytes(serialization.Encoding.PEM).decode())
            entry["serial"] = format(cert.serial_number, "x")
            issued.cert, issued.key = folder / "cert.pem", folder / "key.pem"
        reg["devices"][name] = entry
        self._write_broker_files(reg)
        self._save(reg)
        return issued

    def revoke(self, name: str) -> dict:
        """Remove `name` from the password file and the ACL, its certificate into the CRL, its
        credential folder deleted. A gateway's boards go with it. Returns what was removed."""
        reg = self.load()
        entry = reg["devices"].get(name)
        if entry is None:
            raise FleetCredentialError(f"{name!r} is not registered (`edgeloop fleet list` shows who is)")
        gone = [name] + [n for n, e in reg["devices"].items() if e.get("gateway") == name]
        for n in gone:
            e = reg["devices"].pop(n)
            if e.get("serial"):
                reg["revoked"].append(e["serial"])
            folder = self.root / "credentials" / n
            for f in ("password", "key.pem", "cert.pem", "ca.pem"):
                try:
                    (folder / f).unlink()
                except FileNotFoundError:
                    pass
            try:
                folder.rmdir()
            except OSError:
                pass
        self._write_broker_files(reg)
        self._save(reg)
        return {"removed": gone}

    # -- what the broker reads ----------------------------------------------------------------
    def acl_text(self, reg: dict) -> str:
        lines = ["# written by `edgeloop fleet` from fleet.json (docs/fleet.md, Security); edits are overwritten",
                 "# a client that matches no user block below may do nothing"]
        devs = reg["devices"]
        for name in sorted(devs):
            role = devs[name]["role"]
            if role == "board":
                continue
            lines += ["", f"user {name}"]
            if role == "device":  # a Wi-Fi board: its own topics; its gateway id is its id cut to 16
                lines += [f"topic write {wire.TOPIC_ROOT}/{name}/+",
                          f"topic read {wire.ACK_ROOT}/{name[:wire.GATEWAY_ID_MAX]}"]
            elif role == "gateway":
                lines.append(f"topic read {wire.ACK_ROOT}/{name}")
                lines += [f"topic write {wire.TOPIC_ROOT}/{b}/+" for b in sorted(devs)
                          if devs[b].get("gateway") == name]
            elif role == "collector":
                lines += [f"topic read {wire.TOPIC_ROOT}/#", f"topic write {wire.ACK_ROOT}/+"]
            elif role == "viewer":
                lines.append(f"topic read {wire.TOPIC_ROOT}/#")
        return "\n".join(lines) + "\n"

    def _write_broker_files(self, reg: dict) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization

        devs = reg["devices"]
        _write_secret(self.passwd, "".join(f"{n}:{devs[n]['hash']}\n" for n in sorted(devs)
                                           if devs[n].get("hash")).encode())
        write_text_atomic(self.acl, self.acl_text(reg))
        ca, ca_key = self._ca()
        now = _now()
        b = (x509.CertificateRevocationListBuilder().issuer_name(ca.subject)
             .last_update(now - dt.timedelta(minutes=5)).next_update(now + dt.timedelta(days=CRL_DAYS)))
        for serial in reg["revoked"]:
            b = b.add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(int(serial, 16))
                                          .revocation_date(now - dt.timedelta(minutes=5)).build())
        write_text_atomic(self.crl, b.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode())

    def gateway_of(self) -> dict[str, str]:
        """device id -> the gateway id its messages must carry: a Wi-Fi board's own (its id cut to
        16), a board's gateway's. The collector's identity check reads this."""
        out = {}
        for name, e in self.devices().items():
            if e["role"] == "device":
                out[name] = name[:wire.GATEWAY_ID_MAX]
            elif e["role"] == "board":
                out[name] = e["gateway"]
        return out

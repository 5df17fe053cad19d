"""A local IMAP server for the tests, the demo and the benchmark: Dovecot (Debian's ``dovecot-imapd``) with a
throw-away configuration.

``running_dovecot`` writes a configuration under a temporary folder (a plain-text passdb with one
user, maildir mail, IMAP on 127.0.0.1 at a free port, plaintext login allowed there and no TLS),
starts ``dovecot -F -c CONFIG`` and stops it. Dovecot refuses to deliver mail as root, so when the
tests run as root the mail belongs to ``nobody``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

USER, PASSWORD = "secretariat", "imap-test-password"


@dataclass(frozen=True)
class ImapServer:
    host: str
    port: int
    username: str
    password: str
    root: Path


def available() -> bool:
    """Whether Dovecot is installed here."""
    return bool(shutil.which("dovecot")) or Path("/usr/sbin/dovecot").exists()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _config(root: Path, port: int, uid: int, gid: int, user: str) -> str:
    return f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = {uid}
last_valid_uid = 0
default_internal_user = {user}
default_login_user = {user}
mail_location = maildir:{root}/mail/%u
mail_privileged_group =
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
service pop3-login {{
  chroot =
}}
service stats {{
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


def _wait_for(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dovecot exited: {log.read_text() if log.exists() else 'no log'}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                if sock.recv(64).startswith(b"* OK"):
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"dovecot did not answer on port {port}: {log.read_text() if log.exists() else 'no log'}")


@contextmanager
def running_dovecot() -> Iterator[ImapServer]:
    """Dovecot serving one user's maildir, under a folder of its own (removed after), until the block ends.

    The folder is made in the system's temporary folder, not pytest's (private to its user): Dovecot's
    own processes run as other users and must reach the password file and the mail.
    """
    with tempfile.TemporaryDirectory(prefix="engage-dovecot-") as folder:
        with _dovecot(Path(folder)) as server:
            yield server


@contextmanager
def _dovecot(root: Path) -> Iterator[ImapServer]:
    binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
    if not Path(binary).exists():
        raise RuntimeError("dovecot is not installed: apt-get install -y dovecot-imapd")
    account = pwd.getpwnam("nobody") if os.getuid() == 0 else pwd.getpwuid(os.getuid())
    for folder in ("run", "state", "mail", "home"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    if os.getuid() == 0:
        root.chmod(0o755)
        for folder in ("mail", "home"):
            os.chown(root / folder, account.pw_uid, account.pw_gid)
    (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
    port = free_port()
    config = root / "dovecot.conf"
    config.write_text(_config(root, port, account.pw_uid, account.pw_gid, account.pw_name))
    process = subprocess.Popen([binary, "-F", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for(port, process, root / "dovecot.log")
        yield ImapServer("127.0.0.1", port, USER, PASSWORD, root)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

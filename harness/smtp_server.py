"""A real SMTP server process (aiosmtpd) on a free loopback port, for the tests:
every message it receives is kept in a Maildir, read back as parsed emails."""

from __future__ import annotations

import email
import email.policy
import mailbox
import socket
import subprocess
import time
from email.message import EmailMessage
from pathlib import Path

from harness.processes import (
    PYTHON,
    STARTUP_TIMEOUT,
    ServerError,
    free_port,
    log_tail,
    spawn,
    stop_process,
)


class SmtpServer:
    """`python -m aiosmtpd` with its Mailbox handler, in its own process group."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.maildir = workdir / f"maildir-{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> SmtpServer:
        log = self.workdir / f"smtp-{self.port}.log"
        args = [
            PYTHON,
            "-m",
            "aiosmtpd",
            "--nosetuid",
            "--listen",
            f"127.0.0.1:{self.port}",
            "--class",
            "aiosmtpd.handlers.Mailbox",
            str(self.maildir),
        ]
        self.process = spawn(args, env={"PATH": "/usr/bin:/bin"}, log_path=log)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self._greets():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise ServerError(f"aiosmtpd did not start:\n{log_tail(log)}")
            time.sleep(0.05)
        return self

    def _greets(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                return conn.recv(64).startswith(b"220")
        except OSError:
            return False

    def messages(self) -> list[EmailMessage]:
        """Every message received so far, parsed (modern email policy)."""
        if not self.maildir.exists():
            return []
        box = mailbox.Maildir(self.maildir, factory=None, create=False)
        return [
            email.message_from_bytes(box.get_bytes(key), policy=email.policy.default)
            for key in sorted(box.keys())
        ]

    def wait_for(self, count: int, timeout: float = 30.0) -> list[EmailMessage]:
        """Wait until `count` messages have arrived; return them."""
        deadline = time.monotonic() + timeout
        while len(messages := self.messages()) < count:
            if time.monotonic() > deadline:
                raise ServerError(f"{len(messages)} of {count} emails arrived in {timeout} s")
            time.sleep(0.1)
        return messages

    def stop(self) -> None:
        stop_process(self.process)

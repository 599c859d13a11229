"""Wait until a server process, or one of its children, listens on a local TCP port.

    python scripts/wait_for_server.py PORT PID [TIMEOUT]

Exit 0 once it listens; 1 if the process ended first; 2 if another process took
the port; 3 after TIMEOUT seconds (default 60). scripts/start uses it: Daphne's
runserver that cannot listen logs the error and keeps running, so neither "the
process is alive" nor "the port answers" says the server started. On Linux the
listening socket is matched to the process tree through /proc; elsewhere a
connection accepted on the port counts (scripts/start checked it was free).
"""

import os
import socket
import sys
import time
from pathlib import Path

PROC = Path("/proc")


def alive(pid: int) -> bool:
    if PROC.is_dir():
        try:
            stat = (PROC / str(pid) / "stat").read_text()
        except OSError:
            return False
        return stat[stat.rindex(")") + 2] != "Z"  # a zombie has ended
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def tree(root: int) -> set[int]:
    """The process and all its descendants."""
    parents = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat[stat.rindex(")") + 2 :].split()[1])
    found = {root}
    while True:
        more = {pid for pid, parent in parents.items() if parent in found} - found
        if not more:
            return found
        found |= more


def listening_sockets(port: int) -> set[str]:
    """Socket inodes listening on `port`, on any local address."""
    inodes = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (PROC / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            listening = fields[3] == "0A"
            if listening and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def owns(pids: set[int], inodes: set[str]) -> bool:
    wanted = {f"socket:[{inode}]" for inode in inodes}
    for pid in pids:
        try:
            fds = list((PROC / str(pid) / "fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd) in wanted:
                    return True
            except OSError:
                continue
    return False


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def main() -> int:
    port, pid = int(sys.argv[1]), int(sys.argv[2])
    deadline = time.monotonic() + (float(sys.argv[3]) if len(sys.argv) > 3 else 60)
    while time.monotonic() < deadline:
        if not alive(pid):
            return 1
        if PROC.is_dir():
            inodes = listening_sockets(port)
            if inodes:
                return 0 if owns(tree(pid), inodes) else 2
        elif accepts(port):
            return 0
        time.sleep(0.1)
    return 3


if __name__ == "__main__":
    sys.exit(main())

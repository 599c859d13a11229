"""What the import contract (pyproject.toml) can't say: only realtime.push
sends to channel-layer groups, so every push has one failure policy."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("config", "realtime", "accounts", "chat", "notifications")


def test_only_realtime_push_calls_group_send():
    callers = []
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Attribute) and node.attr in {
                    "group_send",
                    "group_send_many",
                }:
                    callers.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert callers
    # (the channel layers themselves implement one with the other)
    allowed = ("realtime/push.py:", "realtime/layers.py:")
    assert all(caller.startswith(allowed) for caller in callers), callers

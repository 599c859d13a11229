"""axe-core in the browser tests: the script ships inside the pinned
axe-playwright-python package (no network), goes into the page through
Playwright's evaluate (not a <script> tag, which the content security policy
would refuse), and runs over the whole document."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

BLOCKING_IMPACTS = ("serious", "critical")


@cache
def axe_source() -> str:
    return (
        resources.files("axe_playwright_python").joinpath("axe.min.js").read_text(encoding="utf-8")
    )


def axe_violations(page: Any, impacts: tuple[str, ...] = BLOCKING_IMPACTS) -> list[dict]:
    """Run axe on `page`; return its violations of the given impacts, each as
    {id, impact, help, targets}."""
    page.evaluate(axe_source())
    results = page.evaluate("() => axe.run(document, { resultTypes: ['violations'] })")
    return [
        {
            "id": violation["id"],
            "impact": violation["impact"],
            "help": violation["help"],
            "targets": [node["target"] for node in violation["nodes"]][:5],
        }
        for violation in results["violations"]
        if violation["impact"] in impacts
    ]

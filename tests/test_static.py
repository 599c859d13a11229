"""Production static files: the browser client's ES modules import each other
by their hashed names, so a deploy can never mix new and cached old modules."""

import re

from django.core.management import call_command
from django.test import override_settings


def test_collectstatic_points_module_imports_at_hashed_files(tmp_path):
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "config.storage.StaticStorage"},
    }
    with override_settings(STATIC_ROOT=tmp_path, STORAGES=storages):
        call_command("collectstatic", interactive=False, verbosity=0)
    [room] = [
        p for p in (tmp_path / "js").glob("room.*.js") if re.fullmatch(r"room\.\w{12}\.js", p.name)
    ]
    imports = re.findall(r'from "\./([^"]+)"', room.read_text())
    assert imports, "room.js imports its modules"
    for name in imports:
        assert re.fullmatch(r"[\w-]+\.\w{12}\.js", name), f"{name} is not a hashed name"
        assert (tmp_path / "js" / name).exists()

"""The wheel carries protocols/ and reports/templates/ and finds them when installed."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    uv = shutil.which("uv")
    if uv is None:
        pytest.skip("uv is needed to build the wheel")
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [uv, "build", "--wheel", "--out-dir", str(out), str(REPO_ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return next(out.glob("*.whl"))


def test_wheel_ships_protocols_and_templates(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for path in (REPO_ROOT / "protocols").rglob("*.json"):
        relative = path.relative_to(REPO_ROOT / "protocols").as_posix()
        assert f"emoclip_clinic/_data/protocols/{relative}" in names
    assert any(n.startswith("emoclip_clinic/_data/templates/") for n in names)
    assert "emoclip_clinic/py.typed" in names


def test_installed_package_finds_its_data_outside_a_checkout(wheel, tmp_path):
    zipfile.ZipFile(wheel).extractall(tmp_path / "site")
    code = (
        "from emoclip_clinic.resources import protocols_dir, templates_dir\n"
        "from emoclip_clinic.models.config import list_models\n"
        "print(protocols_dir()); print(templates_dir()); print(','.join(list_models()))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path / "site")},
    )
    assert result.returncode == 0, result.stderr
    protocols, templates, models = result.stdout.split()
    assert protocols == str(tmp_path / "site/emoclip_clinic/_data/protocols")
    assert templates == str(tmp_path / "site/emoclip_clinic/_data/templates")
    assert "emoclip-vit-b-32" in models.split(",")

"""The installer's machine detection, torch choice, shortcuts, update and uninstall (no network, no uv)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

INSTALLER = Path(__file__).resolve().parents[2] / "packaging" / "installer"


def _load(name: str):
    sys.path.insert(0, str(INSTALLER))  # install.py imports machine.py from beside itself, as in the payload
    spec = importlib.util.spec_from_file_location(f"packshot_installer_{name}", INSTALLER / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


machine = _load("machine")
install = _load("install")


@pytest.mark.parametrize("found, tag", [
    (machine.Machine("Linux", "x86_64", "NVIDIA RTX 4090", (580, 82, 7)), "cu130"),
    (machine.Machine("Linux", "x86_64", "NVIDIA RTX 3060", (550, 54, 14)), "cu126"),
    (machine.Machine("Windows", "AMD64", "NVIDIA RTX 3060", (528, 33)), "cu126"),
    (machine.Machine("Windows", "AMD64", "NVIDIA RTX 3060", (527, 41)), "cpu"),
    (machine.Machine("Linux", "x86_64", "NVIDIA GTX 780", (470, 1)), "cpu"),
    (machine.Machine("Linux", "x86_64", None, None), "cpu"),
    (machine.Machine("Darwin", "arm64", "Apple GPU (MPS)"), "default"),
    (machine.Machine("Darwin", "x86_64"), "default"),
])
def test_torch_build_follows_the_gpu_and_driver(found, tag):
    choice = machine.choose_torch(found)
    assert choice.tag == tag
    assert (choice.index_url is None) == (tag == "default")
    if tag.startswith("cu") or tag == "cpu":
        assert choice.index_url.endswith(f"/whl/{tag}")
    assert choice.packages() == ["torch==2.14.1", "torchvision==0.29.1"]


def test_an_old_driver_says_what_to_do():
    choice = machine.choose_torch(machine.Machine("Linux", "x86_64", "NVIDIA GTX 780", (470, 1)))
    assert "update the NVIDIA driver" in choice.reason


def test_nvidia_smi_output_is_parsed(monkeypatch):
    monkeypatch.setattr(machine.shutil, "which", lambda name: "/usr/bin/nvidia-smi")

    def fake_run(cmd, **kwargs):
        return subprocess.CompletedProcess(cmd, 0, stdout="NVIDIA H200, 575.57.08\n", stderr="")

    assert machine.query_nvidia(fake_run) == ("NVIDIA H200", (575, 57, 8))


def test_a_failing_nvidia_smi_means_no_gpu(monkeypatch):
    monkeypatch.setattr(machine.shutil, "which", lambda name: "/usr/bin/nvidia-smi")

    def fake_run(cmd, **kwargs):
        return subprocess.CompletedProcess(cmd, 9, stdout="", stderr="NVIDIA-SMI has failed")

    assert machine.query_nvidia(fake_run) == (None, None)


def _fake_env(prefix: Path) -> Path:
    env = prefix / "env"
    (env / "bin").mkdir(parents=True)
    for name in ("packshot", "packshot-studio", "python"):
        script = env / "bin" / name
        script.write_text("#!/bin/sh\necho ok\n")
        script.chmod(0o755)
    return env


@pytest.mark.skipif(sys.platform != "linux", reason="Linux shortcuts")
def test_shortcuts_then_uninstall_removes_the_app_and_keeps_user_data(tmp_path, monkeypatch, capsys):
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setattr(install.Path, "home", classmethod(lambda cls: home))
    user_data = home / ".local" / "share" / "packshot" / "models"
    user_data.mkdir(parents=True)
    (user_data / "keep.txt").write_text("a downloaded model")
    prefix = tmp_path / "app"
    env = _fake_env(prefix)
    icon = tmp_path / "icon.png"
    icon.write_bytes(b"png")
    made = install.make_shortcuts(prefix, env, icon)
    entry = home / ".local" / "share" / "applications" / "packshot-studio.desktop"
    assert str(entry) in made
    text = entry.read_text()
    assert f"Exec={env / 'bin' / 'packshot-studio'} %f" in text and f"Icon={prefix / 'packshot.png'}" in text
    command = home / ".local" / "bin" / "packshot"
    assert command.is_symlink() and command.resolve() == (env / "bin" / "packshot").resolve()
    (prefix / install.INFO_NAME).write_text(json.dumps({"version": "0.1.0", "shortcuts": made}))
    uninstaller = install.write_uninstaller(prefix, env)
    assert str(prefix / "install.py") in uninstaller.read_text()

    assert install.main(["--uninstall", "--prefix", str(prefix)]) == 0
    assert not prefix.exists() and not entry.exists() and not command.exists()
    assert (user_data / "keep.txt").read_text() == "a downloaded model"
    out = capsys.readouterr().out
    assert str(home / ".local" / "share" / "packshot") in out  # says what it left, on purpose


def test_uninstall_of_nothing_says_so(tmp_path, capsys):
    assert install.main(["--uninstall", "--prefix", str(tmp_path / "none")]) == 1
    assert "No Packshot install found" in capsys.readouterr().out


def test_installer_without_its_wheel_refuses_clearly(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(install, "HERE", tmp_path)
    assert install.main(["--prefix", str(tmp_path / "app")]) == 2
    assert "installer is incomplete" in capsys.readouterr().err

"""Build Packshot's installer for one platform from a clean checkout.

    python packaging/build_installer.py [--platform linux|macos|windows] [--out dist]

Why an installer that builds the environment, not a frozen bundle: torch is 2-5 GB and differs per
machine (CUDA 12 / CUDA 13 / Apple MPS / CPU). A frozen bundle would ship the wrong one to most
users, or all of them at once. The installer is small (the app's wheel, uv, a standard-library
script); on the user's machine it detects the GPU, asks uv for the matching torch wheel and the
app's pinned dependencies, and adds a menu entry, commands and an uninstaller (InvokeAI's and
ComfyUI Desktop's route).

Artefacts: Linux, a self-extracting ``Packshot-Setup-VERSION-linux-x86_64.run`` (double-click, or
run it); macOS, a zip with ``Install Packshot.command``; Windows, a zip with ``Install Packshot.bat``.
Only the Linux one is built and tested on our machines; the others are wired the same way.
"""

from __future__ import annotations

import argparse
import io
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTALLER = ROOT / "packaging" / "installer"
UV_VERSION = "0.13.9"
# pip --platform tags of uv's wheels, and the binary's name inside them
UV_PLATFORMS = {
    "linux": (["manylinux_2_17_x86_64", "manylinux2014_x86_64"], "uv"),
    "macos": (["macosx_11_0_arm64"], "uv"),
    "windows": (["win_amd64"], "uv.exe"),
}

LINUX_HEADER = """#!/bin/sh
# Packshot installer (self-extracting). Double-click it, or run: sh {name}
# Options go to install.py: --prefix DIR, --uninstall, --help.
if [ ! -t 1 ] && [ -z "$PACKSHOT_NO_TERMINAL" ]; then
  for term in x-terminal-emulator gnome-terminal konsole xterm; do
    if command -v "$term" >/dev/null 2>&1; then
      PACKSHOT_NO_TERMINAL=1 exec "$term" -e sh "$0" "$@"
    fi
  done
fi
set -e
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
LINE=$(awk '/^__PAYLOAD_BELOW__$/ {{ print NR + 1; exit 0 }}' "$0")
tail -n +"$LINE" "$0" | tar -xzf - -C "$TMP"
chmod +x "$TMP/uv"
"$TMP/uv" run --no-project --python 3.11 "$TMP/install.py" "$@"
exit $?
__PAYLOAD_BELOW__
"""

MACOS_COMMAND = """#!/bin/sh
# Double-click in Finder to install Packshot (Apple Silicon: torch uses the GPU through MPS).
cd "$(dirname "$0")/payload" || exit 1
chmod +x ./uv
./uv run --no-project --python 3.11 ./install.py "$@"
echo; read -r -p "Press Return to close this window." _
"""

WINDOWS_BAT = """@echo off
rem Double-click to install Packshot.
cd /d "%~dp0payload"
uv.exe run --no-project --python 3.11 install.py %*
pause
"""


def build_wheel(work: Path) -> Path:
    out = work / "wheel"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(out), str(ROOT)], check=True)
    return next(out.glob("packshot-*.whl"))


def fetch_uv(work: Path, target: str) -> Path:
    tags, binary = UV_PLATFORMS[target]
    out = work / "uv-wheel"
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
           "-d", str(out), f"uv=={UV_VERSION}"]
    for tag in tags:
        cmd += ["--platform", tag]
    subprocess.run(cmd, check=True)
    wheel = next(out.glob("uv-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        member = next(n for n in archive.namelist() if n.endswith(f"/scripts/{binary}"))
        target_path = work / binary
        target_path.write_bytes(archive.read(member))
    target_path.chmod(0o755)
    return target_path


def draw_icon(path: Path) -> None:
    """The app icon: a product on a seamless backdrop with its soft shadow (drawn, so no asset to ship)."""
    from PIL import Image, ImageDraw, ImageFilter

    size = 256
    icon = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(icon)
    draw.rounded_rectangle((8, 8, size - 8, size - 8), radius=48, fill=(244, 241, 236, 255))
    shadow = Image.new("L", (size, size), 0)
    ImageDraw.Draw(shadow).ellipse((70, 186, 186, 210), fill=150)
    icon.paste((60, 55, 50, 255), (0, 0), shadow.filter(ImageFilter.GaussianBlur(8)))
    draw.rounded_rectangle((84, 70, 172, 196), radius=18, fill=(214, 58, 48, 255))
    draw.rounded_rectangle((100, 50, 156, 78), radius=8, fill=(40, 40, 44, 255))
    icon.save(path)


def stage(work: Path, target: str) -> Path:
    payload = work / "payload"
    shutil.rmtree(payload, ignore_errors=True)
    payload.mkdir(parents=True)
    shutil.copy2(build_wheel(work), payload)
    shutil.copy2(fetch_uv(work, target), payload)
    for name in ("install.py", "machine.py"):
        shutil.copy2(INSTALLER / name, payload / name)
    draw_icon(payload / "packshot.png")
    return payload


def version() -> str:
    for line in (ROOT / "pyproject.toml").read_text().splitlines():
        if line.startswith("version"):
            return line.split("=", 1)[1].strip().strip('"')
    raise SystemExit("No version in pyproject.toml")


def package(payload: Path, target: str, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    if target == "linux":
        artefact = out / f"Packshot-Setup-{version()}-linux-x86_64.run"
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for item in sorted(payload.iterdir()):
                tar.add(item, arcname=item.name)
        artefact.write_bytes(LINUX_HEADER.format(name=artefact.name).encode() + buffer.getvalue())
        artefact.chmod(0o755)
        return artefact
    artefact = out / f"Packshot-Setup-{version()}-{'macos-arm64' if target == 'macos' else 'windows-x64'}.zip"
    with zipfile.ZipFile(artefact, "w", zipfile.ZIP_DEFLATED) as archive:
        starter = ("Install Packshot.command", MACOS_COMMAND) if target == "macos" else ("Install Packshot.bat",
                                                                                          WINDOWS_BAT)
        info = zipfile.ZipInfo(starter[0])
        info.external_attr = 0o755 << 16  # executable, so Finder runs it on double-click
        archive.writestr(info, starter[1])
        for item in sorted(payload.iterdir()):
            archive.write(item, f"payload/{item.name}")
    return artefact


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = {"linux": "linux", "darwin": "macos", "win32": "windows"}.get(sys.platform, "linux")
    parser.add_argument("--platform", choices=sorted(UV_PLATFORMS), default=default)
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "installer")
    args = parser.parse_args()
    started = time.perf_counter()
    args.work.mkdir(parents=True, exist_ok=True)
    artefact = package(stage(args.work, args.platform), args.platform, args.out)
    size_mb = artefact.stat().st_size / 1e6
    print(f"Built {artefact} ({size_mb:.1f} MB) in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

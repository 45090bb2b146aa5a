"""Packshot's installer: builds the app's own environment with uv, for the torch build this machine needs.

Run by the double-clickable bootstrap of each platform (``Install Packshot.run`` / ``.command`` /
``.bat``) through the uv binary shipped beside it; standard library only, since nothing else is
installed yet. It never touches the user's data: settings, models and projects live in the
platformdirs folders, so an update or an uninstall keeps them.

    install.py [--prefix DIR] [--torch-index URL] [--index-arg ARG]... [--no-shortcuts]
    install.py --uninstall [--prefix DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import machine as machine_info  # noqa: E402  (beside this file in the payload)

APP = "Packshot"
PYTHON = "3.11"
INFO_NAME = "install-info.json"


def default_prefix() -> Path:
    system = platform.system()
    home = Path.home()
    if system == "Windows":
        return Path(os.environ.get("LOCALAPPDATA", home / "AppData" / "Local")) / "Programs" / APP
    if system == "Darwin":
        return home / "Applications" / f"{APP}.app" / "Contents" / "Resources" / "app"
    return Path(os.environ.get("XDG_DATA_HOME", home / ".local" / "share")) / "packshot-app"


def data_folders() -> list[str]:
    """Where the app keeps what it owns on purpose (same rule as platformdirs, written out: no deps here)."""
    system, home = platform.system(), Path.home()
    if system == "Windows":
        local = Path(os.environ.get("LOCALAPPDATA", home / "AppData" / "Local"))
        return [str(local / "packshot")]
    if system == "Darwin":
        return [str(home / "Library" / "Application Support" / "packshot"),
                str(home / "Library" / "Preferences" / "packshot")]
    data = Path(os.environ.get("XDG_DATA_HOME", home / ".local" / "share")) / "packshot"
    config = Path(os.environ.get("XDG_CONFIG_HOME", home / ".config")) / "packshot"
    return [str(data), str(config), str(Path.home() / ".cache" / "huggingface")]


def say(step: int, total: int, text: str) -> None:
    print(f"[{step}/{total}] {text}", flush=True)


def env_python(env: Path) -> Path:
    return env / ("Scripts/python.exe" if platform.system() == "Windows" else "bin/python")


def env_script(env: Path, name: str) -> Path:
    return env / ("Scripts" if platform.system() == "Windows" else "bin") / (
        name + (".exe" if platform.system() == "Windows" else ""))


def run(cmd: Sequence[str], **kwargs) -> None:
    done = subprocess.run(list(cmd), **kwargs)
    if done.returncode != 0:
        raise SystemExit(f"Install failed at: {' '.join(map(str, cmd[:4]))} ... (exit {done.returncode}). "
                         "Nothing of a previous install was changed; run the installer again.")


def install(args: argparse.Namespace) -> int:
    uv = Path(args.uv).resolve()
    wheel = Path(args.wheel).resolve()
    prefix = Path(args.prefix).expanduser().resolve()
    found = machine_info.detect()
    choice = (machine_info.TorchChoice("custom", args.torch_index, "index given on the command line")
              if args.torch_index else machine_info.choose_torch(found))
    started = time.perf_counter()
    previous = read_info(prefix)
    verb = f"Updating {previous['version']} to" if previous else "Installing"
    print(f"{verb} {APP} {args.version} in {prefix}")
    print(f"This machine: {found.system} {found.arch}, {found.gpu or 'no GPU'}; torch: {choice.reason}")
    total = 6
    prefix.mkdir(parents=True, exist_ok=True)
    # Build the new environment beside the old one, then swap: a failed update leaves the old app working.
    new_env, env = prefix / "env.new", prefix / "env"
    shutil.rmtree(new_env, ignore_errors=True)
    say(1, total, f"Python {PYTHON} environment")
    # --relocatable: the scripts find their Python relative to themselves, so the swap below keeps them working
    run([str(uv), "venv", "--quiet", "--relocatable", "--python", args.python or PYTHON, str(new_env)])
    index = list(args.index_arg or [])
    torch_index = ["--index-url", choice.index_url] if choice.index_url else []
    say(2, total, f"torch ({choice.tag}) - the largest part, up to a few GB")
    run([str(uv), "pip", "install", "--quiet", "--python", str(env_python(new_env)), *torch_index, *index,
         *choice.packages()])
    say(3, total, f"{APP} and its libraries")
    run([str(uv), "pip", "install", "--quiet", "--python", str(env_python(new_env)), *index, str(wheel)])
    say(4, total, "Checking the new install")
    run([str(env_python(new_env)), "-c", "import packshot.core, packshot.desktop, torch; print('torch', torch.__version__)"])
    if env.exists():
        shutil.rmtree(env)
    new_env.rename(env)
    shutil.copy2(HERE / "install.py", prefix / "install.py")
    shutil.copy2(HERE / "machine.py", prefix / "machine.py")
    write_uninstaller(prefix, env)
    say(5, total, "Preparing the first photo's work ahead (edge matting compiles once, about a minute at most)")
    prepare_first_use(env)
    say(6, total, "Menu entry and commands")
    made = [] if args.no_shortcuts else make_shortcuts(prefix, env, Path(args.icon) if args.icon else None)
    info = {"version": args.version, "torch": choice.tag, "torch_reason": choice.reason, "prefix": str(prefix),
            "shortcuts": made, "installed_at": time.strftime("%Y-%m-%d %H:%M:%S"),
            "seconds": round(time.perf_counter() - started, 1)}
    (prefix / INFO_NAME).write_text(json.dumps(info, indent=2))
    print(f"Done in {info['seconds']:.0f} s. Start {APP} Studio from the menu, or run: {bin_dir() / 'packshot-studio'}")
    return 0


def prepare_first_use(env: Path) -> bool:
    """Compile now what the first photo would otherwise compile (``packshot.core.warmup``), in the final
    environment (after the swap: its caches are keyed by path). A failure only makes the first
    photo slower, so the install goes on."""
    done = subprocess.run([str(env_python(env)), "-m", "packshot.core.warmup"], check=False)
    if done.returncode != 0:
        print(f"  (not prepared ahead, exit {done.returncode}: the first photo will do it, once)", flush=True)
    return done.returncode == 0


def write_uninstaller(prefix: Path, env: Path) -> Path:
    """``uninstall`` (``uninstall.bat``) in the install folder: removes the app, keeps the user's data."""
    if platform.system() == "Windows":
        path = prefix / "uninstall.bat"
        path.write_text(f'@"{env_python(env)}" "{prefix / "install.py"}" --uninstall --prefix "{prefix}"\r\npause\r\n')
    else:
        path = prefix / "uninstall"
        path.write_text(f'#!/bin/sh\nexec "{env_python(env)}" "{prefix / "install.py"}" --uninstall --prefix "{prefix}"\n')
        path.chmod(0o755)
    return path


def read_info(prefix: Path) -> Optional[dict]:
    try:
        return json.loads((prefix / INFO_NAME).read_text())
    except (OSError, ValueError):
        return None


def bin_dir() -> Path:
    if platform.system() == "Windows":
        return Path(os.environ.get("LOCALAPPDATA", Path.home())) / "Programs" / APP / "bin"
    return Path.home() / ".local" / "bin"


def make_shortcuts(prefix: Path, env: Path, icon: Optional[Path]) -> list[str]:
    """Commands on the user's PATH and a menu entry with an icon; returns every path made (for uninstall)."""
    made: list[str] = []
    commands = bin_dir()
    commands.mkdir(parents=True, exist_ok=True)
    for name in ("packshot", "packshot-studio"):
        target = env_script(env, name)
        link = commands / (name + (".bat" if platform.system() == "Windows" else ""))
        if link.is_symlink() or link.exists():
            link.unlink()
        if platform.system() == "Windows":
            link.write_text(f'@"{target}" %*\r\n')
        else:
            link.symlink_to(target)
        made.append(str(link))
    icon_copy = None
    if icon and icon.is_file():
        icon_copy = prefix / "packshot.png"
        shutil.copy2(icon, icon_copy)
    system = platform.system()
    if system == "Linux":
        apps = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "applications"
        apps.mkdir(parents=True, exist_ok=True)
        entry = apps / "packshot-studio.desktop"
        entry.write_text("\n".join([
            "[Desktop Entry]", "Type=Application", "Name=Packshot Studio",
            "Comment=New, text-prompted backgrounds behind product photos",
            f"Exec={env_script(env, 'packshot-studio')} %f", f"Icon={icon_copy or 'image-x-generic'}",
            "Terminal=false", "Categories=Graphics;Photography;", "MimeType=inode/directory;", ""]))
        entry.chmod(entry.stat().st_mode | stat.S_IXUSR)
        made.append(str(entry))
    elif system == "Darwin":
        # prefix is .../Packshot.app/Contents/Resources/app: finish the bundle around it.
        contents = prefix.parent.parent
        macos = contents / "MacOS"
        macos.mkdir(parents=True, exist_ok=True)
        launcher = macos / APP
        launcher.write_text(f'#!/bin/sh\nexec "{env_script(env, "packshot-studio")}" "$@"\n')
        launcher.chmod(0o755)
        (contents / "Info.plist").write_text(
            '<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0"><dict>'
            f"<key>CFBundleName</key><string>{APP}</string><key>CFBundleExecutable</key><string>{APP}</string>"
            "<key>CFBundleIdentifier</key><string>org.packshot.studio</string>"
            "<key>CFBundlePackageType</key><string>APPL</string></dict></plist>\n")
        made.append(str(contents.parent))
    elif system == "Windows":
        menu = Path(os.environ.get("APPDATA", Path.home())) / "Microsoft" / "Windows" / "Start Menu" / "Programs"
        shortcut = menu / f"{APP} Studio.lnk"
        target = env_script(env, "packshot-studio")
        script = (f"$s=(New-Object -ComObject WScript.Shell).CreateShortcut('{shortcut}');"
                  f"$s.TargetPath='{target}';$s.Save()")
        subprocess.run(["powershell", "-NoProfile", "-Command", script], check=False)
        made.append(str(shortcut))
    return made


def uninstall(args: argparse.Namespace) -> int:
    prefix = Path(args.prefix).expanduser().resolve()
    info = read_info(prefix)
    if info is None:
        print(f"No {APP} install found in {prefix}.")
        return 1
    for path in info.get("shortcuts", []):
        target = Path(path)
        if target.is_symlink() or target.is_file():
            target.unlink()
        elif target.is_dir() and target.name.endswith(".app"):
            shutil.rmtree(target, ignore_errors=True)
    shutil.rmtree(prefix, ignore_errors=True)
    print(f"{APP} {info.get('version', '')} removed from {prefix}.")
    print("Left in place on purpose (your settings, downloaded models, projects); delete them by hand if you want:")
    for folder in data_folders():
        print(f"  {folder}")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="install", description=f"Install, update or remove {APP}.")
    parser.add_argument("--prefix", default=str(default_prefix()), help="where the app's environment goes")
    parser.add_argument("--uv", default=str(HERE / ("uv.exe" if platform.system() == "Windows" else "uv")))
    parser.add_argument("--wheel", default=None, help="the packshot wheel (default: the one beside this file)")
    parser.add_argument("--version", default=None)
    parser.add_argument("--icon", default=str(HERE / "packshot.png"))
    parser.add_argument("--python", default=None, help=f"Python for the environment (default {PYTHON}; uv fetches it)")
    parser.add_argument("--torch-index", default=None, help="override the torch index chosen for this machine")
    parser.add_argument("--index-arg", action="append", help="extra uv pip argument, e.g. --index-arg=--find-links=DIR")
    parser.add_argument("--no-shortcuts", action="store_true")
    parser.add_argument("--uninstall", action="store_true")
    args = parser.parse_args(argv)
    if args.uninstall:
        return uninstall(args)
    if args.wheel is None:
        wheels = sorted(HERE.glob("packshot-*.whl"))
        if not wheels:
            print(f"No packshot wheel beside {Path(__file__).name}: the installer is incomplete.", file=sys.stderr)
            return 2
        args.wheel = str(wheels[-1])
    if args.version is None:
        args.version = Path(args.wheel).name.split("-")[1]
    try:
        return install(args)
    except SystemExit as stop:
        print(stop, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

import pytest

from packshot.core.cli.main import build_parser, main


def _commands():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sorted(sub.choices)


def test_every_command_is_registered():
    assert {"batch", "masks", "models", "eval", "train", "gui"} <= set(_commands())


@pytest.mark.parametrize("command", _commands())
def test_every_command_has_working_help(command, capsys):
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    assert "usage: packshot " + command in capsys.readouterr().out

"""The ``framecryptor`` command as a user runs it: console script, ``python -m``,
``--help`` for every subcommand, ``demo``, errors without tracebacks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from framecryptor.cli import build_parser, main
from framecryptor.cli.demo import PASSPHRASE

COMMANDS = ["demo", "inspect", "decrypt-recording", "selftest"]
KEY_OPTIONS = ["--key", "--key-hex", "--kdf", "--salt", "--participant"]


def cli(*argv: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "framecryptor", *argv],
        check=False,
        capture_output=True,
        text=True,
        input=None if stdin is None else stdin.decode(),
        timeout=120,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )


@pytest.mark.parametrize("command", COMMANDS)
def test_help_for_each_subcommand(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main([command, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: framecryptor {command}")
    if command != "selftest":  # the vectors bring their own keys
        for option in KEY_OPTIONS:
            assert option in out, (command, option)


def test_top_level_help_lists_the_commands() -> None:
    text = build_parser().format_help()
    for command in COMMANDS:
        assert command in text


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: framecryptor" in capsys.readouterr().out


def test_demo_round_trips_through_inspect(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert out.count("decrypted OK") == 12
    assert "wire layout of the H.264 key frame" in out
    assert "inspect identified the key and decrypted the frame" in out
    assert "OPENS with key" in out and "codec        h264" in out
    assert "12/12 frames round-tripped" in out
    assert PASSPHRASE not in out


def test_demo_with_the_users_key_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            ["demo", "--key-hex", "00112233445566778899aabbccddeeff", "--kdf", "hkdf", "--participant", "p1"]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "HKDF-SHA256" in out and "participant 'p1'" in out and "(hex)" in out
    assert "00112233445566778899aabbccddeeff" not in out
    assert "inspect identified the key" in out


def test_python_dash_m_and_console_script() -> None:
    r = cli("demo")
    assert r.returncode == 0, r.stderr
    assert "12/12 frames round-tripped" in r.stdout and r.stderr == ""
    exe = shutil.which("framecryptor", path=str(Path(sys.executable).parent))
    assert exe is not None
    r2 = subprocess.run([exe, "--version"], check=False, capture_output=True, text=True, timeout=60)
    assert r2.returncode == 0 and r2.stdout.startswith("framecryptor ")


def test_errors_are_one_line_without_traceback(tmp_path: Path) -> None:
    for argv in (
        ["decrypt-recording", str(tmp_path / "missing.webm"), "-o", str(tmp_path / "o.webm"), "--key", "k"],
        ["inspect", "frame-file-that-is-missing"],
    ):
        r = cli(*argv)
        assert r.returncode == 1
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert "Traceback" not in r.stderr and r.stderr.startswith("framecryptor ")


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    argv = ["decrypt-recording", str(tmp_path / "missing.ivf"), "-o", str(tmp_path / "o.ivf"), "--key", "k"]
    for r in (cli("--debug", *argv), cli(*argv, "--debug")):
        assert r.returncode != 0
        assert "Traceback" in r.stderr and "no such file" in r.stderr

"""Checking what a user passes to `submit()` and `ProcessPool()`, before anything changes.

Every check names the value it got and what would be right: `TypeError` for a wrong type,
`ValueError` for a wrong value. The widgets show these messages as they are.
"""

from __future__ import annotations

import math
import os
import shlex
from collections.abc import Iterable, Mapping
from typing import Any

from .guard import mask_argv
from .job import JobSpec

__all__ = ["check_count", "check_positive_seconds", "make_spec"]


def _type_name(value: Any) -> str:
    return type(value).__name__


def check_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {value!r} ({_type_name(value)})")
    return value


PRIORITY_LIMIT = 10**9  # far beyond any real use; keeps priorities exact as floats and in SQLite


def check_priority(value: Any) -> int:
    check_int("priority", value)
    if not -PRIORITY_LIMIT <= value <= PRIORITY_LIMIT:
        raise ValueError(f"priority must be between -{PRIORITY_LIMIT:_} and {PRIORITY_LIMIT:_}, got "
                         f"{value if abs(value) < 10**30 else f'an int of {len(str(abs(value)))} digits'}")
    return value


def _check_encodable(where: str, text: str) -> str:
    """Refuse text the OS cannot pass to a program (a lone surrogate such as '\\ud800')."""
    try:
        os.fsencode(text)
    except UnicodeError:
        raise ValueError(f"{where} contains characters that cannot be encoded for the OS "
                         f"(a lone surrogate?): {text!r}") from None
    return text


def check_count(name: str, value: Any, minimum: int) -> int:
    check_int(name, value)
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_positive_seconds(name: str, value: Any, *, allow_none: bool) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        expected = "a number of seconds or None" if allow_none else "a number of seconds"
        raise TypeError(f"{name} must be {expected}, got {value!r} ({_type_name(value)})")
    hint = " (use None for no limit)" if allow_none else ""
    try:
        seconds = float(value)
    except OverflowError:  # an int too large for a float
        raise ValueError(f"{name} must be a positive, finite number of seconds, got an int of "
                         f"{len(str(value))} digits{hint}") from None
    if math.isnan(seconds) or seconds <= 0 or math.isinf(seconds):
        raise ValueError(f"{name} must be a positive, finite number of seconds, got {value!r}{hint}")
    return seconds


def _check_arg(where: str, arg: Any) -> str:
    if isinstance(arg, os.PathLike):
        arg = os.fspath(arg)
    if not isinstance(arg, str):
        raise TypeError(f"{where} must be a str, got {arg!r} ({_type_name(arg)}); "
                        f"convert numbers with str() first")
    if "\0" in arg:
        raise ValueError(f"{where} contains a NUL byte, which no program argument can hold: {arg!r}")
    return _check_encodable(where, arg)


def parse_command(command: Any, shell: bool) -> tuple[tuple[str, ...], str]:
    """(argv, display text). A str is split like a shell would (shlex); a list is taken as is."""
    if not isinstance(shell, bool):
        raise TypeError(f"shell must be True or False, got {shell!r} ({_type_name(shell)})")
    if isinstance(command, str):
        text = _check_arg("command", command)
        if not text.strip():
            raise ValueError("command is empty: give the program to run, e.g. 'python train.py'")
        if shell:
            return ("/bin/sh", "-c", text), text
        try:
            argv = tuple(shlex.split(text))
        except ValueError as exc:
            raise ValueError(f"command {text!r} cannot be split into arguments ({exc}); "
                             f"check its quotes, or pass a list of arguments") from None
        return argv, text
    if isinstance(command, (list, tuple)):
        if shell:
            raise TypeError("shell=True takes the command as one str, not a list")
        if not command:
            raise ValueError("command is an empty list: give at least the program to run")
        argv = tuple(_check_arg(f"command[{i}]", a) for i, a in enumerate(command))
        if not argv[0]:
            raise ValueError("command[0] is empty: it must name the program to run")
        return argv, shlex.join(argv)
    raise TypeError(f"command must be a str or a list of str, got {command!r} ({_type_name(command)})")


def _check_env(env: Any) -> dict[str, str] | None:
    if env is None:
        return None
    if not isinstance(env, Mapping):
        raise TypeError(f"env must be a dict of str to str, got {_type_name(env)}")
    checked: dict[str, str] = {}
    for key, value in env.items():
        if not isinstance(key, str):
            raise TypeError(f"env keys must be str, got {key!r} ({_type_name(key)})")
        if not key or "=" in key or "\0" in key:
            raise ValueError(f"env key {key!r} is not a valid variable name (empty, or holds '=' or NUL)")
        _check_encodable(f"env key {key!r}", key)
        if not isinstance(value, str):
            raise TypeError(f"env[{key!r}] must be a str, got {value!r} ({_type_name(value)}); "
                            f"write it as a string, e.g. env={{{key!r}: {str(value)!r}}}")
        if "\0" in value:
            raise ValueError(f"env[{key!r}] contains a NUL byte, which no environment value can hold")
        _check_encodable(f"env[{key!r}]", value)
        checked[key] = value
    return checked


def _check_cwd(cwd: Any) -> str | None:
    if cwd is None:
        return None
    if not isinstance(cwd, (str, os.PathLike)):
        raise TypeError(f"cwd must be a path (str or os.PathLike) or None, got {cwd!r} ({_type_name(cwd)})")
    path = os.fspath(cwd)
    if not isinstance(path, str):
        raise TypeError(f"cwd must be a text path, got {path!r}")
    if not path or "\0" in path:
        raise ValueError(f"cwd {path!r} is not a usable path (empty, or holds a NUL byte)")
    return _check_encodable("cwd", path)


def _check_resources(resources: Any) -> dict[str, float] | None:
    if resources is None:
        return None
    if not isinstance(resources, Mapping):
        raise TypeError(f"resources must be a dict of str to number, like {{'GPU': 1}}, got {_type_name(resources)}")
    checked: dict[str, float] = {}
    for key, value in resources.items():
        if not isinstance(key, str) or not key.strip():
            raise (TypeError if not isinstance(key, str) else ValueError)(
                f"resources names must be non-empty str, got {key!r}")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"resources[{key!r}] must be a number, got {value!r} ({_type_name(value)})")
        if math.isnan(value) or math.isinf(value) or value <= 0:
            raise ValueError(f"resources[{key!r}] must be a positive, finite number, got {value!r}")
        checked[key] = float(value)
    return checked or None


def make_spec(command: Any, *, name: Any, priority: Any, timeout: Any, cwd: Any, env: Any,
              retries: Any, after_ids: Iterable[int], shell: Any, resources: Any = None) -> JobSpec:
    argv, text = parse_command(command, shell)
    if name is None:  # the command with the program's directory left out and secrets masked, kept short
        short = mask_argv([os.path.basename(argv[0]), *argv[1:]]) if not shell else text
        name = short if len(short) <= 60 else short[:57] + "..."
    elif not isinstance(name, str):
        raise TypeError(f"name must be a str or None, got {name!r} ({_type_name(name)})")
    else:
        try:
            name.encode("utf-8")
        except UnicodeError:
            raise ValueError(f"name contains characters that cannot be stored as UTF-8 (a lone surrogate?): "
                             f"{name!r}") from None
    return JobSpec(
        argv=argv, name=name, priority=check_priority(priority),
        timeout=check_positive_seconds("timeout", timeout, allow_none=True),
        cwd=_check_cwd(cwd), env=_check_env(env), retries=check_count("retries", retries, 0),
        after=tuple(after_ids), shell=shell, command=text, resources=_check_resources(resources),
    )

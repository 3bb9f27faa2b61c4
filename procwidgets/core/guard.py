"""Safe sharing: which commands a pool may run, and secrets kept out of what is shown.

A dashboard shown to others (Voila, a shared screen, a published notebook) must not become a
remote shell. `CommandGuard` is checked in the pool's `submit()` itself, so every path that
submits (the form, a row's retry, code) is held to it, not only the widget.
"""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence

from .job import JobSpec

__all__ = ["CommandGuard", "CommandNotAllowed", "make_guard", "mask_argv", "mask_env"]

SECRET_NAME = re.compile(r"(TOKEN|SECRET|PASSW(OR)?D|PASSPHRASE|API[_-]?KEY|ACCESS[_-]?KEY|PRIVATE[_-]?KEY|"
                         r"CREDENTIAL|AUTH|COOKIE|SESSION)", re.IGNORECASE)
MASK = "****"


class CommandNotAllowed(PermissionError):
    """A command outside the pool's allowed list; the message lists what is allowed."""


class CommandGuard:
    """Allows only commands that match one of `allowed`.

    A pattern without spaces names a program: it matches the program's name or path
    (`"python"`, `"/usr/bin/python3"`, globs such as `"python3*"`). A pattern with spaces
    matches the whole command line (`"python train.py --lr *"`). Shell commands are refused:
    what a shell line will run cannot be checked. So are environment variables not named in
    `allowed_env` (LD_PRELOAD or PYTHONSTARTUP would run any code inside an allowed program)
    and a working directory unless `allow_cwd` (it changes which `train.py` a pattern means).
    """

    def __init__(self, allowed: Iterable[str], *, allowed_env: Iterable[str] = (), allow_cwd: bool = False) -> None:
        if isinstance(allowed, str):
            raise TypeError("allowed_commands takes a list of program names or patterns, not one str; "
                            f"write allowed_commands=[{allowed!r}]")
        patterns = list(allowed)
        for pattern in patterns:
            if not isinstance(pattern, str) or not pattern.strip():
                raise TypeError(f"allowed_commands entries must be non-empty str, got {pattern!r}")
        if not patterns:
            raise ValueError("allowed_commands is empty, so nothing could run; pass None for no restriction")
        self.patterns = tuple(p.strip() for p in patterns)
        self.allowed_env = frozenset(allowed_env)
        self.allow_cwd = bool(allow_cwd)

    def allows(self, argv: Sequence[str]) -> bool:
        program = argv[0]
        line = shlex.join(argv)
        for pattern in self.patterns:
            if " " in pattern:
                if fnmatch.fnmatchcase(line, pattern):
                    return True
            elif fnmatch.fnmatchcase(program, pattern) or fnmatch.fnmatchcase(os.path.basename(program), pattern):
                return True
        return False

    def check(self, spec: JobSpec) -> None:
        if spec.shell:
            raise CommandNotAllowed("shell commands are not allowed in this pool (allowed_commands is set); "
                                    "pass the command as a list of arguments")
        if not self.allows(spec.argv):
            raise CommandNotAllowed(f"command {mask_argv(spec.argv)!r} is not allowed here; allowed: "
                                    f"{', '.join(self.patterns)}")
        extra = sorted(set(spec.env or ()) - self.allowed_env)
        if extra:
            raise CommandNotAllowed(f"environment variables {', '.join(extra)} are not allowed in this pool"
                                    + (f"; allowed: {', '.join(sorted(self.allowed_env))}" if self.allowed_env else ""))
        if spec.cwd is not None and not self.allow_cwd:
            raise CommandNotAllowed("a working directory cannot be chosen in this pool; leave cwd empty")

    def __repr__(self) -> str:
        return f"CommandGuard({list(self.patterns)!r})"


def make_guard(allowed: CommandGuard | Iterable[str]) -> CommandGuard:
    """A guard from a list of patterns, or the guard itself."""
    return allowed if isinstance(allowed, CommandGuard) else CommandGuard(allowed)


def mask_env(env: Mapping[str, str] | None) -> dict[str, str]:
    """The environment with the values of secret-looking keys replaced by ****."""
    return {k: (MASK if SECRET_NAME.search(k) else v) for k, v in (env or {}).items()}


def mask_argv(argv: Sequence[str]) -> str:
    """The command line for display, with values of secret-looking options replaced by ****
    (`--token=abc`, `--password abc`, `API_KEY=abc`)."""
    shown: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            shown.append(MASK)
            hide_next = False
            continue
        name, eq, _ = arg.partition("=")
        if eq and SECRET_NAME.search(name):
            shown.append(f"{name}={MASK}")
        elif arg.startswith("-") and SECRET_NAME.search(arg):
            shown.append(arg)
            hide_next = True
        else:
            shown.append(arg)
    return shlex.join(shown)

"""`SubmitForm`: queue a command from the notebook, with the core's own error messages.

The form only translates text boxes into `pool.submit(...)` arguments; every check is the
core's (`TypeError` / `ValueError` with a message that says what was expected), shown as it is
in `.message`. A field whose text is not a number is handed to the core as the text, so the
core names the problem. Only the form's own text formats (KEY=VALUE lines, job ids) are parsed
here. On bad input nothing is submitted and every field keeps what the user typed.

CSS classes (for browser tests): the form `pw-submit`; inputs `pw-submit-command`,
`pw-submit-name`, `pw-submit-priority`, `pw-submit-timeout`, `pw-submit-retries`, `pw-submit-cwd`,
`pw-submit-env`, `pw-submit-shell`, `pw-submit-after`; the button `pw-submit-button`; the
message `pw-submit-message` (inner `pw-ok` or `pw-error` span).
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets

from ..core import Job, ProcessPool
from ._live import esc

__all__ = ["SubmitForm"]


def _number_or_text(text: str) -> Any:
    """'' -> None, '5' -> 5, '2.5' -> 2.5; anything else stays text for the core to reject by name."""
    text = text.strip()
    if not text:
        return None
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return text


def parse_env(text: str) -> dict[str, str] | None:
    """KEY=VALUE lines (blank lines and '#' comments skipped) -> dict; None when empty."""
    env: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if "=" not in stripped:
            raise ValueError(f"environment line {number} {stripped!r} is not KEY=VALUE "
                             f"(write one variable per line, e.g. OMP_NUM_THREADS=4)")
        key, value = stripped.split("=", 1)
        env[key.strip()] = value  # an empty or odd key is left for the core to reject by name
    return env or None


def parse_after(pool: ProcessPool, text: str) -> list[Job]:
    """'3, 5 8' -> the pool's jobs 3, 5 and 8; an unknown id raises the pool's KeyError."""
    jobs = []
    for token in text.replace(",", " ").split():
        try:
            job_id = int(token.lstrip("#"))
        except ValueError:
            raise ValueError(f"depends-on takes job ids separated by commas or spaces, got {token!r}") from None
        jobs.append(pool.get(job_id))
    return jobs


class SubmitForm(widgets.VBox):
    """A form that submits one job per click of `.submit_button` to `pool`.

    `.command`, `.name`, `.priority`, `.timeout`, `.retries`, `.cwd`, `.env`, `.shell`, `.after`
    are the input widgets; `.message` shows the confirmation or the core's error. `.last_job`
    is the job the last successful click created.
    """

    def __init__(self, pool: ProcessPool, **kwargs: Any) -> None:
        if not isinstance(pool, ProcessPool):
            raise TypeError(f"SubmitForm(pool) takes a ProcessPool, got {pool!r} ({type(pool).__name__})")
        self.pool = pool
        self.last_job: Job | None = None
        wide = widgets.Layout(width="auto", flex="1 1 auto")
        small = {"style": {"description_width": "initial"}, "layout": widgets.Layout(width="135px")}
        self.command = widgets.Text(placeholder="python train.py --lr 0.1", description="Command",
                                    continuous_update=False, layout=wide)
        self.name = widgets.Text(placeholder="(the command)", description="Name", layout=widgets.Layout(width="230px"))
        self.priority = widgets.IntText(value=0, description="Priority", **small)
        # Text, not FloatText: "none" must be possible, and a typo must reach the core's message.
        self.timeout = widgets.Text(placeholder="none", description="Timeout (s)", **small)
        self.retries = widgets.IntText(value=0, description="Retries", **small)
        self.cwd = widgets.Text(placeholder="(current directory)", description="Working dir", layout=wide)
        self.after = widgets.Text(placeholder="job ids, e.g. 3, 5", description="Depends on",
                                  layout=widgets.Layout(width="250px"))
        self.env = widgets.Textarea(placeholder="KEY=VALUE, one per line", description="Env vars",
                                    rows=2, layout=wide)
        self.shell = widgets.Checkbox(value=False, description="in a shell", indent=False,
                                      layout=widgets.Layout(width="110px"))
        self.submit_button = widgets.Button(description="Submit", button_style="primary", icon="play",
                                            tooltip="Queue this command in the pool")
        self.message = widgets.HTML(value="")
        for w, cls in ((self.command, "command"), (self.name, "name"), (self.priority, "priority"),
                       (self.timeout, "timeout"), (self.retries, "retries"), (self.cwd, "cwd"),
                       (self.env, "env"), (self.shell, "shell"), (self.after, "after"),
                       (self.submit_button, "button"), (self.message, "message")):
            w.add_class(f"pw-submit-{cls}")
        self.submit_button.on_click(lambda _button: self.submit())
        if pool.restricted:
            # Restricted mode (allowed_commands): no shell, no environment, no working directory
            # in the form; the pool refuses them anyway, so offering them would only confuse.
            rows = [
                widgets.HBox([self.command, self.submit_button]),
                widgets.HBox([self.name, self.priority, self.timeout, self.retries]),
                widgets.HBox([self.after]),
                self.message,
            ]
        else:
            rows = [
                widgets.HBox([self.command, self.submit_button]),
                widgets.HBox([self.name, self.priority, self.timeout, self.retries, self.shell]),
                widgets.HBox([self.cwd, self.after]),
                self.env,
                self.message,
            ]
        super().__init__(rows, **kwargs)
        self.add_class("pw-submit")

    def submit(self) -> Job | None:
        """What a click does: submit the form's job; on bad input show why and return None."""
        try:
            job = self.pool.submit(
                self.command.value,
                name=self.name.value.strip() or None,
                priority=self.priority.value,
                timeout=_number_or_text(self.timeout.value),
                cwd=self.cwd.value.strip() or None,
                env=parse_env(self.env.value),
                retries=self.retries.value,
                after=parse_after(self.pool, self.after.value),
                shell=self.shell.value,
            )
        except (TypeError, ValueError, KeyError, RuntimeError, PermissionError) as exc:
            text = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
            self.message.value = f'<span class="pw-error" style="color:#c62828">{esc(text)}</span>'
            return None
        self.last_job = job
        self.message.value = (f'<span class="pw-ok" style="color:#2e7d32">Submitted job {job.id} '
                              f'{esc(repr(job.name))}</span>')
        return job

    def close(self) -> None:
        """Close the form and its inputs (it holds no subscription or thread)."""
        if not hasattr(self, "message"):  # __init__ failed part-way (ipywidgets calls close() from __del__)
            return super().close()
        for child in (self.command, self.name, self.priority, self.timeout, self.retries, self.cwd,
                      self.env, self.shell, self.after, self.submit_button, self.message):
            child.close()
        for row in self.children:
            row.close()
        super().close()

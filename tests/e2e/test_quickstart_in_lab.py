"""The quickstart notebook in a real JupyterLab, driven in headless Chromium like a person would.

Run all; wait for the dashboard; type a command into the form and click Submit; see its row
appear and reach SUCCEEDED; see the CPU chart gain points; cancel a running job from its row
and see it go CANCELLED. Screenshots land in tests/e2e/artifacts/, and the time from the click
to the row appearing is printed (and kept in artifacts/timings.json).
"""

from __future__ import annotations

import json
import time

import pytest

pytestmark = pytest.mark.e2e

KERNEL_IDLE = ("() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
               " const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;"
               " return !!k && k.status === 'idle'; }")
CHART_POINTS = ("() => { const f = document.querySelector('.pw-chart-figure.js-plotly-plot')"
                " || document.querySelector('.pw-chart-figure .js-plotly-plot');"
                " return f && f.data && f.data.length ? f.data[0].x.length : -1; }")


def row(page, name: str):
    """The table row box (HTML + buttons) of the job called `name`."""
    return page.locator(".pw-table-row", has=page.locator(".pw-row", has_text=name))


def submit_from_form(page, command: str, name: str) -> float:
    form = page.locator(".pw-submit")
    form.locator(".pw-submit-command input, input.pw-submit-command").first.fill(command)
    form.locator(".pw-submit-name input, input.pw-submit-name").first.fill(name)
    clicked = time.monotonic()
    form.locator("button.pw-submit-button").click()
    return clicked


def test_quickstart_dashboard_end_to_end(lab, browser_context, artifacts):
    base, token, _root = lab
    page = browser_context.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{base}/lab/tree/quickstart.ipynb?token={token}&reset")
    page.wait_for_selector(".jp-Notebook", state="visible")
    page.wait_for_function(KERNEL_IDLE, timeout=60_000)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")

    dashboard = page.locator(".pw-dashboard").first
    dashboard.wait_for(state="visible", timeout=90_000)
    page.wait_for_function(f"({CHART_POINTS})() >= 1", timeout=60_000)
    dashboard.scroll_into_view_if_needed()

    # a command typed into the form runs, and its row follows it to SUCCEEDED
    clicked = submit_from_form(page, "sh -c 'echo hello from the browser; sleep 0.5'", "e2e-hello")
    row(page, "e2e-hello").wait_for(state="attached", timeout=20_000)
    click_to_row = time.monotonic() - clicked
    row(page, "e2e-hello").locator(".pw-state-succeeded").wait_for(timeout=30_000)

    # the CPU chart keeps gaining points while nothing else happens
    before = page.evaluate(CHART_POINTS)
    page.wait_for_function(f"({CHART_POINTS})() > {before}", timeout=20_000)

    # a running job cancelled from its row goes CANCELLED
    submit_from_form(page, "sleep 300", "e2e-long")
    long_row = row(page, "e2e-long")
    long_row.locator(".pw-state-running").wait_for(timeout=30_000)
    dashboard.screenshot(path=str(artifacts / "dashboard.png"))
    long_row.locator("button.pw-row-cancel").click()
    long_row.locator(".pw-state-cancelled").wait_for(timeout=30_000)
    dashboard.screenshot(path=str(artifacts / "dashboard-after-cancel.png"))

    (artifacts / "timings.json").write_text(json.dumps({"click_to_row_seconds": click_to_row}))
    print(f"\nclick -> row appeared: {click_to_row * 1000:.0f} ms")
    assert click_to_row < 20
    page.close()

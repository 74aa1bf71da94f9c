"""The analysis report in a real browser (headless Chromium): it renders without console messages, its figures
load, the state-space view draws, and hovering a fixed point shows its eigenvalues."""

import os
import re
import shutil
import subprocess

import jax.numpy as jnp
import numpy as np
import pytest

from gnode.analysis import AnalysisConfig, FixedPointFinder, analyze_field

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")

# hover: sweep the pointer over the canvas until the tooltip shows, then record it where --dump-dom sees it
HOVER = """<script>window.addEventListener("load", function () {
  const canvas = document.getElementById("view"), tip = document.getElementById("view-tip");
  const r = canvas.getBoundingClientRect();
  for (let y = 0; y < canvas.height && tip.style.display !== "block"; y += 3)
    for (let x = 0; x < canvas.width && tip.style.display !== "block"; x += 3)
      canvas.dispatchEvent(new PointerEvent("pointermove", {clientX: r.left + x, clientY: r.top + y}));
  document.body.dataset.hover = tip.style.display === "block" ? tip.textContent : "none";
});</script></body>"""


def open_in_browser(page):
    result = subprocess.run(
        [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
         "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return result.stdout, [line for line in result.stderr.splitlines() if ":CONSOLE" in line]


@pytest.fixture
def browser():
    if BROWSER is None:
        if os.environ.get("GNODE_REQUIRE_BROWSER"):
            pytest.fail("Chromium is required here (GNODE_REQUIRE_BROWSER) but not installed")
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium)")
    return BROWSER


@pytest.mark.parametrize("dim", [2, 4])
def test_the_report_renders_in_chromium_with_its_figures_and_views(tmp_path, browser, dim):
    def ring(h, x):  # a ring attractor in the first two coordinates, the others decaying
        r2 = h[0] ** 2 + h[1] ** 2
        return jnp.concatenate([h[:2] * (1 - r2), -h[2:]])

    h0 = np.random.default_rng(0).normal(size=(8, dim)) * 0.8
    config = AnalysisConfig(starts=64, trials=8, hold_factor=1.0, finder=FixedPointFinder(max_steps=300))
    summary = analyze_field(ring, h0, np.zeros((8, 30, 0)), tmp_path / "a", config, title="ring")
    page = tmp_path / "a" / "report.html"
    dom, console = open_in_browser(page)
    assert console == [], console
    figures = len(summary["figures"])
    assert f'data-figures-loaded="{figures}/{figures}"' in dom
    assert re.search(r'data-drawn="[1-9]', dom) and "continuous attractor" in dom
    hovered = page.with_name("hover.html")
    hovered.write_text(page.read_text().replace("</body>", HOVER))
    dom, console = open_in_browser(hovered)
    assert console == [], console
    tip = re.search(r'data-hover="([^"]*)"', dom).group(1)
    assert "fixed point" in tip and "eigenvalues" in tip, tip
    (tmp_path / "a" / summary["figures"][0]).unlink()  # a missing figure is said so, in the page
    dom, _ = open_in_browser(page)
    assert f'data-figures-loaded="{figures - 1}/{figures}"' in dom and "could not be loaded" in dom

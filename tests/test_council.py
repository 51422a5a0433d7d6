"""The council report page: one self-contained HTML file, checked in a real browser."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import Env
from test_reports import later, scenario  # noqa: F401  (fixtures)

from casework.engine import Engine

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
PROBE = """
<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  document.body.setAttribute("data-probe", JSON.stringify({
    tables: document.querySelectorAll("table").length,
    rows: document.querySelectorAll("tbody tr").length,
    images: images.length,
    loaded: images.filter(i => i.complete && i.naturalWidth > 300).length,
    widths: images.map(i => i.getBoundingClientRect().width),
    headings: Array.from(document.querySelectorAll("h1, h2")).map(h => h.textContent.trim()),
  }));
});
</script>
</body>"""


def council(env: Env, *args: str) -> tuple[Path, str]:
    out = env.root / "raad.html"
    result = env.run("report", "council", "--as-of", "2030-12-31", "--out", str(out), *args)
    assert result.exit_code == 0, result.output
    assert str(out) in result.stdout
    return out, out.read_text(encoding="utf-8")


@pytest.mark.long
def test_council_page_holds_tables_charts_date_and_scope(
    later: tuple[Engine, object], env: Env,  # noqa: F811
) -> None:
    _, html = council(env)
    assert html.startswith("<!DOCTYPE html>") and '<html lang="nl">' in html
    assert "rapportage aan de gemeenteraad" in html
    assert "stand tot en met <strong>31 december 2030</strong>" in html
    assert "route kansen-in-kaart" in html and "alle wijken" in html
    for heading in ("Resultaten", "Respons per wijk en per variant van de uitnodiging",
                    "Verwijzingen per partner", "Nabellen",
                    "Uitstroom uit de uitkering en besparing 2030"):
        assert f">{heading}</h2>" in html
    # Self-contained: every image is embedded, nothing is fetched.
    assert html.count('src="data:image/png;base64,') == 3
    assert not re.search(r'(src|href)="(https?:|//)', html)
    assert "<link" not in html and "<script" not in html
    # The figures of the hand-worked scenario (test_reports): 12 approached, 3 left benefit.
    assert "<td>Benaderd</td><td>12</td>" in html
    assert "<td>Totaal 2030</td><td>3</td><td>2,5</td>" in html
    assert "<td>naar Coach Meedoen</td><td>3</td>" in html


def test_council_page_for_one_wijk_says_so(later: tuple[Engine, object], env: Env) -> None:  # noqa: F811
    _, html = council(env, "--wijk", "Vinkhuizen")
    assert "wijk Vinkhuizen" in html


@pytest.mark.skipif(BROWSER is None and not os.environ.get("CASEWORK_REQUIRE_BROWSER"),
                    reason="no chromium here; .ci/run installs it and requires this test")
@pytest.mark.long
def test_council_page_renders_in_headless_chromium(
    later: tuple[Engine, object], env: Env, tmp_path: Path,  # noqa: F811
) -> None:
    assert BROWSER, "CASEWORK_REQUIRE_BROWSER is set but chromium is not installed"
    out, html = council(env)
    probed = tmp_path / "probed.html"
    probed.write_text(html.replace("</body>", PROBE), encoding="utf-8")
    command = [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000"]
    dom = subprocess.run([*command, "--dump-dom", probed.as_uri()], capture_output=True,
                         text=True, timeout=120, check=True).stdout
    match = re.search(r'data-probe="([^"]*)"', dom)
    assert match, dom[:2000]
    import html as html_lib
    import json

    probe = json.loads(html_lib.unescape(match.group(1)))
    assert probe["tables"] == 6 and probe["rows"] > 30
    assert probe["images"] == 3 and probe["loaded"] == 3
    assert all(width > 300 for width in probe["widths"])
    assert probe["headings"][0] == "Kansen in Kaart: rapportage aan de gemeenteraad"
    assert "Verwijzingen per partner" in probe["headings"]
    # And as a person sees it: a screenshot of the page that is not blank.
    shot = tmp_path / "raad.png"
    subprocess.run([*command, "--window-size=1100,2400", f"--screenshot={shot}",
                    out.as_uri()], capture_output=True, timeout=120, check=True)
    from matplotlib.image import imread

    pixels = imread(shot)
    assert pixels.shape[0] == 2400 and pixels.std() > 0.05

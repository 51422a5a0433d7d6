"""The web front in a real browser: Debian's chromium (headless) driven by Selenium through
Debian's chromedriver, each page checked with axe-core (vendored from its npm package).
Single sign-on goes through the fake identity provider of tests/identity_provider.py, served
over TLS at its own https address."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, Env
from helpers import PASSWORD, bsn_of, invite, made_up_bsns, web_app, web_member
from identity_provider import CLIENT_ID, ISSUER, FakeProvider, configure

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver") or (
    "/usr/lib/chromium/chromedriver" if Path("/usr/lib/chromium/chromedriver").exists()
    else None)
AXE = ROOT / "tests" / "vendor" / "axe-core" / "axe.min.js"

pytestmark = pytest.mark.skipif(
    (BROWSER is None or DRIVER is None) and not os.environ.get("CASEWORK_REQUIRE_BROWSER"),
    reason="no chromium and chromedriver here; .ci/run installs them and requires this test")

AXE_RUN = """
const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ["violations"]}).then(
  result => done(result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                             nodes: v.nodes.map(n => n.html).slice(0, 3)}))),
  error => done([{id: "axe-error", impact: "critical", help: String(error), nodes: []}]));
"""


@contextmanager
def served(app: Any) -> Iterator[str]:
    """The app served by waitress on an ephemeral loopback port; its base URL."""
    from waitress import create_server

    server = create_server(app, host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()
    thread.join(timeout=10)


@pytest.fixture
def server(cohort: Env) -> Iterator[str]:
    """The web front, with piet (case worker in Oosterparkwijk) and his invited case 1."""
    app = web_app(cohort, piet="Oosterparkwijk")
    invite(cohort, 1)
    cohort.ok("case", "assign", "1", "piet")
    with served(app) as url:
        yield url


@pytest.fixture
def coordinator_server(cohort: Env) -> Iterator[str]:
    """The web front, with kees (coordinator of Kansen in Kaart) and piet (case worker)."""
    app = web_app(cohort, piet="Oosterparkwijk")
    web_member(app, cohort, "kees", "--role", "coordinator", "--project", "kansen-in-kaart")
    with served(app) as url:
        yield url


@contextmanager
def chromium(profile: Path, *arguments: str) -> Iterator[Any]:
    """A headless chromium driven by Selenium, with its profile in this folder and these
    command-line arguments besides the usual ones."""
    assert BROWSER and DRIVER, "CASEWORK_REQUIRE_BROWSER is set but chromium or chromedriver " \
                               "is missing (apt-get install chromium chromium-driver)"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = BROWSER
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                     "--disable-dev-shm-usage", f"--user-data-dir={profile}",
                     "--window-size=1280,1000", *arguments):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=DRIVER))
    driver.set_script_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    with chromium(tmp_path / "profile") as driver:
        yield driver


def until(driver: Any, condition: Any, seconds: float = 30) -> Any:
    """Wait until condition(driver) holds. While a page is being replaced, Chromium may answer
    a question about the old page's nodes with "stale element" or an inspector error
    ("Node with given id does not belong to the document"): ask again instead of failing."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.wait import WebDriverWait

    return WebDriverWait(driver, seconds, ignored_exceptions=(WebDriverException,)).until(
        condition)


def arrive(driver: Any, url: str, left: Any = None) -> None:
    """Wait until the browser shows this address (a click's navigation has finished); with
    ``left`` (the page's html element before the click) until that page is gone too: a form
    posted back to the address it was on shows the same address before the answer arrives."""
    from selenium.webdriver.support import expected_conditions

    if left is not None:
        until(driver, expected_conditions.staleness_of(left))
    until(driver, lambda d: d.current_url == url
          and d.execute_script("return document.readyState") == "complete")


def screenshot(driver: Any, tmp_path: Path, name: str) -> None:
    """Take a screenshot of the page (it must render); with CASEWORK_SCREENSHOTS=DIR it is
    kept there too, as DIR/web-NAME.png (how the README's pictures are made:
    `CASEWORK_SCREENSHOTS=docs pytest tests/test_web_browser.py -k sqlite`)."""
    driver.save_screenshot(str(tmp_path / f"{name}.png"))
    keep = os.environ.get("CASEWORK_SCREENSHOTS")
    if keep:
        shutil.copyfile(tmp_path / f"{name}.png", Path(keep) / f"web-{name}.png")


def accessible(driver: Any) -> None:
    """No serious or critical axe-core violation on the page shown."""
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    violations = driver.execute_async_script(AXE_RUN)
    bad = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert not bad, (driver.current_url, bad)


@pytest.mark.long
def test_a_case_worker_logs_in_finds_a_person_and_opens_the_case(
        server: str, browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    browser.get(server + "/zaak/1")
    assert browser.current_url == server + "/inloggen"
    assert browser.title.startswith("Inloggen")
    accessible(browser)
    browser.find_element(By.ID, "name").send_keys("piet")
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "form.cw-form button[type=submit]").click()

    arrive(browser, server + "/")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Mijn werk"
    assert browser.find_element(By.CSS_SELECTOR, 'a[href="/zaak/1"]')
    accessible(browser)
    screenshot(browser, tmp_path, "mijn-werk")

    left = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.LINK_TEXT, "Zoeken").click()
    arrive(browser, server + "/zoeken", left)
    assert browser.find_element(By.TAG_NAME, "h1").text == "Zoeken"
    accessible(browser)
    browser.find_element(By.ID, "q").send_keys(bsn_of(1))
    browser.find_element(By.CSS_SELECTOR, "form.cw-form button[type=submit]").click()

    until(browser, lambda d: d.find_elements(By.ID, "resultaten"))
    assert browser.current_url == server + "/zoeken"  # the BSN travelled in the POST body
    assert bsn_of(1) not in browser.title
    results = browser.find_elements(By.CSS_SELECTOR, "table a.ams-link")
    assert [link.text for link in results] == ["Zaak 1"]
    accessible(browser)

    left = browser.find_element(By.TAG_NAME, "html")
    results[0].click()
    arrive(browser, server + "/zaak/1", left)
    heading = browser.find_element(By.TAG_NAME, "h1").text
    assert heading.startswith("Zaak 1:") and "El Amrani" in heading
    page = browser.find_element(By.TAG_NAME, "main").text
    assert "Tijdlijn" in page and bsn_of(1) not in page
    accessible(browser)  # with the forms of the steps an invited case allows
    browser.set_window_size(1280, 4000)
    screenshot(browser, tmp_path, "zaak")
    browser.set_window_size(1280, 1000)

    # Another wijk's case by editing the URL: the same page as a case that does not exist.
    browser.get(server + "/zaak/2")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Niet gevonden"
    accessible(browser)
    left = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.CSS_SELECTOR, "form.cw-logout button").click()
    arrive(browser, server + "/inloggen", left)
    assert "U bent uitgelogd" in browser.find_element(By.TAG_NAME, "main").text


@pytest.mark.long
def test_a_case_worker_records_a_conversation_with_consent_and_refers(
        server: str, browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.select import Select

    browser.get(server + "/inloggen")
    browser.find_element(By.ID, "name").send_keys("piet")
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    left = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.CSS_SELECTOR, "form.cw-form button[type=submit]").click()
    arrive(browser, server + "/", left)
    browser.get(server + "/zaak/1")

    def step(label: str) -> Any:
        summary = browser.find_element(By.XPATH, f"//summary[text()='{label}']")
        summary.click()
        return summary.find_element(By.XPATH, "..")

    conversation = step("Gesprek gevoerd")
    Select(conversation.find_element(By.ID, "hold_conversation-classification")
           ).select_by_visible_text("work_potential")
    Select(conversation.find_element(By.ID, "hold_conversation-participation_potential")
           ).select_by_visible_text("self")
    conversation.find_element(By.CSS_SELECTOR, "input[value='share:wij_team']").click()
    conversation.find_element(By.ID, "hold_conversation-note").send_keys("Goed gesprek")
    left = browser.find_element(By.TAG_NAME, "html")
    conversation.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    arrive(browser, server + "/zaak/1", left)
    main = browser.find_element(By.TAG_NAME, "main").text
    assert "De stand is nu: Gesproken" in main and "(share:wij_team): gegeven" in main
    accessible(browser)

    # Coach Meedoen: no consent was given for it, so the step is refused and says why.
    refer = step("Verwijzen naar een partner")
    Select(refer.find_element(By.ID, "refer-partner")).select_by_visible_text("Coach Meedoen")
    refer.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

    until(browser, lambda d: "Niet vastgelegd" in d.page_source)
    alert = browser.find_element(By.CSS_SELECTOR, "[role=alert]").text
    assert "de toestemming om gegevens te delen met Coach Meedoen is niet vastgelegd" in alert
    accessible(browser)

    refer = browser.find_element(By.XPATH, "//summary[text()='Verwijzen naar een partner']/..")
    Select(refer.find_element(By.ID, "refer-partner")).select_by_visible_text("het WIJ-team")
    left = browser.find_element(By.TAG_NAME, "html")
    refer.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    arrive(browser, server + "/zaak/1", left)
    until(browser, lambda d: "De stand is nu: Verwezen" in d.page_source)
    referrals = browser.find_element(By.TAG_NAME, "main").text
    assert "het WIJ-team" in referrals
    accessible(browser)


def log_in(driver: Any, server: str, name: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(server + "/inloggen")
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    left = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, "form.cw-form button[type=submit]").click()
    arrive(driver, server + "/", left)


@pytest.mark.long
def test_a_coordinator_plans_a_wave_and_assigns_it(coordinator_server: str, browser: Any,
                                                   tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.select import Select

    server = coordinator_server
    log_in(browser, server, "kees")
    left = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.LINK_TEXT, "Golf plannen").click()
    arrive(browser, server + "/golf-plannen", left)
    accessible(browser)
    Select(browser.find_element(By.ID, "plan-wijk")).select_by_visible_text("Oosterparkwijk")
    size = browser.find_element(By.ID, "plan-size")
    size.clear()
    size.send_keys("3")
    browser.find_element(By.CSS_SELECTOR, "input[name=plan-specialist][value=piet]").click()
    browser.find_element(By.XPATH, "//button[text()='Voorbeeld tonen']").click()
    until(browser, lambda d: d.find_elements(By.ID, "voorbeeld"))
    main = browser.find_element(By.TAG_NAME, "main").text
    assert "Golf 1 in Oosterparkwijk" in main and "Afspraken per dag" in main
    accessible(browser)  # the preview: nobody is invited yet
    screenshot(browser, tmp_path, "golf-plannen")

    browser.find_element(By.XPATH, "//button[starts-with(text(), 'Bevestigen')]").click()
    until(browser, lambda d: "uitgenodigd" in d.find_element(
        By.TAG_NAME, "main").text)
    assert "3 van de 3 geselecteerde mensen uitgenodigd" in browser.find_element(
        By.CSS_SELECTOR, "[role=status]").text

    left = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.LINK_TEXT, "Werkverdeling").click()
    arrive(browser, server + "/werkverdeling", left)
    accessible(browser)
    screenshot(browser, tmp_path, "werkverdeling")
    left = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.PARTIAL_LINK_TEXT, "Een golf toewijzen").click()
    arrive(browser, server + "/werkverdeling/golven", left)
    accessible(browser)
    Select(browser.find_element(By.ID, "wave-wave")).select_by_index(1)
    Select(browser.find_element(By.ID, "wave-worker")).select_by_visible_text("piet")
    browser.find_element(By.XPATH, "//button[text()='Golf toewijzen']").click()
    until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "[role=status]"))
    assert "3 van de 3 open zaken toegewezen aan piet" in browser.find_element(
        By.CSS_SELECTOR, "[role=status]").text
    accessible(browser)

    left = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.LINK_TEXT, "Werkverdeling").click()
    arrive(browser, server + "/werkverdeling", left)
    left = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.LINK_TEXT, "piet").click()
    arrive(browser, server + "/werkverdeling/medewerker/piet", left)
    assert browser.find_element(By.TAG_NAME, "h1").text == "Werk van piet"
    assert len(browser.find_elements(By.CSS_SELECTOR, "main table a.ams-link")) >= 3
    accessible(browser)
    browser.get(server + "/werkverdeling/zonder-medewerker")
    assert browser.find_element(By.TAG_NAME, "h1").text
    accessible(browser)


@pytest.mark.long
def test_an_admin_adds_a_case_worker_who_sets_their_own_password(
        cohort: Env, browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from waitress import create_server

    app = web_app(cohort)
    served = create_server(app, host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=served.run, daemon=True)
    thread.start()
    server = f"http://127.0.0.1:{served.effective_port}"
    try:
        def log_in(name: str, password: str) -> None:
            browser.get(server + "/inloggen")
            browser.find_element(By.ID, "name").send_keys(name)
            browser.find_element(By.ID, "password").send_keys(password)
            left = browser.find_element(By.TAG_NAME, "html")
            browser.find_element(By.CSS_SELECTOR, "form.cw-form button[type=submit]").click()
            arrive(browser, server + "/", left)

        log_in("anna", PASSWORD)
        left = browser.find_element(By.TAG_NAME, "html")
        browser.find_element(By.LINK_TEXT, "Medewerkers").click()
        arrive(browser, server + "/medewerkers", left)
        assert browser.find_element(By.TAG_NAME, "h1").text == "Medewerkers"
        accessible(browser)
        screenshot(browser, tmp_path, "medewerkers")
        left = browser.find_element(By.TAG_NAME, "html")
        browser.find_element(By.LINK_TEXT, "Medewerker toevoegen").click()
        arrive(browser, server + "/medewerkers/nieuw", left)
        accessible(browser)
        browser.find_element(By.ID, "name").send_keys("eva")
        browser.find_element(By.ID, "full_name").send_keys("Eva de Vries")
        browser.find_element(By.CSS_SELECTOR, "input[name=roles][value=case_worker]").click()
        browser.find_element(By.CSS_SELECTOR, "input[name=wijken][value=Vinkhuizen]").click()
        left = browser.find_element(By.TAG_NAME, "html")
        browser.find_element(By.CSS_SELECTOR, "main form.cw-form button[type=submit]").click()
        arrive(browser, server + "/medewerkers/eva", left)
        assert "Medewerker eva toegevoegd" in browser.find_element(By.TAG_NAME, "main").text
        accessible(browser)
        screenshot(browser, tmp_path, "medewerker")
        browser.find_element(By.ID, "password").send_keys("a first password for eva")
        browser.find_element(By.ID, "repeat").send_keys("a first password for eva")
        left = browser.find_element(By.TAG_NAME, "html")
        browser.find_element(By.XPATH, "//button[text()='Wachtwoord zetten']").click()
        arrive(browser, server + "/medewerkers/eva", left)
        assert "Wachtwoord van eva gezet" in browser.find_element(By.TAG_NAME, "main").text
        # The processing log: a search by case, and the check of the chain.
        left = browser.find_element(By.TAG_NAME, "html")
        browser.find_element(By.LINK_TEXT, "Verwerkingslog").click()
        arrive(browser, server + "/verwerkingslog", left)
        accessible(browser)
        browser.find_element(By.ID, "log-case").send_keys("1")
        left = browser.find_element(By.TAG_NAME, "html")
        browser.find_element(By.XPATH, "//button[text()='Zoeken in de log']").click()
        arrive(browser, server + "/verwerkingslog", left)
        assert "Over zaak 1" in browser.find_element(By.TAG_NAME, "main").text
        accessible(browser)
        left = browser.find_element(By.TAG_NAME, "html")
        browser.find_element(By.XPATH, "//button[text()='Log controleren']").click()
        arrive(browser, server + "/verwerkingslog/controle", left)
        assert "De log is intact" in browser.find_element(By.TAG_NAME, "main").text
        accessible(browser)
        left = browser.find_element(By.TAG_NAME, "html")
        browser.find_element(By.LINK_TEXT, "Privacy").click()
        arrive(browser, server + "/privacy", left)
        accessible(browser)
        left = browser.find_element(By.TAG_NAME, "html")
        browser.find_element(By.CSS_SELECTOR, "form.cw-logout button").click()
        arrive(browser, server + "/inloggen", left)

        log_in("eva", "a first password for eva")
        assert "Medewerkers" not in browser.find_element(By.TAG_NAME, "nav").text
        left = browser.find_element(By.TAG_NAME, "html")
        browser.find_element(By.LINK_TEXT, "Mijn account").click()
        arrive(browser, server + "/mijn-account", left)
        assert "Vinkhuizen" in browser.find_element(By.TAG_NAME, "main").text
        accessible(browser)
        browser.find_element(By.ID, "current").send_keys("a first password for eva")
        browser.find_element(By.ID, "password").send_keys("eva chose this herself")
        browser.find_element(By.ID, "repeat").send_keys("eva chose this herself")
        left = browser.find_element(By.TAG_NAME, "html")
        browser.find_element(By.CSS_SELECTOR, "main form.cw-form button[type=submit]").click()
        arrive(browser, server + "/mijn-account", left)
        assert "Uw wachtwoord is gewijzigd" in browser.find_element(By.TAG_NAME, "main").text
        accessible(browser)
        screenshot(browser, tmp_path, "mijn-account")
        browser.get(server + "/medewerkers")
        assert browser.find_element(By.TAG_NAME, "h1").text == "Niet gevonden"
    finally:
        served.close()
        thread.join(timeout=10)


@pytest.fixture
def office_server(cohort: Env) -> Iterator[str]:
    """The web front with a back-office member (bo) and a daily run that made a batch of two
    invitations."""
    from conftest import lift_exclusions

    lift_exclusions(cohort)
    app = web_app(cohort)
    web_member(app, cohort, "bo", "--role", "back_office")
    invite(cohort, 1, 3)
    cohort.ok("daily", user="bo")
    with served(app) as url:
        yield url


@pytest.mark.long
def test_the_back_office_marks_a_batch_sent(office_server: str, browser: Any,
                                             tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    server = office_server
    browser.get(server + "/inloggen")
    browser.find_element(By.ID, "name").send_keys("bo")
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    left = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.CSS_SELECTOR, "form.cw-form button[type=submit]").click()
    arrive(browser, server + "/", left)

    left = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.LINK_TEXT, "Dagelijkse run").click()
    arrive(browser, server + "/dagelijkse-run", left)
    assert browser.find_element(By.TAG_NAME, "h1").text == "Dagelijkse run"
    assert "De run voor vandaag" in browser.find_element(By.TAG_NAME, "main").text
    accessible(browser)
    screenshot(browser, tmp_path, "dagelijkse-run")

    left = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.LINK_TEXT, "Brieven").click()
    arrive(browser, server + "/brieven", left)
    rows = browser.find_elements(By.CSS_SELECTOR, "table tbody tr")
    assert len(rows) == 1 and "gemaakt, nog niet verstuurd" in rows[0].text
    batch = rows[0].find_element(By.TAG_NAME, "td").text
    accessible(browser)
    screenshot(browser, tmp_path, "brieven")

    # The batch is re-made (not handed over in time): its letters go into a new one.
    left = browser.find_element(By.TAG_NAME, "html")
    rows[0].find_element(By.PARTIAL_LINK_TEXT, "opnieuw maken").click()
    remake = f"{server}/brieven/stapel/{batch}/opnieuw-maken"
    arrive(browser, remake, left)
    accessible(browser)
    browser.find_element(By.ID, "confirm").click()
    left = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.CSS_SELECTOR, "form.cw-form button[type=submit]").click()
    arrive(browser, remake, left)
    for _ in range(60):  # the letters are made in a thread of the server
        if "Klaar:" in browser.find_element(By.TAG_NAME, "main").text:
            break
        time.sleep(0.5)
        browser.refresh()
        arrive(browser, remake)
    assert "Klaar: 2 brieven gemaakt; 1 nieuwe stapel" in browser.find_element(
        By.TAG_NAME, "main").text
    accessible(browser)
    left = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.LINK_TEXT, "Terug naar Brieven en stapels").click()
    arrive(browser, server + "/brieven", left)
    rows = browser.find_elements(By.CSS_SELECTOR, "table tbody tr")
    assert len(rows) == 2 and "opnieuw gemaakt" in rows[1].text
    batch = rows[0].find_element(By.TAG_NAME, "td").text

    left = browser.find_element(By.TAG_NAME, "html")
    rows[0].find_element(By.PARTIAL_LINK_TEXT, "Verstuurd").click()
    arrive(browser, f"{server}/brieven/stapel/{batch}/versturen", left)
    accessible(browser)
    screenshot(browser, tmp_path, "versturen")
    browser.find_element(By.ID, "confirm").click()
    left = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.CSS_SELECTOR, "form.cw-form button[type=submit]").click()
    arrive(browser, server + "/brieven", left)
    main = browser.find_element(By.TAG_NAME, "main").text
    assert f"Stapel {batch}: 2 brieven als verstuurd vastgelegd" in main
    assert "Verstuurd" not in browser.find_element(By.CSS_SELECTOR, "table tbody tr").text
    accessible(browser)

    # A cohort: the preview stores nothing; the same file chosen again is imported.
    from selenium.webdriver.support.select import Select

    cohort_file = tmp_path / "cohort-nieuw.csv"
    cohort_file.write_text(
        "bsn,voorletters,achternaam,straat,huisnummer,postcode,woonplaats,wijk\n"
        f"{made_up_bsns(1, start=720_000_000)[0]},A.,Nieuw,Kerkstraat,1,9711 AB,Groningen,"
        "Oosterparkwijk\n123456789,B.,Fout,Kerkstraat,2,9711 AB,Groningen,Oosterparkwijk\n",
        encoding="utf-8")
    left = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.LINK_TEXT, "Cohort inlezen").click()
    arrive(browser, server + "/cohort-inlezen", left)
    accessible(browser)
    browser.find_element(By.ID, "bestand").send_keys(str(cohort_file))
    Select(browser.find_element(By.ID, "route")).select_by_value("kansen-in-kaart")
    left = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.XPATH, "//button[text()='Voorbeeld tonen']").click()
    arrive(browser, server + "/cohort-inlezen", left)
    main = browser.find_element(By.TAG_NAME, "main").text
    assert "Nog niets opgeslagen" in main and "het BSN voldoet niet aan de elfproef" in main
    accessible(browser)
    browser.set_window_size(1280, 1700)
    screenshot(browser, tmp_path, "cohort-inlezen")
    browser.set_window_size(1280, 1000)
    browser.find_element(By.ID, "bestand-opnieuw").send_keys(str(cohort_file))
    left = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.XPATH, "//button[starts-with(text(), 'Inlezen')]").click()
    arrive(browser, server + "/cohort-inlezen", left)
    assert "1 ingelezen" in browser.find_element(By.TAG_NAME, "main").text
    accessible(browser)

    left = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.LINK_TEXT, "Rapporten").click()
    arrive(browser, server + "/rapporten", left)
    chart = browser.find_element(By.CSS_SELECTOR, "img.cw-chart")
    assert browser.execute_script("return arguments[0].naturalWidth", chart) > 0
    accessible(browser)
    browser.set_window_size(1280, 2400)
    screenshot(browser, tmp_path, "rapporten")
    browser.set_window_size(1280, 1000)
    browser.get(server + "/rapporten/raad.html")  # the council's page, as it is published
    assert browser.find_element(By.TAG_NAME, "h1").text
    accessible(browser)


@contextmanager
def served_over_tls(app: Any) -> Iterator[int]:
    """The app served over TLS on an ephemeral loopback port (werkzeug's server, with a
    self-signed certificate it makes with cryptography); its port."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context="adhoc")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.port
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.mark.long
def test_a_case_worker_logs_in_through_the_identity_provider_and_out_again(
        cohort: Env, provider: FakeProvider, tmp_path: Path) -> None:
    """The provider is at its https address (login.groningen.test: another site than
    casework at 127.0.0.1, so the SameSite=Strict session cookie is not sent when the browser
    comes back from it). This browser's own DNS rule points that name at the provider served
    here, and this browser alone accepts its self-signed certificate; casework's server side
    reaches the same provider through the requests adapter."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions

    configure(cohort)
    provider.discovery["end_session_endpoint"] = ISSUER + "/logout"
    app = web_app(cohort, piet="Oosterparkwijk")
    with served(app) as server, served_over_tls(provider.app) as port, chromium(
            tmp_path / "profile", "--ignore-certificate-errors",
            f"--host-resolver-rules=MAP login.groningen.test:443 127.0.0.1:{port}") as browser:

        def click(selector: str) -> None:
            """Click and wait until the page it was on is gone."""
            left = browser.find_element(By.TAG_NAME, "html")
            browser.find_element(By.CSS_SELECTOR, selector).click()
            until(browser, expected_conditions.staleness_of(left))

        def through_provider(user: str) -> None:
            """Press "Inloggen via ..." and log in at the provider as ``user``."""
            assert browser.find_element(By.CSS_SELECTOR, "form.cw-sso button").text == \
                "Inloggen via Gemeente Groningen"
            click("form.cw-sso button")
            until(browser, lambda d: d.current_url.startswith(ISSUER + "/auth?"))
            browser.find_element(By.ID, "username").send_keys(user)
            click("main form button[type=submit]")

        browser.get(server + "/zaak/1")
        arrive(browser, server + "/inloggen")
        accessible(browser)
        # Someone the provider knows but casework does not: the one refusal.
        through_provider("nobody")
        until(browser, lambda d: d.current_url.startswith(server + "/inloggen/sso/terug?"))
        assert browser.find_element(By.TAG_NAME, "h1").text == "Inloggen"
        assert "Inloggen via Gemeente Groningen is niet gelukt" in browser.find_element(
            By.CSS_SELECTOR, "[role=alert]").text
        accessible(browser)

        # piet, from the refusal page: back from the provider, the page that moves on from
        # this site brings him to Mijn werk with the session cookie.
        through_provider("piet")
        until(browser, lambda d: d.current_url in (server + "/", server + "/inloggen")
            or d.find_elements(By.CSS_SELECTOR, "[role=alert]"))
        assert browser.current_url == server + "/", browser.find_element(
            By.TAG_NAME, "main").text  # a refusal, or the session cookie was not sent
        arrive(browser, server + "/")
        assert browser.find_element(By.TAG_NAME, "h1").text == "Mijn werk"
        assert browser.find_element(By.CSS_SELECTOR, ".cw-logout__who").text == \
            "Ingelogd als piet"
        cookies = {c["name"]: c for c in browser.execute_cdp_cmd(
            "Storage.getCookies", {})["cookies"]}
        assert cookies["casework"]["sameSite"] == "Strict" and cookies["casework"]["httpOnly"]
        assert "casework_sso" not in cookies  # the login in progress is over

        # Uitloggen ends the provider's session too, which sends the browser back.
        click("form.cw-logout button")
        arrive(browser, server + "/inloggen")
        assert provider.logouts == [{"client_id": CLIENT_ID,
                                     "post_logout_redirect_uri": server + "/inloggen"}]
        accessible(browser)
        browser.get(server + "/zaak/1")
        arrive(browser, server + "/inloggen")

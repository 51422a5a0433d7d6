"""The back office's pages (daily run, letter batches, reports and the council page) and the
letter PDF on the case page, through Flask's test client: each role sees and does what the
role table says and gets the same 404 for the rest; a batch is marked sent once; files are
named without a BSN; every read of a person's letters is in the processing log."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import Env, lift_exclusions
from helpers import (
    Clock,
    advance,
    bsn_of,
    csrf_of,
    invite,
    query,
    render,
    same_page,
    set_person,
    web_app,
    web_login,
    web_member,
)
from pypdf import PdfReader
from test_cli_daily import day, timers  # noqa: F401  (fixture)

# Case 1 of the sample cohort lives in Oosterparkwijk (piet's), case 2 in Vinkhuizen.
OWN, OTHER = 1, 2
# name -> the roles (and projects) of a member with one role.
MEMBERS = {"bo": ("--role", "back_office"), "kees": ("--role", "coordinator"),
           "mw": ("--role", "coordinator", "--project", "meedoen-werkt"),
           "bw": ("--role", "back_office", "--project", "meedoen-werkt"),
           "adm": ("--role", "admin")}


@pytest.fixture
def app(cohort: Env) -> Any:
    lift_exclusions(cohort)
    app = web_app(cohort, Clock(datetime.now(UTC)), piet="Oosterparkwijk")
    for name, roles in MEMBERS.items():
        web_member(app, cohort, name, *roles)
    return app


@pytest.fixture
def batch(cohort: Env, app: Any) -> str:
    """A batch of the invitations of cases 1 and 3, made by 'letters render'."""
    invite(cohort, OWN, 3)
    [made] = render(cohort)["batches"]
    return str(made["batch"])


def client_of(app: Any, name: str) -> Any:
    client = app.test_client()
    assert web_login(client, name).status_code == 302
    return client


def log_of(env: Env, actor: str, action: str) -> list[list[int]]:
    from sqlalchemy import select

    from casework.models import AccessLog

    return [list(r.case_ids) for r in query(env, select(AccessLog.case_ids).where(
        AccessLog.actor == actor, AccessLog.action == action))]


def menu(html: str) -> str:
    return html.split('aria-label="Hoofdmenu"', 1)[1].split("</nav>", 1)[0]


def test_the_back_office_sees_the_daily_runs_and_the_last_summary(app: Any,
                                                                 cohort: Env) -> None:
    office = client_of(app, "bo")
    before = office.get("/dagelijkse-run")
    assert before.status_code == 200 and "Nog geen runs" in before.text
    assert "nog geen run voor vandaag" in before.text
    assert "Dagelijkse run" in menu(before.text) and "Rapporten" in menu(before.text)
    invite(cohort, OWN)
    cohort.ok("daily", user="bo")
    page = office.get("/dagelijkse-run")
    assert page.status_code == 200
    assert "De run voor vandaag" in page.text and "goed gegaan" in page.text
    assert "Samenvatting van run 1" in page.text
    assert "Brieven gemaakt" in page.text  # the invitation the run rendered
    assert "<form" not in page.text.split("<main", 1)[1]  # the scheduler starts runs
    for name in ("piet", "kees", "mw", "adm"):
        other = client_of(app, name)
        assert other.get("/dagelijkse-run").status_code == 404
        assert "Dagelijkse run" not in menu(other.get("/").text)


def test_the_daily_run_page_names_each_failure_and_the_work_due(
        timers: Env) -> None:  # noqa: F811  (the fixture of test_cli_daily)
    advance(timers, 1, "wait")
    advance(timers, 2, "wait_hard")
    advance(timers, 2, "hold")  # its hard deadline cannot fire from here: the run fails it
    assert timers.run("daily", "--date", day(7)).exit_code == 1
    app = web_app(timers, Clock(datetime.now(UTC)))
    web_member(app, timers, "bo", "--role", "back_office")
    page = client_of(app, "bo").get("/dagelijkse-run")
    assert page.status_code == 200 and "met fouten" in page.text
    failed = page.text.split("Mislukt (de volgende run probeert het opnieuw)", 1)[1]
    failed = failed.split("</ul>", 1)[0]
    assert "zaak 2), poging 1:" in failed and "give_up" in failed
    assert "Vanzelf verder (give_up)" in page.text
    assert "Werk voor medewerkers" in page.text


def test_the_back_office_downloads_a_batch_and_marks_it_sent_once(
        app: Any, cohort: Env, batch: str) -> None:
    office = client_of(app, "bo")
    page = office.get("/brieven")
    assert page.status_code == 200 and batch in page.text
    assert "gemaakt, nog niet verstuurd" in page.text
    assert "Nog te maken: 0 in de wachtrij" in page.text
    assert log_of(cohort, "bo", "letters list") == []  # counts and batches name no person

    pdf = office.get(f"/brieven/stapel/{batch}/pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert pdf.mimetype == "application/pdf"
    disposition = pdf.headers["Content-Disposition"]
    assert disposition == f"attachment; filename=batch-{batch}.pdf"
    assert not any(bsn_of(case) in disposition for case in (OWN, 3))
    assert pdf.headers["Cache-Control"] == "no-store"
    manifest = office.get(f"/brieven/stapel/{batch}/manifest")
    assert manifest.status_code == 200 and b"case_reference" in manifest.data
    assert log_of(cohort, "bo", "letters batch pdf") == [[OWN, 3]]
    assert office.get(f"/brieven/stapel/{batch}/anders").status_code == 404
    assert office.get("/brieven/stapel/20991231-9/pdf").status_code == 404

    confirm = office.get(f"/brieven/stapel/{batch}/versturen")
    assert confirm.status_code == 200 and "aan het postbedrijf gegeven" in confirm.text
    token = csrf_of(confirm.text)
    url = f"/brieven/stapel/{batch}/versturen"
    assert office.post(url, data={"confirm": "yes"}).status_code == 400  # no CSRF token
    unconfirmed = office.post(url, data={"csrf_token": token})
    assert unconfirmed.status_code == 422 and "Vink aan" in unconfirmed.text
    assert cohort.json("letters", "batch", "list")["batches"][0]["status"] == "made"

    done = office.post(url, data={"csrf_token": token, "confirm": "yes"})
    assert done.status_code == 303 and done.headers["Location"] == "/brieven"
    assert "2 brieven als verstuurd vastgelegd" in office.get("/brieven").text
    [row] = cohort.json("letters", "batch", "list")["batches"]
    assert (row["status"], row["sent_by"]) == ("sent", "bo")
    sent_at = {letter["sent_at"] for letter in cohort.json("letters", "list")["letters"]}

    again = office.post(url, data={"csrf_token": token, "confirm": "yes"})
    assert again.status_code == 409 and "al als verstuurd vastgelegd" in again.text
    assert {letter["sent_at"] for letter in cohort.json("letters", "list")["letters"]} == sent_at
    assert "<form class=\"cw-form\"" not in again.text  # nothing left to confirm


def test_a_letter_cancelled_in_a_batch_is_listed_to_pull_and_pulled(
        app: Any, cohort: Env, batch: str) -> None:
    [letter] = [r for r in cohort.json("letters", "list")["letters"] if r["case_id"] == 3]
    cohort.ok("letters", "cancel", str(letter["id"]))
    office = client_of(app, "bo")
    page = office.get("/brieven")
    assert f"Uit stapel {batch} halen" in page.text
    confirm = office.get(f"/brieven/stapel/{batch}/versturen")
    assert "Haal deze brieven eerst uit de stapel" in confirm.text
    answer = office.post(f"/brieven/stapel/{batch}/versturen",
                         data={"csrf_token": csrf_of(confirm.text), "confirm": "yes"})
    assert answer.status_code == 303
    assert "1 brief als verstuurd vastgelegd, 1 uit de stapel gehaald" in office.get(
        "/brieven").text


@pytest.mark.parametrize("name", ["piet", "kees", "mw", "adm"])
def test_only_the_back_office_handles_batches(app: Any, batch: str, name: str) -> None:
    client = client_of(app, name)
    home = client.get("/")
    assert "Brieven" not in menu(home.text)
    token = csrf_of(home.text)
    for path in ("/brieven", f"/brieven/stapel/{batch}/pdf",
                 f"/brieven/stapel/{batch}/manifest", f"/brieven/stapel/{batch}/versturen"):
        assert client.get(path).status_code == 404, path
    refused = client.post(f"/brieven/stapel/{batch}/versturen",
                          data={"csrf_token": token, "confirm": "yes"})
    assert refused.status_code == 404


@pytest.mark.long
def test_reports_show_a_table_a_chart_and_the_council_page(app: Any, cohort: Env) -> None:
    invite(cohort, OWN)
    for name in ("bo", "kees"):
        client = client_of(app, name)
        page = client.get("/rapporten")
        assert page.status_code == 200 and "Benaderd" in page.text, name
        assert 'src="/rapporten/grafiek.png?' in page.text
        chart = client.get(page.text.split('src="', 1)[1].split('"', 1)[0]
                           .replace("&amp;", "&"))
        assert chart.status_code == 200 and chart.data.startswith(b"\x89PNG")
        response = client.get("/rapporten?rapport=response&route=kansen-in-kaart"
                              "&wijk=Oosterparkwijk&peildatum=2100-01-01")
        assert response.status_code == 200 and "Respons tot en met" in response.text
        caseload = client.get("/rapporten?rapport=caseload&route=all")
        assert caseload.status_code == 200 and "grafiek.png" not in caseload.text
        council = client.get("/rapporten/raad.html?rapport=outcomes&route=kansen-in-kaart"
                             "&peildatum=2026-11-30")
        assert council.status_code == 200 and council.mimetype == "text/html"
        assert council.headers["Content-Disposition"] == (
            'attachment; filename="raadsrapportage-kansen-in-kaart-2026-11-30.html"')
        assert "<table" in council.text and council.headers["Cache-Control"] == "no-store"


def test_a_bad_report_choice_says_why_and_keeps_the_form(app: Any) -> None:
    client = client_of(app, "bo")
    bad = client.get("/rapporten?rapport=outcomes&peildatum=gisteren")
    assert bad.status_code == 400 and "De peildatum is geen datum" in bad.text
    assert 'value="gisteren"' in bad.text and "Benaderd" not in bad.text
    wijk = client.get("/rapporten?rapport=outcomes&route=kansen-in-kaart&wijk=Nergens")
    assert wijk.status_code == 400 and "Wijk Nergens komt in deze route niet voor" in wijk.text


@pytest.mark.parametrize("name", ["mw", "bw"])
def test_a_member_of_another_project_sees_no_report_of_this_one(app: Any, cohort: Env,
                                                               name: str) -> None:
    invite(cohort, OWN)
    other = client_of(app, name)
    own = other.get("/rapporten")
    assert own.status_code == 200 and 'value="meedoen-werkt" selected' in own.text
    assert 'value="kansen-in-kaart"' not in own.text and 'value="all"' not in own.text
    asked = other.get("/rapporten?rapport=outcomes&route=kansen-in-kaart")
    assert asked.status_code == 400 and "u ziet alleen uw projecten" in asked.text
    assert "Benaderd" not in asked.text
    for path in ("/rapporten/grafiek.png?rapport=outcomes&route=kansen-in-kaart",
                 "/rapporten/raad.html?rapport=outcomes&route=kansen-in-kaart",
                 "/rapporten/raad.html?rapport=outcomes&route=all"):
        assert other.get(path).status_code == 404, path


@pytest.mark.parametrize("name", ["piet", "adm"])
def test_case_workers_and_admins_have_no_reports(app: Any, name: str) -> None:
    client = client_of(app, name)
    assert "Rapporten" not in menu(client.get("/").text)
    for path in ("/rapporten", "/rapporten/grafiek.png", "/rapporten/raad.html"):
        assert client.get(path).status_code == 404, path


def test_the_case_page_opens_a_letter_as_a_pdf_and_logs_the_preview(app: Any,
                                                                    cohort: Env) -> None:
    invite(cohort, OWN, OTHER)
    letters = {r["case_id"]: r["id"] for r in cohort.json("letters", "list")["letters"]}
    worker = client_of(app, "piet")
    page = worker.get(f"/zaak/{OWN}").text
    link = f"/zaak/{OWN}/brief/{letters[OWN]}.pdf"
    assert f'href="{link}"' in page
    pdf = worker.get(link)
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "El Amrani" in text and "KIK-000001" in text and bsn_of(OWN) not in text
    assert pdf.headers["Content-Disposition"] == f'inline; filename="brief-{letters[OWN]}.pdf"'
    assert pdf.headers["Cache-Control"] == "no-store"
    assert log_of(cohort, "piet", "letter preview") == [[OWN]]
    # Another wijk's case, another case's letter, no such letter: the same 404.
    answers = [worker.get(path) for path in (
        f"/zaak/{OTHER}/brief/{letters[OTHER]}.pdf", f"/zaak/{OWN}/brief/{letters[OTHER]}.pdf",
        f"/zaak/{OWN}/brief/999999.pdf")]
    assert {a.status_code for a in answers} == {404}
    assert len({same_page(a.text) for a in answers}) == 1
    assert log_of(cohort, "piet", "letter preview") == [[OWN]]
    # The back office previews letters of its projects ('letters preview'); an admin none.
    assert client_of(app, "bo").get(link).status_code == 200
    assert client_of(app, "adm").get(link).status_code == 404
    assert client_of(app, "mw").get(link).status_code == 404
    assert client_of(app, "bw").get(link).status_code == 404  # not one of its projects


def test_a_letter_that_cannot_be_made_says_why_in_dutch(app: Any, cohort: Env) -> None:
    invite(cohort, OWN)
    letter = cohort.json("letters", "list")["letters"][0]["id"]
    set_person(cohort, OWN, surname="Amrani \U000f0000")  # a character no font prints
    answer = client_of(app, "piet").get(f"/zaak/{OWN}/brief/{letter}.pdf")
    assert answer.status_code == 422
    assert "Deze brief kan nu niet gemaakt worden: er staat een teken in de brief dat het " \
        "lettertype niet kan drukken (U+F0000)" in answer.text
    assert "template" not in answer.text


def test_the_back_office_records_returned_mail_and_holds_a_letter_back(
        app: Any, cohort: Env, batch: str) -> None:
    letters = {r["case_id"]: r["id"] for r in cohort.json("letters", "list")["letters"]}
    office = client_of(app, "bo")
    page = office.get("/brieven")
    assert "Briefnummer" in page.text
    token = csrf_of(page.text)
    # In a batch not yet sent: held back, so to be pulled from it.
    held = office.post("/brieven/brief", data={"csrf_token": token, "what": "cancel",
                                               "letter": str(letters[3])})
    assert held.status_code == 303
    assert f"Brief {letters[3]} tegengehouden; haal hem uit stapel {batch}" in \
        office.get("/brieven").text
    again = office.post("/brieven/brief", data={"csrf_token": token, "what": "cancel",
                                                "letter": str(letters[3])})
    assert again.status_code == 422 and f"wordt al uit stapel {batch} gehaald" in again.text
    not_sent = office.post("/brieven/brief", data={"csrf_token": token, "what": "returned",
                                                   "letter": str(letters[OWN])})
    assert not_sent.status_code == 422 and "is niet verstuurd" in not_sent.text
    assert f'value="{letters[OWN]}"' in not_sent.text  # the number is kept
    cohort.ok("letters", "batch", "mark-sent", batch)
    back = office.post("/brieven/brief", data={"csrf_token": token, "what": "returned",
                                               "letter": str(letters[OWN])})
    assert back.status_code == 303
    assert f"zaak {OWN} heeft een taak om het adres na te gaan" in office.get("/brieven").text
    assert [t["case_id"] for t in cohort.json("task", "list", "--kind", "address_check")
            ["tasks"]] == [OWN]
    for letter, said in (("999999", "Er is geen brief 999999"), ("", "Vul het nummer"),
                         ("-3", "Vul het nummer")):
        refused = office.post("/brieven/brief", data={"csrf_token": token, "what": "cancel",
                                                      "letter": letter})
        assert refused.status_code == 422 and said in refused.text, letter
    assert office.post("/brieven/brief", data={"what": "cancel", "letter": "1"}).status_code \
        == 400
    worker = client_of(app, "piet")
    assert worker.post("/brieven/brief", data={"csrf_token": csrf_of(worker.get("/").text),
                                               "what": "cancel", "letter": str(letters[OWN])}
                       ).status_code == 404


def test_the_back_office_remakes_a_batch_once_and_sees_the_new_one(
        app: Any, cohort: Env, batch: str) -> None:
    from casework.web.office import remakes

    office = client_of(app, "bo")
    url = f"/brieven/stapel/{batch}/opnieuw-maken"
    assert f'href="{url}"' in office.get("/brieven").text
    page = office.get(url)
    assert page.status_code == 200 and "moet opnieuw gemaakt worden" in page.text
    token = csrf_of(page.text)
    assert office.post(url, data={"confirm": "yes"}).status_code == 400  # no CSRF token
    unticked = office.post(url, data={"csrf_token": token})
    assert unticked.status_code == 422 and "Vink aan" in unticked.text
    assert cohort.json("letters", "batch", "list")["batches"][0]["status"] == "made"

    done = office.post(url, data={"csrf_token": token, "confirm": "yes"})
    assert done.status_code == 303 and done.headers["Location"] == url
    job = remakes(app).get(batch)
    assert job is not None and job.done.wait(120)
    shown = office.get(url)
    assert shown.status_code == 200 and "2 brieven worden vandaag opnieuw gemaakt" in shown.text
    assert "Klaar: 2 brieven gemaakt" in shown.text and "1 nieuwe stapel" in shown.text
    batches = {b["batch"]: b for b in cohort.json("letters", "batch", "list")["batches"]}
    old = batches.pop(batch)
    [new] = batches.values()
    assert (old["status"], old["remade_by"]) == ("remade", "bo")
    assert (new["status"], new["letters"]) == ("made", 2)
    assert f'href="/brieven/stapel/{new["batch"]}/pdf"' in shown.text
    assert office.get(f"/brieven/stapel/{new['batch']}/pdf").data.startswith(b"%PDF")
    assert log_of(cohort, "bo", "letters batch remake") == [[OWN, 3]]
    assert log_of(cohort, "bo", "letters render") == [[OWN, 3]]

    # Clicked again (another tab, a colleague): nothing is re-made or rendered twice.
    again = office.post(url, data={"csrf_token": token, "confirm": "yes"})
    assert again.status_code == 409 and "is opnieuw gemaakt" in again.text
    assert len(cohort.json("letters", "batch", "list")["batches"]) == 2
    assert log_of(cohort, "bo", "letters batch remake") == [[OWN, 3]]
    assert '<form class="cw-form"' not in again.text.split("<main", 1)[1]


def test_a_letter_whose_appointment_passed_is_not_made_again(
        app: Any, cohort: Env, batch: str) -> None:
    from casework.web.office import remakes

    engine = app.extensions["casework.engine"]
    engine.clock.set(datetime(2100, 1, 5, 12, tzinfo=UTC))  # after the appointments
    office = client_of(app, "bo")
    url = f"/brieven/stapel/{batch}/opnieuw-maken"
    done = office.post(url, data={"csrf_token": csrf_of(office.get(url).text),
                                  "confirm": "yes"})
    assert done.status_code == 303
    job = remakes(app).get(batch)
    assert job is not None and job.done.wait(120)
    page = office.get(url).text
    assert "0 brieven worden vandaag opnieuw gemaakt, 2 niet" in page
    assert "niet opnieuw, de afspraak van 04-01-2100 10:00 is voorbij" in page


@pytest.mark.parametrize("name", ["piet", "kees", "adm"])
def test_only_the_back_office_remakes_a_batch(app: Any, cohort: Env, batch: str,
                                              name: str) -> None:
    client = client_of(app, name)
    url = f"/brieven/stapel/{batch}/opnieuw-maken"
    assert client.get(url).status_code == 404
    refused = client.post(url, data={"csrf_token": csrf_of(client.get("/").text),
                                     "confirm": "yes"})
    assert refused.status_code == 404
    assert cohort.json("letters", "batch", "list")["batches"][0]["status"] == "made"

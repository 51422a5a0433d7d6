"""Cohort inlezen on the web (issue 16), through Flask's test client: the back office
previews a file (nothing stored), imports exactly that file as 'cohort import' does,
downloads the rejected rows as formula-safe CSV; a changed file, a malformed or huge upload
and a post without CSRF token are refused in one Dutch line; other roles get the same 404."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import EXAMPLES, Env
from helpers import Clock, csrf_of, made_up_bsns, query, web_app
from test_web_office import MEMBERS, client_of, menu

# The hostile name of the letter and web tests: it must render as text.
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
FORMULA = '=HYPERLINK("http://x","y")'
ROUTE = "kansen-in-kaart"


def quoted(text: str) -> str:
    """A CSV cell holding text with quotes and commas."""
    return '"' + text.replace('"', '""') + '"'


@pytest.fixture
def app(cohort: Env) -> Any:
    app = web_app(cohort, Clock(datetime.now(UTC)), piet="Oosterparkwijk")
    from helpers import web_member

    for name, roles in MEMBERS.items():
        web_member(app, cohort, name, *roles)
    return app


NEW = made_up_bsns(5, start=710_000_000)


def cohort_file() -> bytes:
    """Two people the sample cohort imported already, a new one, a new one in contact with
    the social team (excluded) with a hostile surname, and three rows to reject: a postcode
    with markup (row 6), a house number that is no number beside a formula (row 7), a BSN
    failing the elfproef (row 8)."""
    lines = (EXAMPLES / "cohort.csv").read_text(encoding="utf-8-sig").splitlines()
    rows = [
        *lines[:3],
        f"{NEW[0]},A.,,Nieuw,Kerkstraat,1,,9711 AB,Groningen,Oosterparkwijk,,,no,",
        f"{NEW[1]},B.,,{quoted(HOSTILE)},Kerkstraat,2,,9711 AB,Groningen,"
        "Oosterparkwijk,,,yes,",
        f"{NEW[2]},C.,,Fout,Kerkstraat,3,,<b>97</b>,Groningen,Oosterparkwijk,,,no,",
        f"{NEW[3]},D.,,{quoted(FORMULA)},Kerkstraat,x,,9711 AB,Groningen,"
        "Oosterparkwijk,,,no,",
        "123456789,E.,,Elf,Kerkstraat,5,,9711 AB,Groningen,Oosterparkwijk,,,no,",
    ]
    return ("\n".join(rows) + "\n").encode("utf-8")


def stored(env: Env) -> tuple[int, int, int, int]:
    """People, cases, events and processing-log entries in the database."""
    from sqlalchemy import func, select

    from casework.models import AccessLog, Case, Event, Participant

    return tuple(query(env, select(func.count()).select_from(table))[0][0]  # type: ignore[return-value]
                 for table in (Participant, Case, Event, AccessLog))


def send(client: Any, path: str, token: str, data: bytes | None = None,
         name: str = "cohort-2026.csv", **fields: str) -> Any:
    """Post a form with the cohort file (multipart), as the page's form does."""
    form: dict[str, Any] = {"csrf_token": token, "route": ROUTE, **fields}
    if data is not None:
        form["bestand"] = (io.BytesIO(data), name)
    return client.post(path, data=form, content_type="multipart/form-data")


def hidden(html: str, name: str) -> str:
    return html.split(f'name="{name}" value="', 1)[1].split('"', 1)[0]


def preview_of(office: Any, data: bytes, name: str = "cohort-2026.csv", **fields: str) -> Any:
    page = office.get("/cohort-inlezen")
    return send(office, "/cohort-inlezen", csrf_of(page.text), data, name, **fields)


def test_the_preview_says_what_an_import_would_do_and_stores_nothing(app: Any,
                                                                    cohort: Env) -> None:
    office = client_of(app, "bo")
    page = office.get("/cohort-inlezen")
    assert page.status_code == 200 and "Cohort inlezen" in menu(page.text)
    assert 'type="file"' in page.text and 'enctype="multipart/form-data"' in page.text
    before = stored(cohort)
    preview = preview_of(office, cohort_file(), name="<img src=x onerror=alert(1)>.csv")
    assert preview.status_code == 200
    text = preview.text
    assert "Nog niets opgeslagen" in text
    assert "Voorbeeld: &lt;img src=x onerror=alert(1)&gt;.csv" in text
    counts = {term: value for term, value in (
        ("Rijen gelezen", "7"), ("Zouden worden ingelezen", "2"), ("Al bekend in deze route", "2"),
        ("Uitgesloten (wel ingelezen, niet uitgenodigd)", "1"),
        ("Afgekeurd (niet ingelezen)", "3"))}
    for term, value in counts.items():
        assert (f'{term}</dt><dd class="ams-description-list__description">{value}</dd>'
                in text), term
    assert "1: de persoon heeft contact met het sociaal team (WIJ-team)" in text
    assert "1: postcode onjuist" in text and "1: ongeldig BSN" in text
    # Each rejected row by its number, the reason in Dutch; the markup in it is text.
    assert "postcode &#39;&lt;b&gt;97&lt;/b&gt;&#39; is niet zoals 1234 AB" in text
    assert "<b>97</b>" not in text
    assert "huisnummer &#39;x&#39; is geen heel getal" in text
    assert "het BSN voldoet niet aan de elfproef" in text
    for row in ("6", "7", "8"):
        assert f'<td class="ams-table__cell cw-number">{row}</td>' in text
    assert "<script>" not in text and "<img src=x" not in text
    assert not any(bsn in text for bsn in NEW)
    assert "123456789" not in text
    assert "Inlezen: 2 mensen" in text and "Afgekeurde rijen downloaden" in text
    assert stored(cohort) == before  # nothing stored, not even a processing-log entry


def test_inlezen_imports_the_previewed_file_as_the_cli_does(app: Any, cohort: Env,
                                                            tmp_path: Any) -> None:
    from sqlalchemy import select

    from casework.models import Case, Event, Participant

    office = client_of(app, "bo")
    data = cohort_file()
    preview = preview_of(office, data, moment="2026-09-01T09:00")
    assert preview.status_code == 200
    people, cases, events, log = stored(cohort)
    done = send(office, "/cohort-inlezen/inlezen", csrf_of(preview.text), data,
                moment=hidden(preview.text, "moment"), digest=hidden(preview.text, "digest"),
                expected=hidden(preview.text, "expected"))
    assert done.status_code == 303 and done.headers["Location"] == "/cohort-inlezen"
    said = office.get("/cohort-inlezen").text
    assert ("cohort-2026.csv in Kansen in Kaart: 7 rijen gelezen, 2 ingelezen, 2 al bekend, "
            "1 uitgesloten (ingelezen, niet uitgenodigd), 3 afgekeurd") in said
    assert "anders dan het voorbeeld" not in said
    # Stored as 'cohort import' stores: the people, a case each opened at the moment of
    # selection by the member, the exclusion in the timeline; no processing-log entry.
    assert stored(cohort) == (people + 2, cases + 2, events + 3, log)
    rows = query(cohort, select(Participant.surname, Case.id, Case.excluded)
                 .join(Case, Case.participant_id == Participant.id)
                 .where(Participant.bsn.in_(NEW[:2])).order_by(Participant.bsn))
    assert [(r.surname, r.excluded) for r in rows] == [
        ("Nieuw", None), (HOSTILE, "social_team_contact")]
    opened = query(cohort, select(Event.actor, Event.at, Event.data, Event.trigger)
                   .where(Event.case_id.in_([r.id for r in rows])).order_by(Event.id))
    assert {(e.actor, e.trigger) for e in opened} == {("bo", "open"), ("bo", "exclude")}
    assert {e.data.get("file") for e in opened if e.trigger == "open"} == {"cohort-2026.csv"}
    assert {e.at.astimezone(UTC) for e in opened} == {datetime(2026, 9, 1, 7, 0, tzinfo=UTC)}
    # The CLI importing the same file now adds nothing: the web stored what it stores.
    path = tmp_path / "same.csv"
    path.write_bytes(data)
    again = cohort.run("cohort", "import", str(path), "--workflow", ROUTE, "--json")
    assert again.exit_code == 1  # rows were rejected
    import json

    summary = json.loads(again.stdout)
    assert (summary["imported"], summary["already_present"], summary["rejected"]) == (0, 4, 3)


def test_a_file_other_than_the_previewed_one_is_not_imported(app: Any, cohort: Env) -> None:
    office = client_of(app, "bo")
    data = cohort_file()
    preview = preview_of(office, data)
    before = stored(cohort)
    changed = data.replace(b"Nieuw", b"Anders")
    answer = send(office, "/cohort-inlezen/inlezen", csrf_of(preview.text), changed,
                  digest=hidden(preview.text, "digest"), expected="2")
    assert answer.status_code == 409
    assert "anders dan het bestand van het voorbeeld" in answer.text
    assert "Er is niets ingelezen" in answer.text
    assert stored(cohort) == before
    # Without the file sent again nothing is imported either.
    missing = send(office, "/cohort-inlezen/inlezen", csrf_of(preview.text), None,
                   digest=hidden(preview.text, "digest"))
    assert missing.status_code == 422 and "Kies het bestand" in missing.text
    assert stored(cohort) == before


def test_the_rejected_rows_download_as_csv_that_runs_no_formula(app: Any, cohort: Env) -> None:
    office = client_of(app, "bo")
    preview = preview_of(office, cohort_file())
    before = stored(cohort)
    answer = send(office, "/cohort-inlezen/afgekeurd.csv", csrf_of(preview.text),
                  cohort_file())
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert answer.headers["Content-Disposition"] == (
        'attachment; filename="afgekeurde-rijen.csv"')
    assert answer.headers["Cache-Control"] == "no-store"
    text = answer.data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:4] == ["rij", "reden", "bsn", "initials"]
    assert [r[0] for r in rows[1:]] == ["6", "7", "8"]
    assert rows[1][1] == "postcode '<b>97</b>' is niet zoals 1234 AB"
    assert rows[2][5] == "'" + FORMULA  # shown as text by a spreadsheet, never run
    assert stored(cohort) == before


@pytest.mark.parametrize(("data", "said"), [
    (b"bsn;achternaam\n" + "Gr\xf6ningen;x\n".encode("latin-1"),
     "is geen CSV-bestand in UTF-8"),
    (b"naam,adres\nJan,Kerkstraat 1\n",
     "ontbreken de kolommen bsn, achternaam, straat, huisnummer, postcode, woonplaats, wijk"),
    (b"\n\n", "is leeg"),
    (b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xb8\xff", "is geen CSV-bestand in UTF-8"),
])
def test_a_malformed_upload_gets_one_dutch_line(app: Any, cohort: Env, data: bytes,
                                                said: str) -> None:
    office = client_of(app, "bo")
    before = stored(cohort)
    answer = preview_of(office, data)
    assert answer.status_code == 422
    assert said in answer.text and "Traceback" not in answer.text
    assert answer.text.count('role="alert"') == 1
    assert stored(cohort) == before


def test_a_huge_upload_is_refused_before_it_is_read(app: Any, cohort: Env) -> None:
    office = client_of(app, "bo")
    before = stored(cohort)
    huge = b"x" * (11 * 1024 * 1024)  # [web] max_upload_mb is 10
    answer = preview_of(office, huge)
    assert answer.status_code == 413
    assert "Het bestand is groter dan 10 MB; er is niets ingelezen" in answer.text
    assert stored(cohort) == before
    # Other forms keep the small limit.
    page = office.get("/brieven")
    refused = office.post("/brieven/brief", data={"csrf_token": csrf_of(page.text),
                                                  "what": "cancel", "letter": "1" * 70000})
    assert refused.status_code == 413


def test_a_bad_choice_keeps_the_form_and_says_why(app: Any, cohort: Env) -> None:
    office = client_of(app, "bo")
    page = office.get("/cohort-inlezen")
    before = stored(cohort)
    future = send(office, "/cohort-inlezen", csrf_of(page.text), cohort_file(),
                  moment="2099-01-01T09:00")
    assert future.status_code == 422 and "ligt in de toekomst" in future.text
    assert 'value="2099-01-01T09:00"' in future.text
    nonsense = send(office, "/cohort-inlezen", csrf_of(page.text), cohort_file(),
                    moment="gisteren")
    assert nonsense.status_code == 422 and "geen datum en tijd" in nonsense.text
    unknown = send(office, "/cohort-inlezen", csrf_of(page.text), cohort_file(),
                   route="nergens")
    assert unknown.status_code == 422 and "Kies een route" in unknown.text
    assert stored(cohort) == before


def test_a_post_without_csrf_token_is_refused(app: Any, cohort: Env) -> None:
    office = client_of(app, "bo")
    before = stored(cohort)
    for path in ("/cohort-inlezen", "/cohort-inlezen/inlezen", "/cohort-inlezen/afgekeurd.csv"):
        answer = office.post(path, data={"route": ROUTE,
                                         "bestand": (io.BytesIO(cohort_file()), "c.csv")},
                             content_type="multipart/form-data")
        assert answer.status_code == 400 and "Formulier verlopen" in answer.text, path
    assert stored(cohort) == before


def test_the_back_office_of_another_project_imports_only_into_its_own(app: Any,
                                                                      cohort: Env) -> None:
    other = client_of(app, "bw")
    page = other.get("/cohort-inlezen")
    assert page.status_code == 200
    assert 'value="meedoen-werkt"' in page.text and f'value="{ROUTE}"' not in page.text
    before = stored(cohort)
    refused = send(other, "/cohort-inlezen", csrf_of(page.text), cohort_file())
    assert refused.status_code == 422 and "Kies een route" in refused.text
    assert stored(cohort) == before


@pytest.mark.parametrize("name", ["piet", "kees", "adm"])
def test_other_roles_get_the_same_404_and_store_nothing(app: Any, cohort: Env,
                                                       name: str) -> None:
    client = client_of(app, name)
    home = client.get("/")
    assert "Cohort inlezen" not in menu(home.text)
    token = csrf_of(home.text)
    before = stored(cohort)
    assert client.get("/cohort-inlezen").status_code == 404
    answers = [send(client, path, token, cohort_file(), digest="x")
               for path in ("/cohort-inlezen", "/cohort-inlezen/inlezen",
                            "/cohort-inlezen/afgekeurd.csv")]
    assert {a.status_code for a in answers} == {404}
    assert all("Niet gevonden" in a.text for a in answers)
    assert stored(cohort) == before


def test_a_bad_phone_number_is_left_out_with_a_warning_in_dutch(app: Any, cohort: Env) -> None:
    office = client_of(app, "bo")
    data = (f"bsn,achternaam,straat,huisnummer,postcode,woonplaats,wijk,telefoon\n"
            f"{NEW[4]},Bel,Kerkstraat,9,9711 AB,Groningen,Oosterparkwijk,12<i>3</i>\n").encode()
    preview = preview_of(office, data)
    assert preview.status_code == 200 and "Ingelezen zonder een gegeven" in preview.text
    assert ("telefoon &#39;12&lt;i&gt;3&lt;/i&gt;&#39; is geen telefoonnummer; ingelezen "
            "zonder telefoon") in preview.text
    assert "Inlezen: 1 persoon" in preview.text

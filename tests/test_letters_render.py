"""What a rendered letter says and how it is printed: the text in Dutch, the address in the
envelope window, hostile values printed literally, PDF/A-2b with embedded fonts.

Letters are made the way staff make them (a step queues them, `casework letters render`
renders them) and read back with pypdf.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from conftest import Env, dated_today
from helpers import advance, flat, render, set_person, staff
from pypdf import PageObject, PdfReader

from casework.mailroom import preview

APPOINTMENT = "2100-01-04 10:00"
INVITE = ("invite", "--set", f"appointment={APPOINTMENT}")
PARTNERS = ["coach_meedoen", "wijkwerkmakelaar", "centrum_naar_werk", "wij_team",
            "ontheffing_review"]
CONSENT = ["record_report", *(f"share:{partner}" for partner in PARTNERS)]
CONVERSATION = ("hold_conversation", "--set", "classification=work_potential",
                "--set", "participation_potential=supported",
                "--set", "consent=" + ",".join(CONSENT))
VOLUNTARY = "Meedoen is vrijwillig"
# Case 1 of the sample cohort.
NAME = "B. El Amrani"
ADDRESS = [NAME, "Jacob van Ruysdaelstraat 234", "9713 BK  GRONINGEN"]

MM = 72 / 25.4  # points per millimetre
A4 = (595.28, 841.89)  # width and height in points


# --- helpers ----------------------------------------------------------------------------------


def set_option(env: Env, table: str, line: str) -> None:
    """Add `line` to [table] of the test's config.toml (the table is made when missing)."""
    text = env.config.read_text(encoding="utf-8")
    header = f"[{table}]\n"
    if header in text:
        text = text.replace(header, header + line + "\n", 1)
    else:
        text += f"\n{header}{line}\n"
    env.config.write_text(text, encoding="utf-8")


def letters_of(env: Env, case_id: int) -> list[dict[str, Any]]:
    return env.json("letters", "list", "--case", str(case_id))["letters"]  # type: ignore[no-any-return]


def rendered_pdf(env: Env, case_id: int, template: str) -> PdfReader:
    """Render the queue and return the case's letter of that template."""
    summary = render(env)
    [letter] = [item for item in letters_of(env, case_id) if item["template"] == template
                and item["file"]]
    return PdfReader(Path(summary["output_dir"]) / letter["file"])


def text_of(reader: PdfReader) -> str:
    return "\n".join(page.extract_text() for page in reader.pages)


def placed_text(page: PageObject) -> list[tuple[str, float, float, float]]:
    """Return (text, x, baseline y, font size) of every piece of text on the page, in points
    from the bottom left corner of the page."""
    found: list[tuple[str, float, float, float]] = []

    def visit(text: str, cm: list[float], tm: list[float], font: Any, size: float) -> None:
        if not text.strip():
            return
        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        found.append((text.strip(), x, y, size * abs(tm[3] * cm[3] or 1)))

    page.extract_text(visitor_text=visit)
    return found


def window_rect(left: float = 22, top: float = 50, width: float = 85,
                height: float = 35) -> tuple[float, float, float, float]:
    """Return the envelope window (given in mm from the top left) as left, bottom, right, top
    in PDF points (y upwards from the bottom)."""
    return (left * MM, A4[1] - (top + height) * MM, (left + width) * MM, A4[1] - top * MM)


def in_window(x: float, y: float, size: float,
              rect: tuple[float, float, float, float]) -> bool:
    """Whether a line starting at x on baseline y lies in the window (its capitals above the
    baseline and its descenders below it included)."""
    left, bottom, right, top = rect
    return left <= x < right and y - 0.25 * size >= bottom and y + 0.75 * size <= top


def font_files(reader: PdfReader) -> list[tuple[str, bool]]:
    """Return (font name, embedded?) for every font the pages use."""
    fonts = []
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descendant = font.get("/DescendantFonts")
            described = descendant[0].get_object() if descendant else font
            descriptor = described["/FontDescriptor"].get_object()
            embedded = any(key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3"))
            fonts.append((str(font["/BaseFont"]), embedded))
    return fonts


# --- what the invitation says ---------------------------------------------------------------


@pytest.mark.parametrize(("appointment", "printed"), [
    ("2100-01-04 10:00", "maandag 4 januari 2100 om 10.00 uur"),
    # summer time: the local clock time, not UTC
    ("2099-07-06 14:30", "maandag 6 juli 2099 om 14.30 uur"),
])
def test_invitation_names_the_person_reference_date_and_appointment_in_dutch(
        cohort: Env, appointment: str, printed: str) -> None:
    advance(cohort, 1, "invite", "--set", f"appointment={appointment}")
    cohort.ok("letters", "render", "--date", "2099-12-01")
    [letter] = letters_of(cohort, 1)
    text = text_of(PdfReader(cohort.root / "letters-out" / letter["file"]))

    assert "Uitnodiging voor een gesprek" in text
    assert f"Beste {NAME}," in text
    assert "Ons kenmerk KIK-000001" in text
    # Dated the day it is made, whatever day the render is for: never back- or forward-dated.
    assert dated_today() in text
    assert f"Wanneer: {printed}" in text
    assert "Waar: bij u thuis" in text
    body = flat(text)
    assert "Bel ons, dan maken wij een nieuwe afspraak" in body  # how to move it
    assert "Wilt u geen gesprek? Laat het ons weten, dan komen wij niet" in body  # decline


def test_invitation_for_a_conversation_elsewhere_names_the_place(cohort: Env) -> None:
    advance(cohort, 1, *INVITE, "--set", "location=Buurthuis De Kern, Oosterweg 1")
    text = text_of(rendered_pdf(cohort, 1, "uitnodiging"))
    assert "Waar: Buurthuis De Kern, Oosterweg 1" in text
    assert "bij u thuis" not in text


def test_letterhead_and_contact_line_come_from_the_organisation_settings(cohort: Env) -> None:
    set_option(cohort, "organisation", 'name = "Gemeente Testdorp"\n'
               'department = "Sociaal Domein"\naddress = "Postbus 12"\n'
               'postcode_city = "1234 AB  TESTDORP"\nphone = "0800 1234"\n'
               'contact = "Mevrouw De Vries"\nwebsite = "testdorp.nl"')
    advance(cohort, 1, *INVITE)
    text = text_of(rendered_pdf(cohort, 1, "uitnodiging"))
    for printed in ("Gemeente Testdorp", "Sociaal Domein", "Postbus 12", "1234 AB  TESTDORP",
                    "testdorp.nl", "Bel Mevrouw De Vries via 0800 1234"):
        assert printed in text
    assert "Gemeente Groningen" not in text


def test_invitation_says_participation_is_voluntary_by_default(cohort: Env) -> None:
    advance(cohort, 1, *INVITE)
    assert letters_of(cohort, 1)[0]["variant"] == "with_sentence"
    assert VOLUNTARY in text_of(rendered_pdf(cohort, 1, "uitnodiging"))


def test_invitation_without_the_sentence_when_the_project_chose_that_variant(
        cohort: Env) -> None:
    set_option(cohort, "rules.voluntary", 'invitation_variant = "without_sentence"')
    advance(cohort, 1, *INVITE)
    assert letters_of(cohort, 1)[0]["variant"] == "without_sentence"
    text = text_of(rendered_pdf(cohort, 1, "uitnodiging"))
    assert VOLUNTARY not in text
    assert "maandag 4 januari 2100 om 10.00 uur" in text  # the rest of the letter is there


def test_invitation_prints_the_variant_chosen_when_it_was_queued(cohort: Env) -> None:
    advance(cohort, 1, *INVITE)  # queued with the sentence
    set_option(cohort, "rules.voluntary", 'invitation_variant = "without_sentence"')
    assert VOLUNTARY in text_of(rendered_pdf(cohort, 1, "uitnodiging"))


def test_referral_letter_names_the_partner_as_people_know_it(cohort: Env) -> None:
    advance(cohort, 1, *INVITE)
    advance(cohort, 1, *CONVERSATION)
    advance(cohort, 1, "refer", "--set", "partner=wij_team")
    text = text_of(rendered_pdf(cohort, 1, "verwijzing"))
    assert "gegevens door te geven aan het WIJ-team" in flat(text)
    assert "wij_team" not in text


def test_report_lists_the_themes_under_their_labels_and_the_correction_period(
        cohort: Env) -> None:
    set_option(cohort, "letters", "correction_days = 10")
    advance(cohort, 1, *INVITE)
    advance(cohort, 1, *CONVERSATION, "--set", "themes.health=Last van de rug",
            "--set", "themes.work_chances=Wil graag in de groenvoorziening werken")
    [task] = [t for t in cohort.json("task", "list")["tasks"]
              if t["case_id"] == 1 and t["kind"] == "report_due"]
    cohort.ok("task", "done", str(task["id"]), "--outcome", "done")
    text = text_of(rendered_pdf(cohort, 1, "verslag"))
    assert "Verslag van ons gesprek" in text
    assert "Gezondheid: Last van de rug" in text
    assert "Kans op werk: Wil graag in de groenvoorziening werken" in text
    assert "binnen 10 dagen" in flat(text)
    assert "Dagbesteding" not in text  # only the themes that were recorded


# --- capitals where a sentence or a name starts -----------------------------------------------


def preview_text(env: Env, template: str, case_id: int, **payload: Any) -> str:
    """Return the text of a case's letter as it would be made today (nothing queued)."""
    engine = env.engine()
    try:
        renderer, context = preview(engine, staff(engine, "anna"), template, case_id, payload)
        pdf = renderer.pdf(template, context)
    finally:
        engine.db.dispose()
    return text_of(PdfReader(io.BytesIO(pdf)))


@pytest.mark.parametrize(("initials", "prefix", "surname", "salutation"), [
    (None, "van", "Dijk", "Beste Van Dijk,"),  # without initials the tussenvoegsel: capital
    ("J.", "van", "Dijk", "Beste J. van Dijk,"),
    (None, None, "van Dijk", "Beste Van Dijk,"),  # the prefix stored in the surname
    (None, "'t", "Hart", "Beste 't Hart,"),  # 't and d' stay small
    (None, None, "d'Ancona", "Beste d'Ancona,"),
])
def test_salutation_capitalises_a_tussenvoegsel_that_starts_the_name(
        cohort: Env, initials: str | None, prefix: str | None, surname: str,
        salutation: str) -> None:
    set_person(cohort, 1, initials=initials, prefix=prefix, surname=surname)
    text = preview_text(cohort, "afsluiting", 1)
    assert salutation in text
    assert salutation[len("Beste "):-1] in text.splitlines()  # the address block's first line


def test_referral_letter_starts_a_sentence_with_the_partner_in_capitals(cohort: Env) -> None:
    text = flat(preview_text(cohort, "verwijzing", 1, partner="wij_team"))
    assert "Het WIJ-team neemt binnen een paar weken contact met u op." in text
    assert "door te geven aan het WIJ-team." in text  # inside a sentence it stays small
    assert "Wilt u toch niet dat het WIJ-team uw gegevens heeft?" in text
    engine = cohort.engine()
    try:  # the route's label itself is not changed
        route = engine.registry.get("kansen-in-kaart")
        assert route.fields["partner"].label_of("wij_team") == "het WIJ-team"
    finally:
        engine.db.dispose()


def test_no_template_starts_a_sentence_or_the_salutation_with_a_small_letter(
        cohort: Env) -> None:
    import re

    from casework.mailroom import renderer

    set_person(cohort, 1, initials=None, prefix="van", surname="Dijk")
    engine = cohort.engine()
    try:
        templates = renderer(engine).templates()
    finally:
        engine.db.dispose()
    for template in templates:
        text = flat(preview_text(cohort, template, 1, partner="wijkwerkmakelaar",
                                 appointment="2100-01-04T09:00:00+00:00",
                                 themes={"health": "rug"}, agreed="bellen"))
        assert "Beste Van Dijk," in text, template
        small = re.findall(r"[.?!] (\w+)", text.replace("Meedoen Werkt!", "Meedoen Werkt"))
        assert [word for word in small if word[0].islower()] == [], template


# --- the address in the envelope window -----------------------------------------------------


def test_address_lies_inside_the_envelope_window_and_nothing_else_does(cohort: Env) -> None:
    advance(cohort, 1, *INVITE)
    page = rendered_pdf(cohort, 1, "uitnodiging").pages[0]
    rect = window_rect()
    placed = placed_text(page)
    for line in ADDRESS:
        [(_, x, y, size)] = [item for item in placed if item[0] == line]
        assert in_window(x, y, size, rect), (line, x, y)
    inside = [text for text, x, y, size in placed if in_window(x, y, size, rect)]
    assert inside == ADDRESS


def test_address_follows_the_configured_window(cohort: Env) -> None:
    # an envelope with its window on the right
    for line in ("window_left_mm = 110", "window_top_mm = 45", "window_width_mm = 80",
                 "window_height_mm = 40"):
        set_option(cohort, "letters", line)
    advance(cohort, 1, *INVITE)
    placed = placed_text(rendered_pdf(cohort, 1, "uitnodiging").pages[0])
    rect = window_rect(110, 45, 80, 40)
    inside = [text for text, x, y, size in placed if in_window(x, y, size, rect)]
    assert inside == ADDRESS
    default = window_rect()
    assert not [text for text, x, y, size in placed if in_window(x, y, size, default)]


def test_a_seven_line_address_the_check_accepts_fits_in_the_window(cohort: Env) -> None:
    """Addresses of 3 to 7 lines may go out; all of them must show through the window."""
    from casework.letters import check_address

    lines = ["Stichting De Overloop", "t.a.v. mevrouw B. El Amrani", "afdeling Beheer",
             "kamer 12", "Jacob van Ruysdaelstraat 234", "achteringang", "9713 BK  GRONINGEN"]
    assert check_address(lines) is None
    engine = cohort.engine()
    try:
        renderer, context = preview(engine, staff(engine, "anna"), "afsluiting", 1)
        context["address"] = lines
        pdf = renderer.pdf("afsluiting", context)
    finally:
        engine.db.dispose()
    placed = placed_text(PdfReader(io.BytesIO(pdf)).pages[0])
    rect = window_rect()
    outside = [text for text, x, y, size in placed
               if text in lines and not in_window(x, y, size, rect)]
    assert outside == []


# --- hostile values print literally ---------------------------------------------------------


HOSTILE_SURNAME = 'Jansen #set page(width: 9cm) $x$ *b* _i_ \\ <l> @r'


def test_hostile_surname_prints_literally_and_never_runs_as_code(cohort: Env) -> None:
    set_person(cohort, 1, surname=HOSTILE_SURNAME)
    advance(cohort, 1, *INVITE)
    reader = rendered_pdf(cohort, 1, "uitnodiging")
    text = text_of(reader)
    assert f"B. {HOSTILE_SURNAME}\nJacob van Ruysdaelstraat 234" in text  # the address block
    assert f"Beste B. {HOSTILE_SURNAME}," in text
    page = reader.pages[0]
    assert (round(float(page.mediabox.width), 1), round(float(page.mediabox.height), 1)) == (
        round(A4[0], 1), round(A4[1], 1))  # '#set page(...)' did not run


def test_hostile_place_and_notes_print_literally(cohort: Env) -> None:
    place = 'Buurthuis #panic("kapot") *De Kern* [x] `y` "z"'
    note = 'Zorgt voor moeder; *soms* 50% #druk $$ @ 08:00 \\ klaar <L4> _hernia_'
    advance(cohort, 1, *INVITE, "--set", f"location={place}")
    advance(cohort, 1, *CONVERSATION, "--set", f"themes.daily_activities={note}")
    [task] = [t for t in cohort.json("task", "list")["tasks"]
              if t["case_id"] == 1 and t["kind"] == "report_due"]
    cohort.ok("task", "done", str(task["id"]), "--outcome", "done")
    summary = render(cohort)
    assert summary["failed"] == [] and summary["held"] == []
    by_template = {item["template"]: item for item in letters_of(cohort, 1)}
    invitation = text_of(PdfReader(Path(summary["output_dir"])
                                   / by_template["uitnodiging"]["file"]))
    report = text_of(PdfReader(Path(summary["output_dir"]) / by_template["verslag"]["file"]))
    assert f"Waar: {place}" in invitation
    assert f"Dagbesteding: {note}" in flat(report)


# --- the file: PDF/A-2b, fonts embedded -------------------------------------------------------


def test_letter_is_pdf_a_2b_with_its_fonts_embedded(cohort: Env) -> None:
    advance(cohort, 1, *INVITE)
    reader = rendered_pdf(cohort, 1, "uitnodiging")
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode("utf-8")
    assert ("<pdfaid:part>2</pdfaid:part>" in xmp or 'pdfaid:part="2"' in xmp), xmp[:500]
    assert ("<pdfaid:conformance>B</pdfaid:conformance>" in xmp
            or 'pdfaid:conformance="B"' in xmp)
    fonts = font_files(reader)
    assert fonts
    assert all(embedded for _, embedded in fonts), fonts
    assert len(reader.pages) == 1

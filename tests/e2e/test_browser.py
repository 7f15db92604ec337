"""The web app in a real browser: each test is one story a user of the app lives through,
with the app's own scripts and stylesheet running under its Content-Security-Policy.

The stories save screenshots of the pages they visit (tests/e2e/conftest.py: `screenshot`;
docs/screenshots/README.md says how to refresh the ones in the docs).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from services.seed import DEMO_PASSWORD
from services.seed.demo_accounts import DATA_MANAGER, coordinator_username
from services.web.session import COOKIE
from tests.e2e.conftest import Console, Served, Shot, open_session

pytestmark = pytest.mark.slow

AUDITOR = "qa.auditor"
NAMED = re.compile(r"\S")
CONTROLS = "input:not([type=hidden]), select, textarea, button"
NOT_ENROLLED = re.compile(r"not enrolled.* at a site you may access")


def sign_in_with_form(page: Page, username: str) -> None:
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def listed(page: Page) -> list[str]:
    """The participant ids in the participants table, in its order."""
    return page.locator("#participants tbody th[scope=row]").all_inner_texts()


def timeline_ids(page: Page) -> list[str]:
    return [item.get_attribute("data-event-id") or ""
            for item in page.locator("#timeline > li[data-event-id]").all()]


def shown_version(page: Page) -> int:
    found = re.search(r"\(version (\d+)\)", page.locator("#known-as-of").inner_text())
    assert found, page.locator("#known-as-of").inner_text()
    return int(found.group(1))


def moments(page: Page) -> list[tuple[str, int]]:
    """(value sent, version) of each recorded moment the as-of control offers, oldest first."""
    options = page.locator("#as-of-select option")
    found = []
    for i in range(options.count()):
        option = options.nth(i)
        version = re.search(r"· v(\d+) ", option.inner_text())
        assert version, option.inner_text()
        found.append((option.get_attribute("value") or "", int(version.group(1))))
    return found


def as_of_in_url(page: Page) -> str | None:
    """The as_of the address carries ('' for an empty one, None without one)."""
    values = parse_qs(urlsplit(page.url).query, keep_blank_values=True).get("as_of")
    return None if values is None else values[0]


def swapped(page: Page, act: Callable[[], None]) -> None:
    """Do `act`, which makes htmx swap in new content, and wait until the swap has settled."""
    root = page.locator("html")
    before = int(root.get_attribute("data-e2e-settled") or 0)
    act()
    expect(root).to_have_attribute("data-e2e-settled", str(before + 1))


LABELLED = """e => e.tagName === "BUTTON" || e.labels.length > 0
    || e.hasAttribute("aria-label") || e.hasAttribute("aria-labelledby")"""
"""A field is named by a label or an ARIA name, not by its placeholder (which the accessible
name falls back to, and which disappears as soon as something is typed)."""


def expect_named_controls(page: Page) -> int:
    """Every visible form control has an accessible name, as the browser computes it, from a
    label or an ARIA name (a button: from its text); returns how many there were."""
    controls = page.locator(CONTROLS)
    checked = 0
    for i in range(controls.count()):
        control = controls.nth(i)
        if control.is_visible():
            expect(control).to_have_accessible_name(NAMED)
            assert control.evaluate(LABELLED), control.evaluate("e => e.outerHTML")
            checked += 1
    return checked


def test_data_manager_signs_in_through_the_form_and_sees_every_participant(
        page: Page, served: Served, console: Console, screenshot: Shot) -> None:
    page.goto(served.url("/app/participants"))
    expect(page).to_have_url(re.compile(r"/app/sign-in\?next=%2Fapp%2Fparticipants$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    screenshot(page, "sign-in")

    sign_in_with_form(page, DATA_MANAGER)

    expect(page).to_have_url(served.url("/app/participants"))
    expect(page.locator("#participants")).to_be_visible()
    assert sorted(listed(page)) == sorted(served.sites)
    sites = page.locator("#participants tbody tr td:nth-of-type(1)").all_inner_texts()
    assert sorted(sites) == sorted(served.sites.values())
    expect(page.locator("header form.who")).to_contain_text("Demo Data Manager")
    screenshot(page, "participants")
    console.assert_quiet()


def test_casebook_moves_back_through_recorded_time_and_returns_to_the_latest(
        page: Page, served: Served, console: Console, screenshot: Shot) -> None:
    open_session(page.context, served, DATA_MANAGER)
    page.goto(served.url(f"/app/participants/{served.corrected}"))
    known = page.locator("#known-as-of")
    expect(known).to_contain_text("As recorded now")
    offered = moments(page)
    latest_version = shown_version(page)
    latest = timeline_ids(page)
    assert [version for _, version in offered] == list(range(1, latest_version + 1))
    assert offered[-1][0] == "", "the last moment is 'latest': no as_of at all"
    correction = page.locator("#timeline div.correction", has_text="Corrected")
    expect(correction).to_have_count(1)
    expect(correction.locator("th", has_text="Old value")).to_be_visible()
    expect(correction.locator("th", has_text="New value")).to_be_visible()
    assert correction.locator("tbody tr").count() >= 1
    screenshot(page, "casebook")

    # The select: the moment just before the correction was recorded.
    before = served.corrected_version - 1
    value = offered[before - 1][0]
    page.locator("#as-of-select").select_option(value=value)
    swapped(page, page.get_by_role("button", name="Show").click)
    expect(known).to_contain_text("As the ledger knew it at")
    expect(known).to_contain_text(f"(version {before})")
    assert as_of_in_url(page) == value
    earlier = timeline_ids(page)
    assert 0 < len(earlier) < len(latest)
    assert set(earlier) <= set(latest)
    expect(page.locator("#timeline div.correction", has_text="Corrected")).to_have_count(0)
    screenshot(page, "casebook-earlier")

    # Back to the latest through the select.
    page.locator("#as-of-select").select_option(index=len(offered) - 1)
    swapped(page, page.get_by_role("button", name="Show").click)
    expect(known).to_contain_text("As recorded now")
    expect(known).to_contain_text(f"(version {latest_version})")
    assert timeline_ids(page) == latest

    # The slider, from the keyboard: one moment back, then the first, then the latest again.
    slider = page.locator("#as-of-slider")
    expect(slider).to_be_visible()
    slider.focus()
    swapped(page, lambda: page.keyboard.press("ArrowLeft"))
    expect(known).to_contain_text(f"(version {latest_version - 1})")
    assert as_of_in_url(page) == offered[-2][0]
    expect(page.locator("#as-of-slider-value")).to_contain_text(f"v{latest_version - 1} ")

    page.locator("#as-of-slider").focus()
    swapped(page, lambda: page.keyboard.press("Home"))
    expect(known).to_contain_text("(version 1)")
    assert as_of_in_url(page) == offered[0][0]
    assert len(timeline_ids(page)) == 1, "only the enrolment was recorded at the first moment"
    expect(page.locator("#timeline > li").first).to_contain_text("Enrolled at")

    page.locator("#as-of-slider").focus()
    swapped(page, lambda: page.keyboard.press("End"))
    expect(known).to_contain_text("As recorded now")
    expect(known).to_contain_text(f"(version {latest_version})")
    assert as_of_in_url(page) == ""
    assert timeline_ids(page) == latest
    console.assert_quiet()


def test_site_coordinator_sees_only_their_own_site(page: Page, served: Served) -> None:
    open_session(page.context, served, coordinator_username("S01"))
    own, other = served.at_site("S01"), served.at_site("S02")
    assert own and other, "the seeded trial has participants at S01 and S02"

    page.goto(served.url("/app/participants"))
    assert sorted(listed(page)) == own
    assert not set(listed(page)) & set(other)

    answer = page.goto(served.url(f"/app/participants/{other[0]}"))
    assert answer is not None and answer.status == 404
    expect(page.get_by_role("alert")).to_contain_text(NOT_ENROLLED)
    expect(page.locator("#timeline")).to_have_count(0)


def test_endpoints_page_draws_the_curves_and_the_waterfall(
        page: Page, served: Served, console: Console, screenshot: Shot) -> None:
    open_session(page.context, served, DATA_MANAGER)
    answer = page.goto(served.url("/app/endpoints"))
    assert answer is not None and answer.status == 200
    steps = page.locator("svg path.km-step")
    assert steps.count() >= 1
    drawn = [steps.nth(i).get_attribute("data-steps") or "" for i in range(steps.count())]
    assert all(d.strip() for d in drawn), drawn
    assert page.locator("svg rect.bar").count() >= 1
    assert expect_named_controls(page) >= 1
    screenshot(page, "endpoints")
    console.assert_quiet()


def test_keyboard_skip_link_and_named_controls(page: Page, served: Served) -> None:
    page.goto(served.url("/app/sign-in"))
    # The sign-in form is the whole page: it starts in the username field (autofocus).
    expect(page.get_by_label("Username")).to_be_focused()
    checked = expect_named_controls(page)
    open_session(page.context, served, DATA_MANAGER)
    for path in ["/app/participants", f"/app/participants/{served.corrected}", "/app/audit",
                 "/app/monitoring", "/app/ledger"]:
        page.goto(served.url(path))
        page.keyboard.press("Tab")
        focused = page.locator(":focus")
        expect(focused).to_have_text("Skip to content")
        expect(focused).to_have_attribute("href", "#main")
        page.keyboard.press("Enter")
        expect(page.locator("main#main")).to_be_focused()
        page.keyboard.press("Tab")
        expect(page.locator("main :focus")).to_have_count(1)
        checked += expect_named_controls(page)
    assert checked >= 20, "the pages' forms were there to check"


def test_pages_run_under_the_content_security_policy_without_errors(
        page: Page, served: Served, console: Console, screenshot: Shot) -> None:
    answer = page.goto(served.url("/app/sign-in"))
    assert answer is not None
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy
    open_session(page.context, served, DATA_MANAGER)
    for path, name in [("/app/participants", None),
                       (f"/app/participants/{served.corrected}", None),
                       ("/app/audit", "audit"), ("/app/monitoring", "monitoring"),
                       ("/app/ledger", "ledger")]:
        answer = page.goto(served.url(path))
        assert answer is not None and answer.status == 200, path
        # The stylesheet applied (the header's rule) and the page's scripts ran (htmx).
        expect(page.locator("header.top")).to_have_css("border-bottom-width", "2px")
        assert page.evaluate("typeof window.htmx") == "object", path
        if name:
            screenshot(page, name)
    # The casebook's script drives htmx under the policy too.
    page.goto(served.url(f"/app/participants/{served.corrected}"))
    page.locator("#as-of-slider").focus()
    swapped(page, lambda: page.keyboard.press("ArrowLeft"))
    expect(page.locator("#known-as-of")).to_contain_text("As the ledger knew it at")
    console.assert_quiet()
    # The pages name their icon (or serve one), so no first visit asks for a missing one.
    icon = page.request.get(served.url("/favicon.ico"))
    assert page.locator("link[rel~=icon]").count() == 1 or icon.ok, "no icon: a 404 each visit"


def test_signing_out_returns_to_the_sign_in_form_and_pages_ask_to_sign_in_again(
        page: Page, served: Served) -> None:
    page.goto(served.url("/app/sign-in"))
    sign_in_with_form(page, AUDITOR)
    expect(page).to_have_url(served.url("/app/participants"))
    page.goto(served.url("/app/audit"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Audit")

    page.get_by_role("button", name="Sign out").click()

    expect(page).to_have_url(served.url("/app/sign-in"))
    expect(page.get_by_label("Username")).to_be_visible()
    assert not [c for c in page.context.cookies() if c["name"] == COOKIE]
    page.goto(served.url("/app/audit"))
    expect(page).to_have_url(served.url("/app/sign-in?next=%2Fapp%2Faudit"))
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)

"""The digest email: its schedule in the park's time zone, once per period across restarts and
failed sends, the catch-up after downtime, both languages, the chart inline by cid, and end to
end through Dovecot, the SMTP relay and the Sheets emulator (``park`` fixture)."""

from __future__ import annotations

import html
import re
import warnings
from datetime import date, datetime, timedelta
from email import message_from_bytes, policy
from zoneinfo import ZoneInfo

import pytest
import schedule

from daemon.config import ConfigError, DigestTime, parse_config, parse_digest_schedule
from daemon.journal import Journal
from daemon.review import build_review
from daemon.review.chart_image import (category_chart_png, chart_fonts, chart_texts, drawable,
                                       fold_small_categories, weekly_counts)
from daemon.review.digest import build_digest, digest_context, digest_recipients
from daemon.review.digest_job import (DigestJob, due_period, outbox_identity, period_start,
                                      SINCE_KEY, queued_key)
from daemon.review.figures import period_of
from daemon.templates import Templates
from tests.fakes.adapters import FakeMailer
from tests.test_review import CONFIG_DATA, NOW, synthetic_rows

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
ROWS = synthetic_rows(200)


def config_with(review=None, **sections):
    data = {**CONFIG_DATA, **sections}
    data["leadership"] = ["boss@park.example.com", "deputy@park.example.com"]
    if review is not None:
        data["review"] = review
    return parse_config(data, config_dir="/nonexistent")


def at(*parts, tz=SHANGHAI):
    return datetime(*parts, tzinfo=tz)


def parsed(raw: bytes):
    return message_from_bytes(raw, policy=policy.default)


# --- config --------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("monday 09:00", DigestTime(0, 9, 0)),
    ("Every Monday 9:00", DigestTime(0, 9, 0)),
    ("fri 17:30", DigestTime(4, 17, 30)),
    ("every day 08:30", DigestTime(None, 8, 30)),
    ("daily 0:05", DigestTime(None, 0, 5)),
    ("sunday 23:59", DigestTime(6, 23, 59)),
])
def test_schedules_that_are_accepted(text, expected):
    assert parse_digest_schedule(text) == expected
    assert config_with({"digest_schedule": text}).review.schedule == expected


@pytest.mark.parametrize("text", ["1st of month", "monday", "09:00", "monday 24:00", "every day",
                                  "mo 09:00", "monday 9am", "every 2 days 09:00", "星期一 09:00"])
def test_schedules_that_are_refused_with_a_plain_error(text):
    with pytest.raises(ConfigError) as caught:
        config_with({"digest_schedule": text})
    [problem] = caught.value.problems
    assert problem.startswith("review.digest_schedule: ")
    assert "'monday 09:00'" in problem and "'every day 08:30'" in problem
    assert "digest_period: month" in problem


def test_review_defaults_and_recipients():
    config = config_with()
    assert config.review.digest_enabled is True
    assert config.review.digest_schedule == "monday 09:00"
    assert config.review.digest_period == "week"
    assert digest_recipients(config) == ["boss@park.example.com", "deputy@park.example.com",
                                         "service@park.example.com"]
    mixed = config_with({"digest_to": ["Boss@park.example.com", "leadership", "gm@park.example.com"]})
    assert digest_recipients(mixed) == ["Boss@park.example.com", "deputy@park.example.com",
                                        "gm@park.example.com"]


def test_bad_review_values_name_their_keys():
    with pytest.raises(ConfigError) as caught:
        config_with({"digest_to": ["leaders", "not an address"], "digest_period": "year",
                     "digest_enabled": "sometimes"})
    text = str(caught.value)
    assert "review.digest_to[0]: 'leaders' is neither leadership, service_center nor an email" in text
    assert "review.digest_to[1]: 'not an address' is neither" in text
    assert "review.digest_period: must be one of week, month" in text
    assert "review.digest_enabled: must be true or false" in text


def test_the_example_config_documents_the_review_section():
    from daemon.config import load_config
    from tests.park_harness import ROOT

    config = load_config(ROOT / "config.yaml")
    assert config.review.schedule == DigestTime(0, 9, 0)
    assert config.review.digest_to == ("leadership", "service_center")


# --- what is due ---------------------------------------------------------------------------------

WEEKLY = DigestTime(0, 9, 0)


def test_a_weekly_digest_is_due_from_monday_0900_until_the_next_monday():
    assert due_period(WEEKLY, "week", at(2026, 11, 30, 8, 59), SHANGHAI) is None
    assert due_period(WEEKLY, "week", at(2026, 11, 30, 9, 0), SHANGHAI) == "2026-W48"
    assert due_period(WEEKLY, "week", at(2026, 12, 6, 23, 59), SHANGHAI) == "2026-W48"
    assert due_period(WEEKLY, "week", at(2026, 12, 7, 8, 0), SHANGHAI) is None
    assert due_period(WEEKLY, "week", at(2026, 12, 7, 9, 0), SHANGHAI) == "2026-W49"


def test_period_boundaries_are_the_parks_not_utcs():
    daily = DigestTime(None, 0, 30)
    moment = datetime(2026, 11, 29, 16, 30, tzinfo=ZoneInfo("UTC"))  # Monday 00:30 in Shanghai
    assert due_period(daily, "week", moment, SHANGHAI) == "2026-W48"
    assert due_period(daily, "week", moment, ZoneInfo("UTC")) == "2026-W47"  # still Sunday there
    assert period_start("2026-W49", "week", SHANGHAI) == at(2026, 11, 30, 0, 0)
    # New York leaves summer time on 2026-11-01: Monday 09:00 is 13:00 UTC before, 14:00 after.
    utc = ZoneInfo("UTC")
    assert due_period(WEEKLY, "week", datetime(2026, 10, 26, 12, 59, tzinfo=utc), NEW_YORK) is None
    assert due_period(WEEKLY, "week", datetime(2026, 10, 26, 13, 0, tzinfo=utc), NEW_YORK) == "2026-W43"
    assert due_period(WEEKLY, "week", datetime(2026, 11, 2, 13, 59, tzinfo=utc), NEW_YORK) is None
    assert due_period(WEEKLY, "week", datetime(2026, 11, 2, 14, 0, tzinfo=utc), NEW_YORK) == "2026-W44"


def test_a_monthly_digest_goes_at_the_first_scheduled_time_of_the_month():
    # December 2026 starts on a Tuesday: "monday 09:00" is the 7th, "every day 08:30" the 1st.
    assert due_period(WEEKLY, "month", at(2026, 12, 6, 9, 0), SHANGHAI) is None
    assert due_period(WEEKLY, "month", at(2026, 12, 7, 9, 0), SHANGHAI) == "2026-11"
    assert due_period(WEEKLY, "month", at(2026, 12, 31, 23, 0), SHANGHAI) == "2026-11"
    daily = DigestTime(None, 8, 30)
    assert due_period(daily, "month", at(2026, 12, 1, 8, 29), SHANGHAI) is None
    assert due_period(daily, "month", at(2026, 12, 1, 8, 30), SHANGHAI) == "2026-11"
    assert due_period(daily, "month", at(2027, 1, 1, 8, 30), SHANGHAI) == "2026-12"


# --- the job, with a register and mailer in memory and a real journal ---------------------------

class ListRegister:
    def __init__(self, rows, archived=(), fail=0):
        self.rows, self.archived, self.fail, self.reads = list(rows), list(archived), fail, 0

    def read_register(self):
        self.reads += 1
        if self.fail:
            self.fail -= 1
            from daemon.register import RegisterUnavailable
            raise RegisterUnavailable("Google Sheets did not answer (test)")
        return list(self.rows)

    def read_archives(self):
        return {"Archive 2025": list(self.archived)} if self.archived else {}


@pytest.fixture
def setup(tmp_path):
    config = config_with()
    register, mailer = ListRegister(ROWS[:150], ROWS[150:]), FakeMailer()
    journals = []

    def job(now=None):
        journal = Journal(tmp_path / "journal.sqlite3")
        journals.append(journal)
        if journal.get_value(SINCE_KEY) is None:  # ParkDesk has run since long before NOW
            journal.set_value(SINCE_KEY, "2026-01-01T00:00:00+00:00")
        return DigestJob(config, register, mailer, journal, Templates("zh-CN"), now or (lambda: NOW))

    yield config, register, mailer, job
    for journal in journals:
        journal.close()


def digests(mailer):
    return [m for m in mailer.sent if "周报" in m["Subject"]]


def periods_sent(mailer):
    return [re.search(r"\d{4}-W\d\d", m["Subject"]).group() for m in digests(mailer)]


def test_once_per_period_across_a_restart(setup):
    config, register, mailer, job = setup
    first = job()
    outcome = first.run_if_due(at(2026, 11, 30, 11, 0))
    assert (outcome.period, outcome.queued, outcome.sent) == ("2026-W48", True, 1)
    assert first.run_if_due(at(2026, 11, 30, 11, 1)).sent == 0
    restarted = job()
    again = restarted.run_if_due(at(2026, 11, 30, 12, 0))
    assert (again.period, again.queued, again.sent) == ("2026-W48", False, 0)
    assert register.reads == 1  # the queued period is remembered: the register is not read again
    [digest] = digests(mailer)
    assert "2026-W48" in digest["Subject"]
    assert digest["To"] == "boss@park.example.com, deputy@park.example.com, service@park.example.com"
    assert digest["Auto-Submitted"] == "auto-generated"
    # the next week brings the next digest
    assert restarted.run_if_due(at(2026, 12, 7, 9, 0)).sent == 1
    assert periods_sent(mailer) == ["2026-W48", "2026-W49"]


def test_the_digest_missed_while_down_is_sent_at_the_next_start_once(setup):
    config, register, mailer, job = setup
    assert job().run_if_due(at(2026, 11, 30, 8, 0)).period is None  # Monday 08:00: not yet
    # down at 09:00; started again at 11:00
    assert job().run_if_due(at(2026, 11, 30, 11, 0)).sent == 1
    assert job().run_if_due(at(2026, 12, 2, 15, 0)).sent == 0
    assert len(digests(mailer)) == 1


def test_a_digest_missed_for_a_whole_period_is_not_sent_late(setup):
    config, register, mailer, job = setup
    job().run_if_due(at(2026, 12, 8, 10, 0))  # down from before 30 Nov 09:00 to 8 Dec
    assert periods_sent(mailer) == ["2026-W49"]


def test_a_failed_send_is_retried_later_never_duplicated(setup):
    config, register, mailer, job = setup
    mailer.fail_temporarily = 1
    digest_job = job()
    first = digest_job.run_if_due(at(2026, 11, 30, 9, 0))
    assert (first.queued, first.sent) == (True, 0) and mailer.sent == []
    assert digest_job.run_if_due(at(2026, 11, 30, 9, 1)).sent == 0  # waits before retrying
    assert digest_job.run_if_due(at(2026, 11, 30, 9, 10)).sent == 1
    assert digest_job.run_if_due(at(2026, 11, 30, 9, 20)).sent == 0
    assert register.reads == 1
    [digest] = digests(mailer)
    journal = digest_job.journal
    states = [state for purpose, _, state in journal.iter_outbox() if purpose == "digest"]
    assert states == ["sent"]


def test_a_failed_send_is_retried_at_once_after_a_restart(setup):
    config, register, mailer, job = setup
    mailer.fail_temporarily = 1
    job().run_if_due(at(2026, 11, 30, 9, 0))
    assert job().run_if_due(at(2026, 11, 30, 9, 1)).sent == 1
    assert len(digests(mailer)) == 1


def test_a_crash_between_queueing_and_remembering_sends_no_second_copy(setup):
    config, register, mailer, job = setup
    mailer.fail_temporarily = 1
    first = job()
    first.run_if_due(at(2026, 11, 30, 9, 0))
    first.journal.set_value(queued_key("week"), "")  # as if the crash came before this write
    second = job()
    outcome = second.run_if_due(at(2026, 11, 30, 9, 5))
    assert (outcome.queued, outcome.sent) == (False, 1)  # the queued copy, not a new one
    assert len(digests(mailer)) == 1
    assert second.journal.pending_mail_for(outbox_identity("week", "2026-W48")) == 0


def test_a_register_outage_is_logged_and_the_next_check_sends(setup, caplog):
    config, register, mailer, job = setup
    register.fail = 1
    clock = iter([at(2026, 11, 30, 9, 0), at(2026, 11, 30, 9, 1)])
    digest_job = job(now=lambda: next(clock))
    assert digest_job.check() is None
    assert "the digest could not be prepared" in caplog.text
    assert digest_job.check().sent == 1
    assert len(digests(mailer)) == 1


def test_install_adds_one_check_that_runs_at_the_next_turn(setup):
    config, register, mailer, job = setup
    scheduler = schedule.Scheduler()
    digest_job = job(now=lambda: at(2026, 11, 30, 9, 30))
    installed = digest_job.install(scheduler)
    assert scheduler.jobs == [installed] and "digest" in installed.tags
    assert installed.should_run  # the catch-up check does not wait a whole interval
    scheduler.run_pending()
    assert len(digests(mailer)) == 1
    assert not installed.should_run and (installed.interval, installed.unit) == (60, "seconds")
    scheduler.run_all()
    assert len(digests(mailer)) == 1


def test_a_new_installation_sends_no_digest_for_a_period_before_its_first_check(tmp_path):
    mailer = FakeMailer()
    journal = Journal(tmp_path / "journal.sqlite3")
    try:
        digest_job = DigestJob(config_with(), ListRegister(ROWS), mailer, journal,
                               Templates("zh-CN"), lambda: NOW)
        # First started Monday 11:00 of week 49: week 48 ended before ParkDesk ran.
        assert digest_job.run_if_due(at(2026, 11, 30, 11, 0)).period is None
        assert digest_job.run_if_due(at(2026, 12, 6, 23, 0)).period is None
        # Week 49 is the first week ParkDesk saw: its digest goes out the next Monday.
        outcome = digest_job.run_if_due(at(2026, 12, 7, 9, 0))
        assert (outcome.period, outcome.queued, outcome.sent) == ("2026-W49", True, 1)
        assert len(digests(mailer)) == 1
    finally:
        journal.close()


def test_a_disabled_digest_installs_nothing_and_sends_nothing(tmp_path):
    config = config_with({"digest_enabled": False})
    mailer, scheduler = FakeMailer(), schedule.Scheduler()
    journal = Journal(tmp_path / "journal.sqlite3")
    try:
        digest_job = DigestJob(config, ListRegister(ROWS), mailer, journal, Templates("zh-CN"),
                               lambda: NOW)
        assert digest_job.install(scheduler) is None and scheduler.jobs == []
        assert digest_job.run_if_due(at(2026, 11, 30, 11, 0)).period is None
        assert mailer.sent == []
    finally:
        journal.close()


# --- the message ---------------------------------------------------------------------------------

def review_of(rows=ROWS, period_kind="week", now=NOW):
    return build_review(rows, config_with(), now, period_kind=period_kind)


def digest_message(language, review=None, chart=True):
    config = config_with()
    review = review or review_of()
    png = category_chart_png(ROWS, config, NOW) if chart else None
    message = build_digest(review, config, Templates(language), now=NOW, chart_png=png)
    return parsed(bytes(message)), review, config


def html_cells(markup: str) -> list[str]:
    return [html.unescape(cell) for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", markup)]


@pytest.mark.parametrize("language, title, figures_heading", [
    ("zh-CN", "投诉处理周报", "一、统计"), ("en", "weekly complaint digest", "1. Figures")])
def test_both_languages_render_text_and_html_with_the_chart_inline(language, title, figures_heading):
    message, review, _ = digest_message(language)
    assert review.period in message["Subject"]
    assert [part.get_content_type() for part in message.walk()] == [
        "multipart/alternative", "text/plain", "multipart/related", "text/html", "image/png"]
    text = message.get_body(("plain",)).get_content()
    markup = message.get_body(("html",)).get_content()
    assert title in text and figures_heading in text and figures_heading in markup
    [image] = [part for part in message.walk() if part.get_content_type() == "image/png"]
    content_id = image["Content-ID"].strip("<>")
    assert f'src="cid:{content_id}"' in markup
    png = image.get_content()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) < 60_000
    if language == "en":
        assert "统计" not in text and "统计" not in markup
    else:
        assert "Figures" not in text and "Figures" not in markup


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_the_text_part_has_the_same_figures_as_the_html_part(language):
    message, review, config = digest_message(language)
    text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    cells = html_cells(message.get_body(("html",)).get_content())
    context = digest_context(review, config, chart_cid=None)
    in_text = re.findall(r"^  (.+?)(?:：|: )(\S+) / (\S+) / (\S+(?: pt)?)$", text, re.MULTILINE)
    expected = [(row["current"], row["previous"], row["change"])
                for table in context["figures"] for row in table["rows"]]
    assert [found[1:] for found in in_text] == expected and len(expected) == 9 * len(review.figures)
    labels = {found[0] for found in in_text}
    in_html = [tuple(cells[i:i + 4]) for i in range(len(cells) - 3) if cells[i] in labels]
    assert in_html == in_text
    # and the figures are the review's own
    whole = review.figures[0]
    assert expected[0] == (str(whole.current_figures.received), str(whole.previous_figures.received),
                           f"{whole.change['received']:+d}")
    for group in review.recurring[:30]:
        assert ", ".join(group.references) in text and ", ".join(group.references) in cells
    for item in review.overdue[:30]:
        assert item.reference in text and item.reference in cells


def test_long_lists_are_cut_and_say_how_many_more():
    rows = [{**row, "location": "3号楼"} for row in ROWS]
    rows += [{"reference": f"C-9{n:03d}", "received_at": "2026-11-20 10:00", "resolve_by": "2026-11-21 10:00",
              "status": "已派单 Dispatched", "department": "property", "location": "3号楼",
              "email": f"t{n}@example.com", "category": f"cat{n}"} for n in range(40)]
    review = build_review(rows, config_with(), NOW, period_kind="week")
    assert len(review.overdue) > 30
    message, _, _ = digest_message("zh-CN", review=review, chart=False)
    text = message.get_body(("plain",)).get_content()
    assert f"另有 {len(review.overdue) - 30} 项" in text
    assert [part.get_content_type() for part in message.walk()] == [
        "multipart/alternative", "text/plain", "text/html"]
    assert "cid:" not in message.get_body(("html",)).get_content()


def test_a_tenants_markup_is_shown_not_run_in_the_html_part():
    rows = [{**row, "location": "<script>alert(1)</script>"} for row in ROWS]
    message, _, _ = digest_message("en", review=build_review(rows, config_with(), NOW, period_kind="week"))
    markup = message.get_body(("html",)).get_content()
    assert "<script>" not in markup and "&lt;script&gt;alert(1)&lt;/script&gt;" in markup


# --- the chart -----------------------------------------------------------------------------------

def test_weekly_counts_match_a_count_by_hand():
    last_monday = date(2026, 11, 23)
    mondays, series = weekly_counts(ROWS, SHANGHAI, last_monday, weeks=8)
    assert mondays[0] == date(2026, 10, 5) and mondays[-1] == last_monday
    for index, monday in enumerate(mondays):
        for category, values in series.items():
            expected = sum(1 for row in ROWS if row["category"] == category
                           and monday <= datetime.strptime(row["received_at"], "%Y-%m-%d %H:%M").date()
                           < monday + timedelta(days=7))
            assert values[index] == expected
    totals = [sum(values) for values in series.values()]
    assert totals == sorted(totals, reverse=True)
    folded = fold_small_categories({"a": [3, 1], "b": [2, 2], "c": [1, 0], "d": [0, 1]}, "rest", most=3)
    assert folded == {"a": [3, 1], "b": [2, 2], "rest": [1, 1]}


def test_every_chart_label_can_be_drawn_with_the_fonts_on_this_machine():
    config = config_with(categories=[
        {"key": "other", "name": "其他", "department": "property"},
        {"key": "facilities", "name": "设施维护", "department": "property"}])
    texts = chart_texts(config, ["设施维护", "其他", "water", "其他类别"])
    shown = [texts["title"], texts["axis"], *texts["labels"].values()]
    assert all(drawable(text) for text in shown)
    families, _ = chart_fonts()
    if len(families) == 1:  # no Chinese font here: keys and English, never boxes
        assert texts["labels"] == {"设施维护": "facilities", "其他": "other", "water": "water",
                                   "其他类别": "other categories"}
        assert texts["title"] == "Complaints received per week, by category"
    rows = [{"received_at": "2026-11-24 10:00", "category": name} for name in ("设施维护", "其他", "乱码类别")]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = category_chart_png(rows, config, NOW)
    assert png and not [w for w in caught if "missing from font" in str(w.message)]


# --- end to end: real Dovecot, SMTP relay and Sheets emulator ------------------------------------

E2E_SUBJECTS = {"zh-CN": "投诉处理周报", "en": "Complaint digest"}


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_the_leadership_mailbox_gets_the_digest_once(park, language, monkeypatch):
    from daemon.config import load_config
    from daemon.mailer import SmtpMailer
    from daemon.register import open_register
    from tests.test_dispatch_e2e import Clock

    park.config_path = park.write_config(review={"digest_enabled": True},
                                         **({"park": {"language": "en"}} if language == "en" else {}))
    for name, value in park.env().items():
        if name.startswith("PARKDESK_"):
            monkeypatch.setenv(name, value)
    clock = Clock()  # Wednesday 2025-05-14 10:00 in Shanghai: week 2025-W20
    for subject, body in (("3号楼电梯坏了", "电梯停在5楼"), ("空调不制冷", "办公室空调坏了"),
                          ("Noise at night", "Loud noise from unit 502 every night")):
        park.send_complaint(park.new_tenant(), subject, body)
    report = park.daemon(now=clock).run(once=True)
    assert len(report.registered) == 3

    config = load_config(park.config_path)
    monday = datetime(2025, 5, 19, 11, 0, tzinfo=SHANGHAI)  # down at 09:00, up at 11:00

    def run_digest(now):
        journal = Journal(config.state_dir / "journal.sqlite3")
        try:
            job = DigestJob(config, open_register(config.register), SmtpMailer(config.smtp),
                            journal, Templates(config.park.language), lambda: now)
            return [job.run_if_due(now), job.run_if_due(now + timedelta(minutes=1))]
        finally:
            journal.close()

    first = run_digest(monday)
    assert [(o.period, o.queued, o.sent) for o in first] == [("2025-W20", True, 1), ("2025-W20", False, 0)]
    after_restart = run_digest(monday + timedelta(hours=3))  # a fresh job, as after a restart
    assert [(o.queued, o.sent) for o in after_restart] == [(False, 0), (False, 0)]

    for address in (park.leader, park.service_center):
        found = [parsed(raw) for raw in park.mail_of(address)]
        found = [m for m in found if E2E_SUBJECTS[language] in m["Subject"]]
        assert len(found) == 1, f"{address} got {len(found)} digests"
        [digest] = found
        assert "2025-W20" in digest["Subject"]
        assert [p.get_content_type() for p in digest.walk()] == [
            "multipart/alternative", "text/plain", "multipart/related", "text/html", "image/png"]
        text = digest.get_body(("plain",)).get_content()
        markup = digest.get_body(("html",)).get_content()
        received = "收到：3 / 0 / +3" if language == "zh-CN" else "Received: 3 / 0 / +3"
        assert received in text
        assert ["3", "0", "+3"] == html_cells(markup)[5:8]
        [image] = [p for p in digest.walk() if p.get_content_type() == "image/png"]
        assert f'src="cid:{image["Content-ID"].strip("<>")}"' in markup
        assert image.get_content().startswith(b"\x89PNG")
    head = park.departments["facilities"]["head"]
    assert not [m for m in map(parsed, park.mail_of(head)) if E2E_SUBJECTS[language] in m["Subject"]]

"""parse_message on real-world mail collected by other projects' test suites (../shared/mail).

Every message listed in each corpus's index.json must parse without an exception
(UnparseableMessage only for empty files and raw TNEF streams, which are not emails), and our
results are compared with the index's facts: decoded subject, html_only, attachment names,
is_report. Disagreements must be explained by a documented rule or the short KNOWN list.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from daemon.parsing import ParsedMessage, UnparseableMessage, parse_message
from daemon.parsing.charsets import decode_header

MAIL = Path(__file__).resolve().parent.parent.parent / "shared" / "mail"
CORPORA = ("cpython_test_email", "ruby_mail_gem", "mimekit", "apache_james_mime4j",
           "sisimai_set_of_emails")

pytestmark = pytest.mark.skipif(
    not MAIL.is_dir(), reason=f"real-mail corpora not found at {MAIL} (../shared/mail from the repo root)")

# (corpus, file, fact) -> why we differ from the index, on purpose.
KNOWN: dict[tuple[str, str, str], str] = {
    ("ruby_mail_gem", "emails/attachment_emails/attachment_message_rfc822.eml", "attachments"):
        "an attached .eml is listed as one attachment; the files inside it are not listed again",
    ("apache_james_mime4j", "mimetools-testmsgs/multi-badnames.msg", "attachments"):
        "boundary folded over two lines: we split the three parts, the index's parser found none",
    ("sisimai_set_of_emails", "maildir/bsd/lhost-x5-01.eml", "is_report"):
        "the delivery report is inside a forwarded message/rfc822; a forwarded report does not "
        "make the message a report (it is still classified a bounce by its sender)",
    **{("sisimai_set_of_emails", f"maildir/bsd/rhost-aol-0{n}.eml", "html_only"):
       "the report's human-readable part is HTML, so the body text comes from HTML; the index "
       "counts only top-level HTML" for n in (1, 2, 3)},
}


def index_of(corpus: str) -> list[dict]:
    return json.loads((MAIL / corpus / "index.json").read_text(encoding="utf-8"))


def explained(fact: str, expected, got) -> str | None:
    """The documented rule that explains a difference, or None."""
    if fact == "subject":
        if "\ufffd" in expected and "\ufffd" not in got:
            return "index decoder gave up (U+FFFD); ours decoded the bytes"
        if re.sub(r"\s+", "", expected) == re.sub(r"\s+", "", got):
            return "whitespace around encoded words (RFC 2047 6.2: none between adjacent words)"
    if fact == "attachments" and len(expected) == len(got):
        reasons = set()
        for theirs, ours in zip(expected, got):
            if theirs == ours:
                continue
            if "\ufffd" in theirs and "\ufffd" not in ours:
                reasons.add("index decoder gave up (U+FFFD); ours decoded the bytes")
                continue
            base = re.split(r"[\\/]", decode_header(theirs)[0])[-1]
            if " ".join(base.split()) == " ".join(ours.split()):
                reasons.add("client paths dropped from names and encoded words decoded")
                continue
            return None
        return "; ".join(sorted(reasons))
    return None


def facts(entry: dict, message: ParsedMessage) -> dict[str, tuple]:
    found = {
        "html_only": (entry["html_only"], message.body_was_html),
        "attachments": (entry["attachments"], [a.name for a in message.attachments if a.name]),
        "is_report": (entry["is_report"], message.is_report),
    }
    if entry.get("subject_decoded") is not None:
        found["subject"] = (" ".join(entry["subject_decoded"].split()), message.subject)
    return found


@pytest.mark.parametrize("corpus", CORPORA)
def test_every_message_parses(corpus):
    parsed = unparseable = absent = 0
    unexpected_unparseable = []
    for entry in index_of(corpus):
        path = MAIL / corpus / entry["file"]
        if not path.is_file():
            absent += 1  # listed in the index but not shipped (ruby's .gitattributes)
            continue
        try:
            parse_message(path.read_bytes())
        except UnparseableMessage as error:
            unparseable += 1
            if entry["bytes"] > 0 and "TNEF" not in entry.get("note", ""):
                unexpected_unparseable.append((entry["file"], error.reason))
            continue
        parsed += 1
    print(f"\n{corpus}: {parsed} parsed, {unparseable} unparseable (empty or raw TNEF), {absent} absent")
    assert not unexpected_unparseable
    assert parsed > 0


@pytest.mark.parametrize("corpus", CORPORA)
def test_results_agree_with_index_facts(corpus):
    agree: Counter[str] = Counter()
    total: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    unexplained = []
    for entry in index_of(corpus):
        path = MAIL / corpus / entry["file"]
        if not path.is_file() or "note" in entry or entry["bytes"] == 0:
            continue
        message = parse_message(path.read_bytes())
        for fact, (expected, got) in facts(entry, message).items():
            total[fact] += 1
            if expected == got:
                agree[fact] += 1
                continue
            reason = KNOWN.get((corpus, entry["file"], fact)) or explained(fact, expected, got)
            if reason:
                reasons[reason] += 1
            else:
                unexplained.append((entry["file"], fact, expected, got))
    summary = ", ".join(f"{fact} {agree[fact]}/{total[fact]}" for fact in sorted(total))
    print(f"\n{corpus}: agreement {summary}; explained differences {dict(reasons)}")
    assert not unexplained


def test_known_differences_are_still_real():
    """Each KNOWN entry must still differ; a fixed one should leave the list."""
    for (corpus, file, fact) in KNOWN:
        entry = next(e for e in index_of(corpus) if e["file"] == file)
        expected, got = facts(entry, parse_message((MAIL / corpus / file).read_bytes()))[fact]
        assert expected != got, (corpus, file, fact)


def test_chinese_and_japanese_samples_decode_fully():
    """Spot checks on corpus messages in CJK charsets: no replacement characters."""
    samples = {
        ("sisimai_set_of_emails", "maildir/bsd/lhost-kddi-01.eml"): "メールエラー通知",
        ("apache_james_mime4j", "testmsgs/russian-headers.msg"): None,
    }
    for (corpus, file), subject in samples.items():
        message = parse_message((MAIL / corpus / file).read_bytes())
        if subject is not None:
            assert message.subject == subject
        assert "\ufffd" not in message.subject
        assert all("\ufffd" not in a.name for a in message.attachments)

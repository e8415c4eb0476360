"""Message-ID tokens bound to a recipient, the key file, and Authentication-Results verdicts."""

import logging
import multiprocessing
import os
import stat
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy

import pytest

from daemon import authenticity
from daemon.authenticity import (
    KEY_FILE_NAME,
    Secret,
    SecretFileError,
    authentication_verdict,
    find_token,
    load_or_create_secret,
    make_message_id,
    normalize_address,
    parse_authentication_results,
    read_message_id,
    split_message_ids,
)

MEMBER = "wang.wei@dept.example.cn"
DOMAIN = "park.example.com"


@pytest.fixture
def secret():
    return Secret(os.urandom(32))


def slip_id(secret, recipient=MEMBER, reference="C-250514-007", purpose="slip"):
    return make_message_id(secret, recipient=recipient, reference=reference, purpose=purpose, domain=DOMAIN)


# --- Message-ID tokens --------------------------------------------------------------------


def test_id_round_trips_and_is_issued_to_its_recipient(secret):
    mid = slip_id(secret)
    assert mid.startswith("<pd.C-250514-007.slip.") and mid.endswith("@park.example.com>")
    info = read_message_id(secret, mid)
    assert info is not None
    assert (info.reference, info.purpose, info.message_id) == ("C-250514-007", "slip", mid)
    assert info.issued_to(secret, MEMBER)
    assert read_message_id(secret, mid.strip("<>")) == info  # brackets optional


def test_id_is_not_issued_to_anybody_else(secret):
    info = read_message_id(secret, slip_id(secret))
    assert not info.issued_to(secret, "li.na@dept.example.cn")
    assert not info.issued_to(secret, "wang.wei@dept.example.cn.evil.example")
    assert not info.issued_to(secret, "wang.wei@dept.example.c")
    assert not info.issued_to(secret, "")
    assert not info.issued_to(secret, "not an address")


def test_sender_case_and_display_name_do_not_matter(secret):
    info = read_message_id(secret, slip_id(secret, recipient="Wang.Wei@Dept.Example.CN"))
    assert info.issued_to(secret, "wang.wei@dept.example.cn")
    assert info.issued_to(secret, "WANG.WEI@DEPT.EXAMPLE.CN")
    assert info.issued_to(secret, "王伟 <Wang.Wei@dept.example.cn>")
    assert info.issued_to(secret, " <wang.wei@dept.example.cn> ")


def test_ids_are_unique_per_message(secret):
    assert len({slip_id(secret) for _ in range(50)}) == 50


def test_a_relay_that_changes_the_case_of_the_id_does_not_break_it(secret):
    mid = slip_id(secret)
    for changed in (mid.lower(), mid.upper()):
        info = read_message_id(secret, changed)
        assert info is not None and info.issued_to(secret, MEMBER)
        assert info.reference.upper() == "C-250514-007"


def _replace_part(mid, index, new):
    local, _, domain = mid.strip("<>").partition("@")
    parts = local.split(".")
    parts[index] = new(parts[index])
    return "<" + ".".join(parts) + "@" + domain + ">"


def _flip(text, position):
    return text[:position] + ("b" if text[position] != "b" else "c") + text[position + 1:]


@pytest.mark.parametrize("index, change", [
    (1, lambda ref: "C-250514-008"),        # another complaint
    (1, lambda ref: "C-250514-0070"),
    (2, lambda purpose: "signoff"),         # another kind of message
    (3, lambda nonce: _flip(nonce, 0)),      # nonce
    (4, lambda mac: _flip(mac, 3)),          # seal
])
def test_tampered_ids_are_not_ours(secret, index, change):
    assert read_message_id(secret, _replace_part(slip_id(secret), index, change)) is None


def test_a_tampered_recipient_tag_no_longer_matches_the_recipient(secret):
    tampered = _replace_part(slip_id(secret), 4, lambda mac: _flip(mac, 30))
    info = read_message_id(secret, tampered)
    assert info is not None  # the seal is intact...
    assert not info.issued_to(secret, MEMBER)  # ...but the recipient tag is not


@pytest.mark.parametrize("foreign", [
    "<CAF=abc@mail.gmail.com>",
    "<20241017112401.032146@mail.solar.sec>",
    "<3e965865.5946.17541447519.Coremail.sh_def@163.com>",
    "<PH0PR04MB7416746F354376654DD601869B029@PH0PR04MB7416.namprd04.prod.outlook.com>",
    "<pd.C-250514-007.slip.abc@park.example.com>",
    "<pd.C-250514-007.slip.aaaaaaaaaaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@park.example.com>",
    "<>",
    "",
    "garbage",
])
def test_foreign_and_malformed_ids_give_none(secret, foreign):
    assert read_message_id(secret, foreign) is None


def test_ids_made_with_another_key_are_not_ours(secret):
    assert read_message_id(secret, slip_id(Secret(os.urandom(32)))) is None


@pytest.mark.parametrize("kwargs", [
    {"reference": "C.250514"},
    {"reference": ""},
    {"purpose": "slip note"},
    {"purpose": "x" * 65},
    {"recipient": "nobody"},
    {"recipient": ""},
    {"domain": "park example"},
    {"domain": "a@b"},
    {"domain": ""},
])
def test_make_message_id_rejects_what_would_not_fit(secret, kwargs):
    arguments = {"recipient": MEMBER, "reference": "C-250514-007", "purpose": "slip", "domain": DOMAIN}
    with pytest.raises(ValueError):
        make_message_id(secret, **{**arguments, **kwargs})


def test_split_message_ids_handles_folded_and_bare_lists():
    folded = "<a@x.cn>\r\n <b@y.cn>\t<c@z.cn>"
    assert split_message_ids(folded) == ["<a@x.cn>", "<b@y.cn>", "<c@z.cn>"]
    assert split_message_ids("a@x.cn b@y.cn") == ["<a@x.cn>", "<b@y.cn>"]
    assert split_message_ids("") == []


def test_find_token_picks_the_id_issued_to_the_sender(secret):
    to_colleague = slip_id(secret, recipient="li.na@dept.example.cn")
    to_member = slip_id(secret, purpose="reminder")
    references = f"<CAF=abc@mail.gmail.com> {to_colleague}\r\n {to_member}"
    info = find_token(secret, ["<CAF=abc@mail.gmail.com>", references], "Wang.Wei@dept.example.cn")
    assert info is not None and info.message_id == to_member and info.purpose == "reminder"
    # The colleague's id does not count for the member, nor the member's for a stranger.
    assert find_token(secret, [to_colleague], MEMBER) is None
    assert find_token(secret, [to_member], "boss@elsewhere.example") is None
    assert find_token(secret, [], MEMBER) is None


def test_token_survives_a_real_reply_through_the_email_parser(secret):
    slip = EmailMessage()
    slip["Message-ID"] = slip_id(secret)
    slip["Subject"] = "[C-250514-007] 处理单 Handling slip"
    reply = EmailMessage()
    reply["From"] = "王伟 <WANG.WEI@dept.example.cn>"
    reply["Subject"] = "回复: " + slip["Subject"]
    reply["In-Reply-To"] = slip["Message-ID"]
    reply["References"] = "<older@park.example.com> " + slip["Message-ID"]
    reply.set_content("收到")
    parsed = message_from_bytes(reply.as_bytes(), policy=default_policy)
    sender = parsed["From"].addresses[0].addr_spec
    info = find_token(secret, [str(parsed["In-Reply-To"]), str(parsed["References"])], sender)
    assert info is not None and info.reference == "C-250514-007"


def test_normalize_address():
    assert normalize_address("Li Lei <Li.Lei@Example.CN>") == "li.lei@example.cn"
    assert normalize_address("  li@x.cn ") == "li@x.cn"
    assert normalize_address("no address") == ""


# --- the key file ---------------------------------------------------------------------------


def test_secret_is_created_once_with_mode_0600_and_reused(tmp_path, secret):
    state_dir = tmp_path / "state"  # does not exist yet
    first = load_or_create_secret(state_dir)
    key_file = state_dir / KEY_FILE_NAME
    content = key_file.read_bytes()
    assert len(content) == 32
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    second = load_or_create_secret(state_dir)
    assert key_file.read_bytes() == content
    assert first == second and first != secret
    assert read_message_id(second, slip_id(first)).issued_to(second, MEMBER)
    assert [p.name for p in state_dir.iterdir()] == [KEY_FILE_NAME]  # no temporary files left


def test_secret_never_shows_in_repr_str_or_logs(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    secret = load_or_create_secret(tmp_path)
    key = (tmp_path / KEY_FILE_NAME).read_bytes()
    shown = repr(secret) + str(secret) + f"{secret}" + repr([secret]) + caplog.text
    for form in (key.hex(), key.hex().upper(), repr(key), key.decode("latin-1")):
        assert form not in shown
    assert "hidden" in repr(secret)


def test_a_secret_needs_32_bytes():
    with pytest.raises(ValueError):
        Secret(b"short")


def test_loose_permissions_are_tightened(tmp_path):
    load_or_create_secret(tmp_path)
    key_file = tmp_path / KEY_FILE_NAME
    key_file.chmod(0o644)
    load_or_create_secret(tmp_path)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_a_damaged_key_file_is_an_error_naming_the_file(tmp_path):
    (tmp_path / KEY_FILE_NAME).write_bytes(b"x" * 40)
    with pytest.raises(SecretFileError, match=KEY_FILE_NAME):
        load_or_create_secret(tmp_path)


def test_losing_the_race_to_create_the_key_takes_the_winners_key(tmp_path, monkeypatch):
    winner = os.urandom(32)
    real_link = os.link

    def other_process_wins_first(source, destination):
        with open(destination, "wb") as handle:
            handle.write(winner)
        return real_link(source, destination)

    monkeypatch.setattr(authenticity.os, "link", other_process_wins_first)
    assert load_or_create_secret(tmp_path) == Secret(winner)
    assert [p.name for p in tmp_path.iterdir()] == [KEY_FILE_NAME]


def test_without_hard_links_the_key_is_created_exclusively(tmp_path, monkeypatch):
    def no_links(source, destination):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(authenticity.os, "link", no_links)
    first = load_or_create_secret(tmp_path)
    key_file = tmp_path / KEY_FILE_NAME
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert load_or_create_secret(tmp_path) == first
    assert [p.name for p in tmp_path.iterdir()] == [KEY_FILE_NAME]


def _race_for_key(state_dir, barrier):
    barrier.wait()
    return make_message_id(load_or_create_secret(state_dir), recipient=MEMBER,
                           reference="C-250514-001", purpose="slip", domain=DOMAIN)


def test_processes_racing_to_create_the_key_all_end_with_the_same_one(tmp_path):
    context = multiprocessing.get_context("fork")
    workers = 6
    with context.Manager() as manager:
        barrier = manager.Barrier(workers)
        with context.Pool(workers) as pool:
            ids = pool.starmap(_race_for_key, [(tmp_path, barrier)] * workers)
    secret = load_or_create_secret(tmp_path)
    assert all(read_message_id(secret, mid).issued_to(secret, MEMBER) for mid in ids)
    assert [p.name for p in tmp_path.iterdir()] == [KEY_FILE_NAME]


# --- Authentication-Results -----------------------------------------------------------------

GMAIL_PASS = """mx.google.com;
       dkim=pass header.i=@gmail.com header.s=20230601 header.b="BE9/o/N5";
       spf=pass (google.com: domain of wang.wei@gmail.com designates 209.85.220.41 as permitted sender) smtp.mailfrom=wang.wei@gmail.com;
       dmarc=pass (p=NONE sp=QUARANTINE dis=NONE) header.from=gmail.com"""

GMAIL_SPOOFED = """mx.google.com;
       spf=softfail (google.com: domain of transitioning wang.wei@dept.example.cn does not designate 203.0.113.9 as permitted sender) smtp.mailfrom=wang.wei@dept.example.cn;
       dmarc=fail (p=QUARANTINE sp=QUARANTINE dis=QUARANTINE) header.from=dept.example.cn"""

# Google Workspace domain signed by its gappssmtp key (unaligned), SPF aligned.
GMAIL_WORKSPACE = """mx.google.com;
       dkim=pass header.i=@dept-example-cn.20150623.gappssmtp.com header.s=20150623 header.b=gJlLLhHa;
       spf=pass (google.com: domain of wang.wei@dept.example.cn designates 209.85.220.65 as permitted sender) smtp.mailfrom=wang.wei@dept.example.cn"""

# Exchange Online writes no authserv-id.
EXCHANGE_SPOOFED = (
    "spf=fail (sender IP is 203.0.113.9) smtp.mailfrom=dept.example.cn; dkim=none (message not signed) "
    "header.d=none;dmarc=fail action=none header.from=dept.example.cn;compauth=fail reason=000"
)
EXCHANGE_PASS = (
    "spf=pass (sender IP is 40.107.22.41) smtp.mailfrom=dept.example.cn; dkim=pass (signature was "
    "verified) header.d=dept.example.cn;dmarc=pass action=none header.from=dept.example.cn;compauth=pass reason=100"
)
EXCHANGE_BESTGUESS = (
    "spf=pass (sender IP is 40.107.22.41) smtp.mailfrom=dept.example.cn; dkim=none (message not signed) "
    "header.d=none;dmarc=bestguesspass action=none header.from=dept.example.cn;compauth=pass reason=109"
)

QQ_NOTHING = """mx.qq.com; spf=none smtp.mailfrom=;
\t dkim=none; dmarc=none(permerror) header.from=dept.example.cn"""
QQ_PASS = "mx.qq.com; dkim=pass header.i=@qq.com; spf=pass smtp.mailfrom=12345678@qq.com; dmarc=pass header.from=qq.com"
QQ_SPF_FAIL = ("mx.qq.com; spf=fail smtp.mailfrom=wang.wei@dept.example.cn; dkim=none; "
               "dmarc=none header.from=dept.example.cn")
QQ_OTHER_DOMAIN_FAILS = "mx.qq.com; spf=fail smtp.mailfrom=attacker@evil.example"

# What a 163.com mailbox finds on mail from an Exchange Online sender: stamped by the *sender's*
# server, naming the recipient's domain as authserv-id, with a stray "163.com;" part.
STAMPED_BY_SENDER_FOR_163 = """163.com; dkim=none (message not signed)
 header.d=none;163.com; dmarc=none action=none header.from=dept.example.cn;"""


@pytest.mark.parametrize("header, domain, kind", [
    (GMAIL_PASS, "gmail.com", "pass"),
    (GMAIL_SPOOFED, "dept.example.cn", "fail"),
    (GMAIL_WORKSPACE, "dept.example.cn", "pass"),
    (EXCHANGE_SPOOFED, "dept.example.cn", "fail"),
    (EXCHANGE_PASS, "dept.example.cn", "pass"),
    (EXCHANGE_BESTGUESS, "dept.example.cn", "pass"),
    (QQ_NOTHING, "dept.example.cn", "none"),
    (QQ_PASS, "qq.com", "pass"),
    (QQ_SPF_FAIL, "dept.example.cn", "fail"),
    (QQ_OTHER_DOMAIN_FAILS, "dept.example.cn", "none"),
    (STAMPED_BY_SENDER_FOR_163, "dept.example.cn", "none"),
])
def test_verdicts_on_real_world_shapes(header, domain, kind):
    assert authentication_verdict([header], domain).kind == kind


def test_results_about_another_domain_say_nothing():
    assert authentication_verdict([GMAIL_SPOOFED], "gmail.com").kind == "none"
    assert authentication_verdict([GMAIL_PASS], "dept.example.cn").kind == "none"


def test_no_header_is_none():
    verdict = authentication_verdict([], "dept.example.cn")
    assert verdict.kind == "none" and "no Authentication-Results" in verdict.reason


def test_fail_reason_names_server_and_domain():
    reason = authentication_verdict([GMAIL_SPOOFED], "dept.example.cn").reason
    assert "mx.google.com" in reason and "dmarc=fail" in reason and "dept.example.cn" in reason


def test_from_domain_may_be_an_address_in_any_case():
    assert authentication_verdict([GMAIL_SPOOFED], "Wang.Wei@Dept.Example.CN").kind == "fail"


def test_parse_gmail_header():
    parsed = parse_authentication_results("Authentication-Results: " + GMAIL_PASS)
    assert parsed.authserv_id == "mx.google.com"
    assert [(r.method, r.result) for r in parsed.results] == [("dkim", "pass"), ("spf", "pass"), ("dmarc", "pass")]
    assert parsed.results[0].properties == {"header.i": "@gmail.com", "header.s": "20230601", "header.b": "BE9/o/N5"}
    assert parsed.results[1].properties["smtp.mailfrom"] == "wang.wei@gmail.com"


def test_parse_exchange_header_without_authserv_id():
    parsed = parse_authentication_results(EXCHANGE_SPOOFED)
    assert parsed.authserv_id == ""
    dmarc = [r for r in parsed.results if r.method == "dmarc"][0]
    assert dmarc.result == "fail" and dmarc.properties == {"action": "none", "header.from": "dept.example.cn"}
    compauth = [r for r in parsed.results if r.method == "compauth"][0]
    assert compauth.reason == "000"


def test_parse_version_no_result_and_empty_values():
    versioned = parse_authentication_results("mx.microsoft.com 1; spf=pass smtp.mailfrom=a.cn")
    assert versioned.authserv_id == "mx.microsoft.com" and versioned.results[0].result == "pass"
    assert parse_authentication_results("mx.example.org; none").results == ()
    qq = parse_authentication_results(QQ_NOTHING)
    assert qq.results[0].properties == {"smtp.mailfrom": ""}
    assert [r.result for r in qq.results] == ["none", "none", "none"]


def test_comments_and_quoted_strings():
    header = (
        'mail.park.example.com (Postfix; "a quoted ; in a comment" (nested (deeper) ; x=y)); '
        'dkim=pass (2048-bit key; unprotected) header.d="dept.example.cn" header.b="ab;c=d\\"e"; '
        'spf=fail (\\) escaped paren; dmarc=fail) smtp.mailfrom="wang wei"@dept.example.cn'
    )
    parsed = parse_authentication_results(header)
    assert parsed.authserv_id == "mail.park.example.com"
    assert [(r.method, r.result) for r in parsed.results] == [("dkim", "pass"), ("spf", "fail")]
    assert parsed.results[0].properties["header.b"] == 'ab;c=d"e'
    assert parsed.results[0].properties["header.d"] == "dept.example.cn"
    assert parsed.results[1].properties["smtp.mailfrom"] == "wang wei@dept.example.cn"
    # DKIM passes for the domain, so SPF failing does not make it a forgery; without it, it does.
    assert authentication_verdict([header], "dept.example.cn").kind == "pass"
    assert authentication_verdict([header.replace("dkim=pass", "dkim=fail")], "dept.example.cn").kind == "fail"


def test_case_and_method_version_are_ignored():
    header = "MX.Example.ORG; DKIM/1=Pass Header.D=Dept.Example.CN"
    assert authentication_verdict([header], "dept.example.cn").kind == "pass"


def test_missing_semicolon_between_methods_is_tolerated():
    header = ("mx.example.org; spf=fail smtp.mailfrom=dept.example.cn dkim=pass header.d= "
              "dmarc=fail header.from=dept.example.cn")
    parsed = parse_authentication_results(header)
    assert [r.method for r in parsed.results] == ["spf", "dkim", "dmarc"]
    assert authentication_verdict([header], "dept.example.cn").kind == "fail"


def test_spf_fail_counts_only_without_an_aligned_dkim_pass():
    spf_fail = "mx.example.org; spf=fail smtp.mailfrom=bounce@dept.example.cn"
    assert authentication_verdict([spf_fail], "dept.example.cn").kind == "fail"
    with_dkim = spf_fail + "; dkim=pass header.d=mail.dept.example.cn"  # subdomain: aligned
    assert authentication_verdict([with_dkim], "dept.example.cn").kind == "pass"
    unaligned = spf_fail + "; dkim=pass header.d=sendgrid.net"
    assert authentication_verdict([unaligned], "dept.example.cn").kind == "fail"
    top_level = spf_fail + "; dkim=pass header.d=cn"  # a bare top-level domain never aligns
    assert authentication_verdict([top_level], "dept.example.cn").kind == "fail"
    dkim_fail_only = "mx.example.org; dkim=fail header.d=dept.example.cn; spf=none smtp.mailfrom=dept.example.cn"
    assert authentication_verdict([dkim_fail_only], "dept.example.cn").kind == "none"
    helo_only = "mx.example.org; spf=fail smtp.helo=mail.dept.example.cn"
    assert authentication_verdict([helo_only], "dept.example.cn").kind == "fail"


def test_results_split_over_several_headers_of_one_server_are_judged_together():
    # Postfix with separate SPF, OpenDKIM and OpenDMARC milters: one header each.
    spf = "mail.park.example.com; spf=fail smtp.mailfrom=wang.wei@dept.example.cn"
    dkim = "mail.park.example.com; dkim=pass (2048-bit key) header.d=dept.example.cn header.i=@dept.example.cn"
    assert authentication_verdict([spf, dkim], "dept.example.cn").kind == "pass"
    assert authentication_verdict([spf], "dept.example.cn").kind == "fail"
    dmarc = "mail.park.example.com; dmarc=fail (p=reject dis=none) header.from=dept.example.cn"
    assert authentication_verdict([spf, dkim, dmarc], "dept.example.cn").kind == "fail"


def test_a_forged_pass_from_another_server_cannot_hide_a_real_failure():
    forged = "mx.google.com; dkim=pass header.d=dept.example.cn; dmarc=pass header.from=dept.example.cn"
    real = "mail.park.example.com; dmarc=fail header.from=dept.example.cn"
    assert authentication_verdict([real, forged], "dept.example.cn").kind == "fail"
    assert authentication_verdict([forged, real], "dept.example.cn").kind == "fail"


def test_only_trusted_servers_count_when_a_list_is_given():
    trusted = ["mail.park.example.com"]
    real_pass = "mail.park.example.com; dmarc=pass header.from=dept.example.cn"
    real_fail = "Mail.Park.Example.com; dmarc=fail header.from=dept.example.cn"
    forged_pass = "mx.google.com; dmarc=pass header.from=dept.example.cn"
    # An untrusted header's failure does not refuse a command the trusted server passed...
    assert authentication_verdict([real_pass, GMAIL_SPOOFED], "dept.example.cn", trusted).kind == "pass"
    # ...its pass does not count either...
    assert authentication_verdict([real_fail, forged_pass], "dept.example.cn", trusted).kind == "fail"
    # ...and headers stamped by the sender's own server (or without an authserv-id) are ignored.
    verdict = authentication_verdict([STAMPED_BY_SENDER_FOR_163, EXCHANGE_SPOOFED, forged_pass],
                                     "dept.example.cn", trusted)
    assert verdict.kind == "none" and "none from a trusted server" in verdict.reason
    # Without a list every header counts.
    assert authentication_verdict([real_pass, GMAIL_SPOOFED], "dept.example.cn").kind == "fail"


def test_unfolded_crlf_and_header_name_prefix():
    folded = "Authentication-Results: mx.google.com;\r\n\tdmarc=fail\r\n (p=REJECT) header.from=dept.example.cn"
    assert authentication_verdict([folded], "dept.example.cn").kind == "fail"

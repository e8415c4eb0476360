"""Reply text -> the part the sender newly wrote: quoted original, quote headers and signatures cut.

The input is plain text (the caller turns HTML into text first; ``html_to_text`` renders a
``<blockquote>`` as ``> `` lines). The text is read line by line, top to bottom, against an
ordered list of small named rules, like a Mailman chain. Each rule recognises one way a mail
program marks where the quoted original starts:

``separator``        a line such as ``-----Original Message-----``,
                     ``------------------ 原始邮件 ------------------`` (QQ), ``-----邮件原件-----``
                     (Outlook zh-CN), ``---- 回复的原邮件 ----`` (Mail Master), a forward banner.
``header_block``     two or more header lines of the original, optionally under a line of
                     underscores or dashes: ``From: … Sent: … To: … Subject:`` (Outlook), the
                     same with ``*bold*`` labels, ``发件人：`` with a full-width colon (Foxmail,
                     NetEase), ``寄件者: 寄件日期: 收件者: 主旨:`` (Outlook zh-TW), ``抄 送：``
                     (WeLink, a space inside the label), German, French, Nordic labels.
``attribution``      ``On <date>, <name> wrote:`` (Gmail, Apple Mail, Thunderbird, mobile),
                     wrapped over up to three lines, and its translations: ``在 2022-06-25
                     17:44:48，"Name" <addr> 写道：`` (Coremail, mobile, Thunderbird zh),
                     ``Name <addr> 于2026年5月18日周一 12:18写道：`` (Gmail zh), ``2026年5月19日
                     12:31，Name <addr> 写道：`` (Apple Mail zh), ``Am … schrieb …:``,
                     ``Le … a écrit :`` …; also old Gmail's ``2013/7/20 Name <addr>``.
``dashed_attribution``  ``---- Name wrote ----`` (Android, Zoho).
``underscore_rule``  a line of ten or more underscores: what follows is an Outlook original or
                     a mailing-list footer.

What a rule found is then handled the same way:

* a header directly followed by ``>`` lines: the header and the quoted block are dropped and
  reading goes on below them (a reply written under or between the quotes);
* ``>`` lines with no header above them are dropped too: they are quotation, never new text;
* an attribution or a forward banner with nothing written above it: the sender wrote below
  the header (bottom-posting) or forwarded a message, so only the header is dropped;
* otherwise everything from the header on is the original and is cut.

Finally the signature is cut from what is left: everything below a ``--`` line, trailing
phone-app lines (``Sent from my iPhone``, ``发自我的iPhone``, ``来自网易邮箱大师``,
``发自我的华为手机``, ``Get Outlook for iOS``), and a last ``-Name`` sign-off line.

:func:`explain_strip` returns the names of the rules that fired, for logs and tests.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

# ----------------------------------------------------------------------------------------------
# Shared pieces
# ----------------------------------------------------------------------------------------------

_QUOTED = re.compile(r"^\s*>")
_RULE_LINE = re.compile(r"^[\s*]*(?:-{5,}|_{5,}|={5,}|—{3,})[\s*]*$")
# A line ending with an address, bracketed or bare ("园区服务中心 <svc@park.cn>").
_ADDRESS_END = re.compile(r"(?:<[^<>\s]*@[^<>\s]*>+|@\S+)[\s:：]*$")
_MAX_ATTRIBUTION_CHARS = 300
# ">:" alone: the end of an address wrapped just before its closing bracket.
_ADDRESS_CLOSE = re.compile(r"^\s*>\s*[:：]\s*$")


@dataclass(frozen=True)
class Hit:
    """Where a quote header was found: lines ``start`` to ``end`` (exclusive).

    ``column`` > 0 means the header starts inside line ``start`` after the reply's own words
    (``reply On Wed, … wrote:``); ``kind`` is "header", "attribution" or "forward".
    """

    rule: str
    start: int
    end: int
    kind: str = "header"
    column: int = 0


@dataclass(frozen=True)
class Stripped:
    """The visible reply text and the names of the rules that cut something from it."""

    text: str
    rules: tuple[str, ...]


def _is_blank(line: str) -> bool:
    return not line.strip()


def _is_quoted(line: str) -> bool:
    return bool(_QUOTED.match(line))


def _join(lines: list[str]) -> str:
    return " ".join(line.strip() for line in lines)


# ----------------------------------------------------------------------------------------------
# Rule: separator lines
# ----------------------------------------------------------------------------------------------

_ORIGINAL_WORDS = (
    r"original\s+message|original|reply\s+message|ursprüngliche\s+nachricht|antwort\s+nachricht|"
    r"oprindelig\s+meddelelse|opprinnelig\s+melding|ursprungligt\s+meddelande|mensaje\s+original|"
    r"message\s+d'origine|messaggio\s+originale|oorspronkelijk\s+bericht|mensagem\s+original|"
    r"原始邮件|原始郵件|邮件原件|郵件原件|回复的原邮件|回覆的原郵件|原邮件|原郵件"
)
_FORWARD_WORDS = (
    r"forwarded\s+message|weitergeleitete\s+nachricht|message\s+transféré|mensaje\s+reenviado|"
    r"转发的邮件|轉寄的郵件|转发邮件|轉發郵件|转发的原邮件"
)
_SEPARATOR = re.compile(
    rf"^[\s*>]*[-=_—]{{2,}}\s*(?:(?P<original>{_ORIGINAL_WORDS})|(?P<forward>{_FORWARD_WORDS}))"
    rf"\s*[-=_—]{{2,}}[\s*]*$",
    re.IGNORECASE,
)
_FORWARD_LINE = re.compile(r"^\s*(?:begin\s+forwarded\s+message|转发的邮件|以下为转发邮件)\s*[:：]\s*$",
                           re.IGNORECASE)


def match_separator(lines: list[str], i: int) -> Hit | None:
    """``-----Original Message-----``, ``----- 原始邮件 -----``, ``---- 回复的原邮件 ----`` …"""
    found = _SEPARATOR.match(lines[i])
    if found:
        if found.group("forward"):
            return Hit("forward_separator", i, _header_block_end(lines, i + 1), kind="forward")
        return Hit("separator", i, i + 1)
    if _FORWARD_LINE.match(lines[i]):
        return Hit("forward_separator", i, _header_block_end(lines, i + 1), kind="forward")
    return None


# ----------------------------------------------------------------------------------------------
# Rule: header blocks (From: / Sent: / To: / Subject:, 发件人： …)
# ----------------------------------------------------------------------------------------------

_LABEL = re.compile(r"^[\s>]*\*{0,2}\s*([^\s:：*|][^:：*|]{0,15}?)\s*\*{0,2}\s*[:：]")
# Labels that can open a block: who sent it, or when. The plain Chinese 日期/时间 (date, time)
# only follow: a reply's own "日期：5月1日" line must not start a block.
_OPENING_LABELS = frozenset((
    "from", "date", "sent",
    "发件人", "寄件者", "寄件人", "发送时间", "发送日期", "寄件日期",
    "von", "gesendet", "datum", "de", "envoyé", "fra", "sendt", "från", "skickat",
    "van", "verzonden", "od", "wysłane", "da", "inviato", "enviado", "fecha", "от", "отправлено",
))
# Labels that may follow in the same block.
_FOLLOWING_LABELS = _OPENING_LABELS | frozenset((
    "to", "cc", "bcc", "subject", "reply-to", "organization", "importance", "日期", "时间",
    "收件人", "抄送", "密送", "主题", "收件者", "副本", "主旨", "回复", "答复",
    "an", "betreff", "kopie", "à", "a", "objet", "til", "emne", "kopi", "till", "ämne", "kopia",
    "aan", "onderwerp", "do", "temat", "dw", "oggetto", "para", "asunto", "assunto",
    "кому", "тема", "копия",
))
_BLOCK_SCAN_LINES = 10


def header_label(line: str) -> str | None:
    """The header label a line starts with, normalised (``*Sent:*`` -> ``sent``, ``抄 送：`` ->
    ``抄送``), or None.
    """
    found = _LABEL.match(line)
    if not found:
        return None
    return re.sub(r"\s+", "", found.group(1)).lower()


def _scan_header_block(lines: list[str], start: int) -> tuple[int, int]:
    """(number of header labels, line after the block) for header lines starting at ``start``.

    A label's value may wrap onto up to two following lines (``Subject: Two`` / ``line
    subject``); a blank line or a third unlabelled line ends the block.
    """
    labels, end, unlabelled = 0, start, 0
    i = start
    while i < len(lines) and i < start + _BLOCK_SCAN_LINES and not _is_blank(lines[i]):
        if header_label(lines[i]) in _FOLLOWING_LABELS:
            labels, unlabelled = labels + 1, 0
            end = i + 1
        elif labels == 0:
            break
        else:
            unlabelled += 1
            if unlabelled > 2:
                break
        i += 1
    if 0 < unlabelled <= 1 and i == end + unlabelled:
        end = i  # the last value wrapped onto the line below
    return labels, end


def _header_block_end(lines: list[str], start: int) -> int:
    """The line after the header lines that follow a forward banner (blank lines skipped)."""
    i = start
    while i < len(lines) and i < start + 2 and _is_blank(lines[i]):
        i += 1
    labels, end = _scan_header_block(lines, i)
    return end if labels else start


def _is_header_block_at(lines: list[str], i: int) -> int | None:
    """End of a header block that starts at line i, or None (needs two labels or more)."""
    if header_label(lines[i]) not in _OPENING_LABELS:
        return None
    labels, end = _scan_header_block(lines, i)
    return end if labels >= 2 else None


def match_header_block(lines: list[str], i: int) -> Hit | None:
    """Outlook/Foxmail/QQ/NetEase/WeLink header blocks, optionally under a rule line."""
    if _RULE_LINE.match(lines[i]):
        j = i + 1
        while j < len(lines) and j <= i + 2 and _is_blank(lines[j]):
            j += 1
        end = _is_header_block_at(lines, j) if j < len(lines) else None
        if end is not None:
            return Hit("header_block", i, end)
        return None
    end = _is_header_block_at(lines, i)
    if end is None:
        return None
    return Hit("header_block", i, end)


# ----------------------------------------------------------------------------------------------
# Rule: attribution lines ("On … wrote:", "在 … 写道：")
# ----------------------------------------------------------------------------------------------

_WESTERN_VERB = (
    r"wrote|schrieb|a\s+écrit|escribió|escreveu|geschreven|schreef|napisał(?:\(a\)|a)?|skrev|"
    r"написал(?:\(а\)|а)?|ha\s+scritto|kirjoitti"
)
_CJK_VERB = r"写道|寫道|寫了|写了"
# The verb ends the attribution: "… wrote:", "… a écrit :", "… 写道：".
_VERB_AT_END = re.compile(rf"(?:\b(?:{_WESTERN_VERB})|{_CJK_VERB})\s*[:：]\s*$", re.IGNORECASE)
_CJK_VERB_AT_END = re.compile(rf"(?:{_CJK_VERB})\s*[:：]\s*$")
# "On … sent:" (some mobile clients).
_ON_SENT = re.compile(r"^On\s.*\bsent\s*:\s*$", re.IGNORECASE)
# The verb comes first, the sender's address last: "Am … schrieb Name <addr>:".
_VERB_THEN_ADDRESS = re.compile(r"\b(?:schrieb|skrev|schreef|wrote)\b.{0,160}@.{0,120}[:：]\s*$",
                                re.IGNORECASE)
# Google Inbox (German): "Name <addr> schrieb am Fr., 28. Apr. 2017 um 11:53 Uhr:".
_SCHRIEB_AM = re.compile(r"\bschrieb\s+am\b.{0,60}[:：]\s*$", re.IGNORECASE)
# Old Gmail: "2013/7/20 Name <addr>" (with or without a colon).
_DATE_SENDER = re.compile(r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\b.{0,160}<\s*[^<>\s]+@[^<>\s]+\s*>\s*[:：]?\s*$")
# How an attribution may start.
_ANCHOR = re.compile(
    r"^(?:(?:On|At|Am|Le|El|Em|Op|Den|Il|W\s+dniu)\s|在\s*\d|\d{1,4}\s*[-/.年]|"
    r"(?:понедельник|вторник|среда|четверг|пятница|суббота|воскресенье),)",
    re.IGNORECASE)
# A Western attribution embedded after the reply on the same line: "reply On Wed, … wrote:".
_INLINE_ON = re.compile(r"\s(On\s+(?=[^:]*\d).+)$")
_TIME = re.compile(r"\d{1,2}\s*[:：]\s*\d{2}")


def _has_evidence(block: str) -> bool:
    """An attribution names a time (CJK clients always do) or the sender's address."""
    if _CJK_VERB_AT_END.search(block):
        return bool(_TIME.search(block) or "@" in block)
    return bool(re.search(r"\d", block) or "@" in block)


def is_attribution(block: str) -> bool:
    """Whether text (one attribution, its lines joined) says who wrote the quoted original."""
    if len(block) > _MAX_ATTRIBUTION_CHARS:
        return False
    if _DATE_SENDER.match(block):
        return True
    if _VERB_AT_END.search(block) or _ON_SENT.match(block):
        return _has_evidence(block)
    return bool(_VERB_THEN_ADDRESS.search(block) or _SCHRIEB_AM.search(block))


def _attribution_ending_at(lines: list[str], e: int) -> Hit | None:
    """The attribution whose last line is ``e``, found by reading upwards (at most 3 lines up)."""
    last = lines[e].rstrip()
    if not last or last[-1] not in ":：>":
        return None
    if _is_quoted(last) and not _ADDRESS_CLOSE.match(last):
        return None
    # 1. Lines up to e that start like an attribution ("On …", "在 2022-…", "2026年…").
    for k in range(e, max(-1, e - 4), -1):
        if k < e and (_is_blank(lines[k]) or _is_quoted(lines[k])):
            break
        block = _join(lines[k:e + 1])
        if len(block) > _MAX_ATTRIBUTION_CHARS:
            break
        if _ANCHOR.match(lines[k].strip()) and is_attribution(block):
            return Hit("attribution", k, e + 1, kind="attribution")
    # 2. "reply On Wed, … wrote:" on one line.
    inline = _INLINE_ON.search(last)
    if inline and is_attribution(inline.group(1)) and last[:inline.start()].strip():
        return Hit("attribution", e, e + 1, kind="attribution", column=inline.start())
    # 3. No recognisable start: the nearest lines that read as an attribution, plus a line above
    #    that ends with the sender's address (a wrapped "Name <addr>\n于2026年…写道：").
    for k in (e, e - 1):
        if k < 0 or (k < e and (_is_blank(lines[k]) or _is_quoted(lines[k]))):
            break
        if is_attribution(_join(lines[k:e + 1])):
            while (k > 0 and k > e - 2 and not _is_blank(lines[k - 1])
                   and not _is_quoted(lines[k - 1]) and _ADDRESS_END.search(lines[k - 1])):
                k -= 1
            return Hit("attribution", k, e + 1, kind="attribution")
    return None


_DASHED_ATTRIBUTION = re.compile(
    rf"^\s*-{{2,}}\s*(?:.*\s)?(?:{_WESTERN_VERB}|{_CJK_VERB})\s*-{{2,}}\s*$", re.IGNORECASE)


def match_dashed_attribution(lines: list[str], i: int) -> Hit | None:
    """``---- John Smith wrote ----`` (Android), ``---- On <date> Name wrote ----`` (Zoho)."""
    if _DASHED_ATTRIBUTION.match(lines[i]):
        return Hit("dashed_attribution", i, i + 1, kind="attribution")
    return None


_UNDERSCORE_RULE = re.compile(r"^\s*_{10,}\s*$")


def match_underscore_rule(lines: list[str], i: int) -> Hit | None:
    """A lone line of underscores: an Outlook original or a mailing-list footer follows."""
    if _UNDERSCORE_RULE.match(lines[i]):
        return Hit("underscore_rule", i, i + 1)
    return None


Rule = Callable[[list[str], int], "Hit | None"]

# Tried in this order at every line; the first that matches wins.
LINE_RULES: tuple[Rule, ...] = (
    match_separator,
    match_header_block,
    match_dashed_attribution,
    match_underscore_rule,
)


# ----------------------------------------------------------------------------------------------
# Signatures (applied to what is left above the quote)
# ----------------------------------------------------------------------------------------------

_SIGNATURE_DELIMITER = re.compile(r"^--\s*$")
_BRACKETED = re.compile(r"<[^<>]*>|\([^()]*\)")
_DEVICE_SIGNATURES = (
    re.compile(r"^(?:Sent\s+(?:from|via|with)|Get\s+Outlook\s+for|Envoyé\s+de\s+mon|Von\s+meinem|"
               r"Sendt\s+fra\s+min|Skickat\s+från\s+min|Enviado\s+desde\s+mi|Enviado\s+do\s+meu|"
               r"Inviato\s+da)\b[^,.;!?]{0,40}$", re.IGNORECASE),
    re.compile(r"^(?:发自|来自|發自|來自|发送自|傳送自|从|從)\s*(?:我的)?\s*[^，。,.!?！？]{0,24}?"
               r"(?:iPhone|iPad|Android|手机|手機|邮箱|郵箱|邮件|郵件|Mail|Outlook|客户端|設備|设备|"
               r"大师|HUAWEI|华为|華為|小米|Xiaomi|荣耀|OPPO|vivo|三星|Samsung|魅族|一加|平板)"
               r"[^，。,.!?！？]{0,12}$", re.IGNORECASE),
    re.compile(r"^获取\s*Outlook\s*for\s*\w+$", re.IGNORECASE),
)
_DASH_NAME = re.compile(r"^-[^\W\d_][^\s,.;!?]*(?:\s[^\s,.;!?]+){0,3}$")


def is_device_signature(line: str) -> bool:
    """``Sent from my iPhone``, ``发自我的华为手机``, ``来自网易邮箱大师``, ``Get Outlook for iOS``."""
    text = _BRACKETED.sub("", line).strip()
    return any(pattern.match(text) for pattern in _DEVICE_SIGNATURES)


def _strip_blank_edges(lines: list[str]) -> list[str]:
    start, end = 0, len(lines)
    while start < end and _is_blank(lines[start]):
        start += 1
    while end > start and _is_blank(lines[end - 1]):
        end -= 1
    return lines[start:end]


def _cut_signature(lines: list[str], fired: list[str]) -> list[str]:
    for i, line in enumerate(lines):
        if _SIGNATURE_DELIMITER.match(line):
            fired.append("signature_delimiter")
            lines = lines[:i]
            break
    changed = True
    while changed:
        changed = False
        lines = _strip_blank_edges(lines)
        if lines and is_device_signature(lines[-1]):
            fired.append("device_signature")
            lines = lines[:-1]
            changed = True
        elif lines and _RULE_LINE.match(lines[-1]):
            lines = lines[:-1]
            changed = True
    if len(lines) >= 3 and _DASH_NAME.match(lines[-1].strip()) and _is_blank(lines[-2]):
        fired.append("dash_name_signoff")
        lines = _strip_blank_edges(lines[:-1])
    return lines


# ----------------------------------------------------------------------------------------------
# The reading loop
# ----------------------------------------------------------------------------------------------

def _quote_block_end(lines: list[str], j: int) -> int:
    """The line after the quoted block starting at j (and the blank lines after it).

    A broken link inside the block (a line holding ``://``, or continuing a ``(http…`` left
    open on the line above) does not end it.
    """
    n = len(lines)
    while j < n:
        line = lines[j]
        if _is_quoted(line) or _is_blank(line):
            j += 1
            continue
        after = j + 1
        while after < n and _is_blank(lines[after]):
            after += 1
        previous = lines[j - 1] if j else ""
        broken_link = "://" in line or re.search(r"[(<]https?://[^)>\s]*$", previous)
        if broken_link and after < n and _is_quoted(lines[after]):
            j += 1
            continue
        break
    return j


def _find_hits(lines: list[str]) -> dict[int, Hit]:
    """Attributions indexed by their first line (they are found from their last line)."""
    hits: dict[int, Hit] = {}
    for e in range(len(lines)):
        hit = _attribution_ending_at(lines, e)
        if hit is not None and hit.start not in hits:
            hits[hit.start] = hit
    return hits


def _match_at(lines: list[str], i: int, attributions: dict[int, Hit]) -> Hit | None:
    if _is_quoted(lines[i]) or _is_blank(lines[i]):
        return None
    for rule in LINE_RULES:
        hit = rule(lines, i)
        if hit is not None:
            return hit
    return attributions.get(i)


def _has_text(lines: list[str]) -> bool:
    return any(not _is_blank(line) and not _RULE_LINE.match(line) for line in lines)


def _cut_quotes(lines: list[str], fired: list[str]) -> list[str]:
    attributions = _find_hits(lines)
    out: list[str] = []
    i, n = 0, len(lines)
    while i < n:
        line = lines[i]
        if _is_quoted(line):
            fired.append("quoted_block")
            i = _quote_block_end(lines, i)
            continue
        hit = _match_at(lines, i, attributions)
        if hit is None:
            out.append(line)
            i += 1
            continue
        fired.append(hit.rule)
        if hit.column:
            out.append(line[:hit.column].rstrip())
        j = hit.end
        while j < n and _is_blank(lines[j]):
            j += 1
        if hit.kind == "attribution" and j < n and _is_quoted(lines[j]):
            i = _quote_block_end(lines, j)  # header and its quotation; read on below them
            continue
        if hit.kind in ("attribution", "forward") and not _has_text(out):
            i = hit.end  # written below the header, or a forward: keep what follows
            continue
        break  # the rest is the original
    while out and (_is_blank(out[-1]) or _RULE_LINE.match(out[-1])):
        out.pop()
    return out


def _normalise_lines(text: str) -> list[str]:
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    return [line.rstrip() for line in text.split("\n")]


def explain_strip(text: str) -> Stripped:
    """The visible reply and the names of the rules that cut something (in firing order).

    >>> explain_strip("收到\\n\\n-----原始邮件-----\\n发件人: 园区服务中心\\n请签收").rules
    ('separator',)
    """
    fired: list[str] = []
    lines = _cut_quotes(_normalise_lines(text), fired)
    lines = _cut_signature(lines, fired)
    return Stripped("\n".join(_strip_blank_edges(lines)), tuple(dict.fromkeys(fired)))


def strip_quoted(text: str) -> str:
    """The newly written part of a reply: no quoted original, quote headers or signature.

    >>> strip_quoted("OK, done.\\n\\nOn Mon, 1 Jan 2024 at 10:00, Bob <bob@example.com> wrote:\\n> hi")
    'OK, done.'
    >>> strip_quoted("收到！\\n\\n在 2022-06-25 17:44:48，\\"园区\\" <svc@park.cn> 写道：\\n请签收")
    '收到！'
    """
    return explain_strip(text).text

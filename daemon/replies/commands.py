"""The visible text of a reply -> the command it gives: sign for it, progress, result, transfer …

The first non-empty line decides (quoted ``>`` lines are skipped, should any be left). It is
read in this order:

1. **A command word** from the ``commands:`` config section at the very start of the line
   (leading brackets such as ``【`` are ignored), case-insensitively, longest word first, so a
   longer word always beats a word that is its prefix. What may follow the word:

   * a Latin word (``ACK``, ``OK``, ``DONE``): the end of the line or any character that is not
     an ASCII letter or digit, so ``ok.``, ``OK，`` and ``OK收到`` count, ``OKAY?`` and
     ``Done1`` do not;
   * a Chinese word (``收到``, ``转``): the end of the line or any character that is not a
     Chinese character (space, punctuation ``：:，,。.!！``, Latin letters, digits), or a modal
     particle (``了 啦 喽 咯 啊 呀 哦 哈 嘞 咧``) and then anything. The word may be repeated
     (``收到收到``). A transfer word may be joined to the department by ``给 交 到 至``
     (``转给环境卫生部``), a done word followed by ``完毕 完成 完 好`` (``已处理完毕``). So
     ``收到了`` is an acknowledgement, but ``转发`` is not a transfer, ``确认收到`` and
     ``确认一下`` are not approvals, and ``已处理好几次`` is not a result.

   The argument is the rest of the first line after separators, plus the following lines,
   trimmed (``进展：已联系厂家`` -> ``已联系厂家``). A transfer's argument is only the rest of the
   first line (the department); the lines below go to ``comment``.
2. **A satisfaction answer** for the return visit: ``非常满意 / 很满意`` 5, ``满意 / 比较满意`` 4,
   ``基本满意 / 一般`` 3, ``不满意 / 不太满意`` 2, ``很不满意 / 非常不满意`` 1; ``very satisfied`` 5,
   ``satisfied`` 4, ``neutral`` 3, ``unsatisfied / dissatisfied / not satisfied`` 2, ``very
   dissatisfied / very unsatisfied`` 1; a digit ``1``-``5`` (``5分``, ``4 星``, ``5/5``); stars
   ``★★★★☆``. Longest phrase first, so ``不满意`` is never read as ``满意``. The argument is the
   score as text, ``comment`` the rest of the reply.
3. Otherwise ``unknown`` (argument: the whole text), or ``empty`` when there is no text.

:func:`resolve_department` finds the department a transfer names; :func:`describe_commands`
writes the "how to reply" lines for outgoing mail.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

COMMAND_KINDS = ("ack", "note", "done", "approve", "reject", "transfer", "review")
ALL_KINDS = COMMAND_KINDS + ("satisfaction", "unknown", "empty")


@dataclass(frozen=True)
class Command:
    """What a reply says. ``kind`` is one of ALL_KINDS; ``first_line`` is the deciding line."""

    kind: str
    argument: str
    first_line: str
    comment: str = ""


class CommandWords(Protocol):
    """The ``commands:`` config section (``daemon.config.CommandsConfig``): words per kind."""

    ack: tuple[str, ...]
    note: tuple[str, ...]
    done: tuple[str, ...]
    approve: tuple[str, ...]
    reject: tuple[str, ...]
    transfer: tuple[str, ...]
    review: tuple[str, ...]


class DepartmentLike(Protocol):
    key: str
    name: str


# ----------------------------------------------------------------------------------------------
# Text folding and word boundaries
# ----------------------------------------------------------------------------------------------

# Full-width ASCII (ＯＫ，５) -> ASCII, one character for one, so positions stay the same.
_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_PARTICLES = "了啦喽咯啊呀哦哈嘞咧"
# Characters that may join a Chinese word of one kind to what follows (longest first).
_LINKS = {"transfer": ("给", "交", "到", "至"), "done": ("完毕", "完成", "完", "好")}
_LEADING_OPENERS = re.compile(r"^[\s【\[（(「『“\"'‘*#]+")
_SEPARATORS = re.compile(r"^[\s:：,，。.!！?？、;；~～\-—】\])）」』”\"'’]+")
_QUOTED = re.compile(r"^\s*>")


def _fold(text: str) -> str:
    """Lowercase with full-width ASCII made half-width; same length as ``text``."""
    folded = text.translate(_FULL_WIDTH)
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in folded)


def _is_latin_word(word: str) -> bool:
    return bool(word) and word[-1].isascii()


def _word_length_at_start(text: str, word: str, kind: str = "") -> int | None:
    """How many characters of ``text`` the word takes (with a repeat, link or particle after
    it) if ``text`` starts with it as a word; else None. Case-insensitive.
    """
    folded, target = _fold(text), _fold(word.strip())
    if not target or not folded.startswith(target):
        return None
    end = len(target)
    if _is_latin_word(target):
        following = folded[end:end + 1]
        return None if following.isascii() and following.isalnum() else end
    if folded.startswith(target, end):
        end += len(target)  # "收到收到"
    link = next((link for link in _LINKS.get(kind, ()) if folded.startswith(link, end)), None)
    if link:
        end += len(link)
        if kind == "transfer":
            return end  # "转给环境卫生部": the department follows at once
    if folded[end:end + 1] and folded[end] in _PARTICLES:
        return end + 1
    following = folded[end:end + 1]
    return end if not following or not _CJK.match(following) else None


def _after_separators(text: str) -> str:
    return _SEPARATORS.sub("", text, count=1)


# ----------------------------------------------------------------------------------------------
# Satisfaction
# ----------------------------------------------------------------------------------------------

_SATISFACTION_PHRASES = sorted((
    ("非常不满意", 1), ("很不满意", 1), ("极不满意", 1), ("十分不满意", 1),
    ("不太满意", 2), ("不满意", 2),
    ("一般般", 3), ("一般", 3), ("基本满意", 3),
    ("比较满意", 4), ("满意", 4),
    ("非常满意", 5), ("很满意", 5), ("十分满意", 5),
    ("very dissatisfied", 1), ("very unsatisfied", 1), ("extremely dissatisfied", 1),
    ("not satisfied", 2), ("dissatisfied", 2), ("unsatisfied", 2),
    ("neutral", 3), ("satisfied", 4), ("very satisfied", 5), ("extremely satisfied", 5),
), key=lambda pair: -len(pair[0]))
_SCORE_LABEL = re.compile(r"^(?:评分|打分|满意度|评价|score|rating)\s*[:：]?\s*", re.IGNORECASE)
_SCORE_SUBJECT = re.compile(r"^(?:我们|我|本人|本公司)(?:感到|觉得|表示)?\s*")
_DIGIT_SCORE = re.compile(
    r"^([1-5])(?![\d.,]\d)\s*(?:分|星|颗星|/\s*5|out\s+of\s+5|stars?|points?)?(?![\dA-Za-z\u3400-\u9fff])",
    re.IGNORECASE)
_CHINESE_NUMERAL_SCORE = re.compile(r"^([一二三四五])\s*(?:分|星|颗星)")
_STARS = re.compile(r"^([★⭐☆✩]+)")


def _satisfaction(line: str) -> tuple[int, str] | None:
    """(score 1-5, rest of the line) when the line opens with a satisfaction answer."""
    text = _SCORE_LABEL.sub("", _SCORE_SUBJECT.sub("", line))
    folded = _fold(text)
    for phrase, score in _SATISFACTION_PHRASES:
        taken = _word_length_at_start(text, phrase)
        if taken is not None:
            return score, text[taken:]
    digit = _DIGIT_SCORE.match(folded)
    if digit:
        return int(digit.group(1)), text[digit.end():]
    numeral = _CHINESE_NUMERAL_SCORE.match(text)
    if numeral:
        return "一二三四五".index(numeral.group(1)) + 1, text[numeral.end():]
    stars = _STARS.match(text)
    if stars:
        filled = sum(stars.group(1).count(c) for c in "★⭐")
        if 1 <= filled <= 5:
            return filled, text[stars.end():]
    return None


# ----------------------------------------------------------------------------------------------
# parse_command
# ----------------------------------------------------------------------------------------------

def _words_by_length(words: CommandWords) -> list[tuple[str, str]]:
    pairs = [(word, kind) for kind in COMMAND_KINDS for word in getattr(words, kind) if word.strip()]
    return sorted(pairs, key=lambda pair: -len(pair[0].strip()))


def _join_rest(first: str, following: Sequence[str]) -> str:
    return "\n".join([first.strip(), *following]).strip()


def parse_command(visible_text: str, words: CommandWords) -> Command:
    """Read the command of a reply's visible text (see the module docstring for the rules).

    >>> from types import SimpleNamespace as W
    >>> words = W(ack=("收到", "ACK"), note=("进展",), done=("DONE",), approve=("确认",),
    ...           reject=("退回",), transfer=("转",), review=("检讨",))
    >>> parse_command("进展：已联系厂家", words)
    Command(kind='note', argument='已联系厂家', first_line='进展：已联系厂家', comment='')
    >>> parse_command("不满意，还在漏水", words).argument
    '2'
    """
    lines = visible_text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    index = next((i for i, line in enumerate(lines) if line.strip() and not _QUOTED.match(line)), None)
    if index is None:
        return Command("empty", "", "")
    first_line = lines[index].strip()
    following = [line.rstrip() for line in lines[index + 1:]]
    body = _LEADING_OPENERS.sub("", first_line)

    for word, kind in _words_by_length(words):
        taken = _word_length_at_start(body, word, kind)
        if taken is None:
            continue
        rest = _after_separators(body[taken:])
        if kind == "transfer":
            return Command(kind, rest.strip(), first_line, "\n".join(following).strip())
        return Command(kind, _join_rest(rest, following), first_line)

    answer = _satisfaction(body)
    if answer is not None:
        score, rest = answer
        return Command("satisfaction", str(score), first_line, _join_rest(_after_separators(rest), following))

    return Command("unknown", _join_rest(first_line, following), first_line)


# ----------------------------------------------------------------------------------------------
# Departments
# ----------------------------------------------------------------------------------------------

_DEPARTMENT_SUFFIX = re.compile(r"(?:部门|部)$")
_PHRASE_END = re.compile(r"[\s,，。.;；!！?？、:：]")


def _without_suffix(name: str) -> str:
    stripped = _DEPARTMENT_SUFFIX.sub("", name)
    return stripped or name


def resolve_department(text: str, departments: Iterable[DepartmentLike]) -> str | None:
    """The key of the department ``text`` names, or None.

    A department matches by its key, its full name, or its name without 部/部门, case-insensitively;
    the whole text is tried first, then its first word (``环境卫生部 请处理`` -> 环境卫生部).

    >>> from types import SimpleNamespace as D
    >>> resolve_department("设施维护", [D(key="facilities", name="设施维护部")])
    'facilities'
    """
    departments = list(departments)
    whole = _fold(text.strip())
    phrases = [whole, _PHRASE_END.split(whole, maxsplit=1)[0]]
    for phrase in dict.fromkeys(p for p in phrases if p):
        for department in departments:
            name = _fold(department.name.strip())
            if phrase == _fold(department.key) or phrase == name or \
                    _without_suffix(phrase) == _without_suffix(name):
                return department.key
    return None


# ----------------------------------------------------------------------------------------------
# "How to reply" lines
# ----------------------------------------------------------------------------------------------

# kind -> (Chinese, English, what the word takes after it: "" / "text" / "department")
_DESCRIPTIONS = {
    "ack": ("签收", "sign for it", ""),
    "note": ("进展说明", "progress note", "text"),
    "done": ("处理完成，写明结果", "resolved, with the result", "text"),
    "approve": ("负责人确认结果", "head signs off", ""),
    "reject": ("负责人退回重办", "head sends it back", "text"),
    "transfer": ("转给其他部门", "move to another department", "department"),
    "review": ("检讨总结", "review summary", "text"),
}
_SATISFACTION_LINE = {
    "zh-CN": "满意 / 一般 / 不满意，或 1-5 分 — 回访评价 satisfied / neutral / dissatisfied, or a score 1-5",
    "en": "satisfied / neutral / dissatisfied, or a score 1-5 (满意 / 一般 / 不满意) — return visit 回访评价",
}


def _with_placeholder(word: str, takes: str) -> str:
    if not takes:
        return word
    if takes == "department":
        return f"{word} dept" if _is_latin_word(word) else f"{word} 部门"
    return f"{word} …"


def describe_commands(words: CommandWords, language: str = "zh-CN",
                      kinds: Sequence[str] = COMMAND_KINDS) -> str:
    """One line per command kind for the "how to reply" part of an email, in both languages.

    ``language`` ("zh-CN" or "en") decides which language's description comes first.

    >>> from types import SimpleNamespace as W
    >>> print(describe_commands(W(ack=("收到", "ACK")), kinds=("ack",)))
    收到 / ACK — 签收 sign for it
    """
    lines = []
    for kind in kinds:
        if kind == "satisfaction":
            lines.append(_SATISFACTION_LINE["en" if language == "en" else "zh-CN"])
            continue
        chinese, english, takes = _DESCRIPTIONS[kind]
        spelled = " / ".join(_with_placeholder(word, takes) for word in getattr(words, kind))
        meaning = f"{english} {chinese}" if language == "en" else f"{chinese} {english}"
        lines.append(f"{spelled} — {meaning}")
    return "\n".join(lines)

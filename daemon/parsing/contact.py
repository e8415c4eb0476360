"""Find the company, phone number and location a tenant wrote in a complaint's text.

Simple, tested patterns in Chinese and English; each finder returns the first good match or
None. Labelled values (``公司：``, ``Tel:``, ``地址：`` ...) win over unlabelled ones. Only the
tenant's own text is searched: quoted lines (``> ...``) and everything after a quote header
(``-----原始邮件-----``, ``On ... wrote:``, ``在 ... 写道：``) are left out, because a reply
quotes our own mail, with the park's phone number in it.

>>> find_phone("电话：0571-88886666"), find_location("A栋1203室空调漏水")
('0571-88886666', 'A栋1203室')
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# --- the tenant's own text -----------------------------------------------------------------

_QUOTE_HEADER = re.compile(
    r"^\s*(?:-{3,}.*(?:原始邮件|邮件原件|Original Message|回复的原邮件).*"
    r"|_{10,}\s*"
    r"|On .+ wrote:\s*"
    r"|在.{4,80}写道[:：]\s*"
    r"|.{2,80}于\d{4}年.{2,40}写道[:：]\s*)$",
    re.IGNORECASE,
)


def own_text(text: str) -> str:
    """The lines the sender wrote: no ``>`` quoted lines, nothing after a quote header."""
    kept: list[str] = []
    for line in text.splitlines():
        if _QUOTE_HEADER.match(line):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    return "\n".join(kept)


# --- company -------------------------------------------------------------------------------

_COMPANY_SUFFIX = (r"(?:有限责任公司|股份有限公司|有限公司|集团(?:公司)?|分公司|研究院|研究所|事务所|工作室|"
                   r"Co\.,?\s*Ltd\.?|Company\s+Limited|Ltd\.?|Limited|Inc\.?|LLC|GmbH|"
                   r"Corporation|Corp\.?)")
_COMPANY_LABELLED = re.compile(
    r"^[ \t]*(?:公司名称|企业名称|单位名称|公司|企业|单位|租户|入驻企业|"
    r"Company(?:[ \t]+name)?|Organi[sz]ation|Tenant)[ \t]*[:：][ \t]*(?P<value>[^\n]{2,80}?)[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
_COMPANY_LINE = re.compile(
    r"^[ \t\-—–_*·•]*(?P<value>[^\n，。！？；!?;:：]{2,60}?" + _COMPANY_SUFFIX + r")[ \t]*$",
    re.MULTILINE,
)
_COMPANY_IN_SENTENCE = re.compile(
    r"(?:我们?是|我司|本公司|敝司|来自)[ \t]*(?P<value>[\u4e00-\u9fffA-Za-z0-9（）()·]{2,40}?"
    r"(?:有限责任公司|股份有限公司|有限公司|集团))"
)
_SELF_INTRODUCTION = re.compile(
    r"^(?:我们?是|我司是?|本公司是?|敝司|我方是|来自|I am from|I'm from|We are|from)[ \t]*",
    re.IGNORECASE,
)
_TRAILING_PUNCTUATION = "。；;，,、 \t"


def find_company(text: str) -> str | None:
    """``公司：杭州某某科技有限公司`` / a line ending in 有限公司 or Co., Ltd. / ``我是…有限公司``."""
    mine = own_text(text)
    labelled = _COMPANY_LABELLED.search(mine)
    if labelled:
        return labelled.group("value").strip(_TRAILING_PUNCTUATION) or None
    for pattern in (_COMPANY_LINE, _COMPANY_IN_SENTENCE):
        found = pattern.search(mine)
        if found:
            value = _SELF_INTRODUCTION.sub("", found.group("value").strip())
            if len(value) >= 2:
                return value
    return None


# --- phone ---------------------------------------------------------------------------------

_PHONE_LABELLED = re.compile(
    r"(?:联系电话|联系手机|联系方式|手机号码|手机号|电话号码|手机|电话|座机|"
    r"(?<![A-Za-z])(?:Tel|Telephone|Phone|Mobile|Mob|Cell|Contact)(?![A-Za-z])\.?(?:[ \t]*(?:No\.?|number))?|"
    r"(?<![A-Za-z])[TM](?=[ \t]*[:：]))"
    r"[ \t]*[:：]?[ \t]*(?P<value>\+?[\d(（][\d \t\-()（）]{5,20}\d"
    r"(?:[ \t]*(?:转|ext\.?|x)[ \t]*\d{1,5})?)",
    re.IGNORECASE,
)
_MOBILE = re.compile(r"(?<![A-Za-z0-9_+])(?:(?:\+|00)?86[ \t-]?)?1[3-9]\d[ \t-]?\d{4}[ \t-]?\d{4}(?!\d)")
_LANDLINE = re.compile(
    r"(?<![A-Za-z0-9_])(?:\(0\d{2,3}\)|（0\d{2,3}）|0\d{2,3})[ \t-]?\d{3,4}[ \t-]?\d{4}(?!\d)"
    r"(?:[ \t]*(?:转|ext\.?|x)[ \t]*\d{1,5})?"
)
# Words that label a number as something other than a phone number.
_NOT_A_PHONE = re.compile(
    r"订单|单号|编号|工单|合同|发票|账号|帐号|卡号|身份证|快递|运单|流水|批次|型号|序列号|车牌|金额|"
    r"order|invoice|(?<![A-Za-z])ref|account|tracking|serial|(?<![A-Za-z])id(?![A-Za-z])|#",
    re.IGNORECASE,
)


def find_phone(text: str) -> str | None:
    """A labelled number (``电话：`` ``Tel:`` ...), else the first mobile or landline number.

    Numbers labelled as something else (``订单号：13812345678``) are not phone numbers.
    """
    mine = own_text(text)
    for found in _PHONE_LABELLED.finditer(mine):
        value = _tidy_number(found.group("value"))
        if sum(ch.isdigit() for ch in value) >= 7:
            return value
    candidates = [m for pattern in (_MOBILE, _LANDLINE) for m in pattern.finditer(mine)]
    for found in sorted(candidates, key=lambda m: m.start()):
        if not _labelled_otherwise(mine, found.start()):
            return _tidy_number(found.group(0))
    return None


def _labelled_otherwise(text: str, start: int) -> bool:
    """True if the words right before ``start`` (same clause) name a non-phone number."""
    line_start = text.rfind("\n", 0, start) + 1
    before = re.split(r"[，。；;,!?！？\d]", text[line_start:start])[-1][-12:]
    return bool(_NOT_A_PHONE.search(before))


def _tidy_number(value: str) -> str:
    value = value.replace("（", "(").replace("）", ")")
    return re.sub(r"[ \t]+", " ", value).strip(" -")


# --- location ------------------------------------------------------------------------------

_CN_NUMBER = r"(?:\d{1,3}|[一二三四五六七八九十]{1,3})"
_CN_BUILDING = (r"(?:[A-Za-z0-9]{1,3}区[ \t]*)?"
                r"(?:[A-Za-z]|" + _CN_NUMBER + r")[ \t]*"
                r"(?:号楼|号厂房|号仓库|号库|号车间|号办公楼|号宿舍楼|栋|幢|座|号馆)")
_CN_UNIT = r"(?:[ \t]*[-－]?[ \t]*" + _CN_NUMBER + r"[ \t]*单元)"
_CN_FLOOR = r"(?:[ \t]*" + _CN_NUMBER + r"[ \t]*(?:层|楼(?!道|梯|下|上|顶)|F(?![A-Za-z0-9])))"
_CN_ROOM = r"(?:[ \t]*[-－]?[ \t]*[A-Za-z]?\d{2,5}[A-Za-z]?[ \t]*(?:室|房间|房|号)?(?![\d.]))"
_CN_LOCATION = re.compile(
    _CN_BUILDING + _CN_UNIT + "?" + _CN_FLOOR + "?" + _CN_ROOM + "?"
    + r"|" + r"\d{1,2}[ \t]*单元[ \t]*\d{3,4}[ \t]*(?:室|房间)?"
    + r"|" + r"(?<![A-Za-z0-9.])[A-Za-z]?\d{3,5}[ \t]*(?:室|房间)"
)
_EN_PART = (r"(?:Unit|Room|Rm\.?|Suite|Ste\.?|Floor|Fl\.?|Level)[ \t]*#?[ \t]*"
            r"[A-Z]?\d{1,5}[A-Z]?(?![A-Za-z0-9])")
_EN_LOCATION = re.compile(
    r"(?<![A-Za-z0-9])(?:Building|Bldg\.?|Block|Blk\.?|Tower|Plant|Warehouse)[ \t]*#?[ \t]*"
    r"(?:[A-Z]\d{0,3}|\d{1,4}[A-Z]?)(?![A-Za-z0-9])(?:[ \t]*,?[ \t]*" + _EN_PART + r")*"
    r"|(?<![A-Za-z0-9])" + _EN_PART + r"(?:[ \t]*,?[ \t]*" + _EN_PART + r")*"
    r"|(?<![A-Za-z0-9])\d{1,2}(?:st|nd|rd|th)[ \t]+Floor(?![A-Za-z])",
    re.IGNORECASE,
)
_LOCATION_LABELLED = re.compile(
    r"^[ \t]*(?:地址|位置|地点|所在位置|所在楼栋|房号|房间号|办公地点|故障位置|发生地点|"
    r"Address|Location|Place)[ \t]*[:：][ \t]*(?P<value>[^\n]{2,80}?)[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)


def find_location(text: str) -> str | None:
    """A unit or building: ``3号楼2单元501``, ``A栋1203室``, ``B座3层``, ``Building 5, Unit 302``.

    A labelled value (``地址：`` ``Location:``) wins; otherwise the first pattern match.
    """
    mine = own_text(text)
    labelled = _LOCATION_LABELLED.search(mine)
    if labelled:
        return labelled.group("value").strip(_TRAILING_PUNCTUATION) or None
    matches = [m for pattern in (_CN_LOCATION, _EN_LOCATION) for m in pattern.finditer(mine)]
    if not matches:
        return None
    first = min(matches, key=lambda m: (m.start(), -len(m.group(0))))
    return first.group(0).strip(" \t,")


@dataclass(frozen=True)
class Contact:
    """What the tenant wrote about themselves, each None when not found."""

    company: str | None
    phone: str | None
    location: str | None


def extract_contact(text: str) -> Contact:
    """Company, phone and location from a message's body text."""
    return Contact(find_company(text), find_phone(text), find_location(text))

"""What a new park starts with: the usual departments, categories and priorities.

They are the example config.yaml's, in the park's language (Chinese or English names; the
keywords are in both languages whatever the park's language, since tenants write either).
Park staff edit them later in config.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass

from daemon.setup.presets import Bilingual

STARTER_DEPARTMENTS: dict[str, Bilingual] = {
    "property": Bilingual("Property Management", "物业管理部"),
    "facilities": Bilingual("Facilities Maintenance", "设施维护部"),
    "environment": Bilingual("Environment and Cleaning", "环境卫生部"),
    "security": Bilingual("Security", "安保部"),
}


@dataclass(frozen=True)
class StarterCategory:
    key: str
    name: Bilingual
    department: str
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class StarterPriority:
    key: str
    name: Bilingual
    keywords: tuple[str, ...]
    ack_minutes: int
    resolve_hours: int
    serious: bool


STARTER_CATEGORIES: tuple[StarterCategory, ...] = (
    StarterCategory("property", Bilingual("Property management", "物业管理"), "property", (
        "物业", "物业费", "停车", "车位", "装修", "租赁", "合同", "收费", "快递", "钥匙",
        "property management", "parking", "rent", "lease", "renovation", "invoice", "fee")),
    StarterCategory("facilities", Bilingual("Facilities", "设施维护"), "facilities", (
        "漏水", "渗水", "停电", "断电", "跳闸", "电梯", "空调", "暖气", "停水", "水管", "下水道",
        "堵塞", "照明", "网络", "leak", "power outage", "power cut", "blackout", "elevator",
        "lift", "air conditioning", "heating", "water supply", "pipe", "blocked", "lighting")),
    StarterCategory("environment", Bilingual("Environment", "环境问题"), "environment", (
        "噪音", "噪声", "垃圾", "异味", "臭味", "污水", "油烟", "卫生", "保洁", "灰尘", "蚊虫",
        "老鼠", "noise", "noisy", "garbage", "rubbish", "trash", "smell", "odor", "odour",
        "dirty", "pest")),
    StarterCategory("security", Bilingual("Safety and security", "安全"), "security", (
        "门禁", "消防", "火灾", "盗窃", "被盗", "小偷", "监控", "陌生人", "打架", "灭火器",
        "安全通道", "access control", "fire", "theft", "stolen", "security", "cctv",
        "intruder", "fire exit")),
    StarterCategory("other", Bilingual("Other", "其他"), "property", ()),
)
DEFAULT_CATEGORY = "other"

STARTER_PRIORITIES: tuple[StarterPriority, ...] = (
    StarterPriority("urgent", Bilingual("Urgent", "紧急"), (
        "火灾", "着火", "冒烟", "受伤", "人身安全", "触电", "被困", "fire", "smoke", "injury",
        "injured", "electric shock", "trapped"), 5, 4, True),
    StarterPriority("high", Bilingual("High", "高"), (
        "停电", "漏水", "停水", "电梯故障", "困梯", "盗窃", "门禁故障", "power outage", "leak",
        "no water", "elevator stuck", "theft"), 5, 24, False),
    StarterPriority("normal", Bilingual("Normal", "中"), (), 5, 72, False),
    StarterPriority("low", Bilingual("Low", "低"), (
        "建议", "咨询", "询问", "suggestion", "enquiry", "inquiry", "question"), 15, 168, False),
)
DEFAULT_PRIORITY = "normal"


def starter_department_name(key: str, language: str) -> str:
    """The usual name of a starter department in the park's language; the key for others."""
    name = STARTER_DEPARTMENTS.get(key)
    return name.in_language(language) if name else key

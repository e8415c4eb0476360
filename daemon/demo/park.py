"""The demo park: a complete config on the embedded default backends, which need no account.

The register is ``register.xlsx`` (a local workbook), complaints arrive in the Maildir
``maildir/`` and emails are written as ``.eml`` files into ``outbox/``, all inside the demo
folder. Three departments, bilingual categories and priorities; every address is under the
reserved ``.test`` domain, so nothing can ever reach a real person.

``demo_config_data()`` is the config as plain data (what ``config.yaml`` holds); the demo
writes it to ``<demo dir>/config.yaml`` with :func:`write_demo_config`, and then reads it back
with ``daemon.config.load_config`` like ``parkdesk run`` would: the demo runs on a real config
file that the user can open, change and use with ``parkdesk run --config``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

PARK_NAME = "示范科技园 Demo Science Park"
DOMAIN = "demo-park.test"
COMPLAINTS_ADDRESS = f"complaints@{DOMAIN}"
SERVICE_CENTER = f"service@{DOMAIN}"
LEADER = f"director@{DOMAIN}"

CONFIG_NAME = "config.yaml"
REGISTER_NAME = "register.xlsx"
MAILDIR_NAME = "maildir"
OUTBOX_NAME = "outbox"
STATE_NAME = "state"

# Department key -> (name, head, members).
DEPARTMENTS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "property": ("物业管理部 Property Management", f"zhang.wei@{DOMAIN}",
                 (f"wang.fang@{DOMAIN}",)),
    "facilities": ("设施维护部 Facilities", f"li.qiang@{DOMAIN}",
                   (f"zhao.lei@{DOMAIN}", f"repairs@{DOMAIN}")),
    "security": ("安保部 Security", f"liu.yang@{DOMAIN}", (f"sun.hao@{DOMAIN}",)),
}

CONFIG_HEADER = f"""\
# The ParkDesk demo park, written by `parkdesk demo`. Everything is local: the register is
# {REGISTER_NAME}, complaints arrive in the Maildir {MAILDIR_NAME}/ and emails are written as .eml
# files into {OUTBOX_NAME}/. No account, no server. Every address is under .test, which never
# reaches anyone. Try it yourself after the demo:
#     parkdesk run --config {CONFIG_NAME} --once
# Running `parkdesk demo` again on this folder starts afresh (it removes what it made here).
"""


def demo_config_data() -> dict[str, Any]:
    """The demo park's config.yaml as plain data; paths are relative to the demo folder."""
    return {
        "park": {"name": PARK_NAME, "timezone": "Asia/Shanghai", "language": "zh-CN",
                 "reference_prefix": "C"},
        "state_dir": f"./{STATE_NAME}",
        "mailbox": {"backend": "maildir", "path": f"./{MAILDIR_NAME}"},
        "smtp": {"backend": "outbox", "path": f"./{OUTBOX_NAME}",
                 "from_address": COMPLAINTS_ADDRESS,
                 "from_name": "示范科技园 园区服务中心 Service Center"},
        "register": {"backend": "workbook", "path": f"./{REGISTER_NAME}"},
        "service_center": [SERVICE_CENTER],
        "leadership": [LEADER],
        "departments": [
            {"key": key, "name": name, "head": head, "members": list(members)}
            for key, (name, head, members) in DEPARTMENTS.items()
        ],
        "categories": [
            {"key": "property", "name": "物业管理 Property", "department": "property",
             "keywords": ["物业", "停车", "车位", "收费", "钥匙", "parking", "rent", "fee",
                          "invoice"]},
            {"key": "facilities", "name": "设施维护 Facilities", "department": "facilities",
             "keywords": ["漏水", "渗水", "停电", "电梯", "空调", "水管", "照明", "leak",
                          "power cut", "elevator", "lift", "air conditioning", "ceiling"]},
            {"key": "environment", "name": "环境卫生 Environment", "department": "property",
             "keywords": ["垃圾", "异味", "臭味", "噪音", "卫生", "保洁", "rubbish", "garbage",
                          "smell", "noise"]},
            {"key": "security", "name": "安全 Safety", "department": "security",
             "keywords": ["消防", "火灾", "冒烟", "门禁", "盗窃", "监控", "fire", "smoke",
                          "theft", "access card"]},
            {"key": "other", "name": "其他 Other", "department": "property", "keywords": []},
        ],
        "priorities": [
            {"key": "urgent", "name": "紧急 Urgent", "serious": True, "ack_minutes": 5,
             "resolve_hours": 4,
             "keywords": ["火灾", "着火", "冒烟", "受伤", "fire", "smoke", "injured"]},
            {"key": "high", "name": "高 High", "ack_minutes": 5, "resolve_hours": 24,
             "keywords": ["电梯故障", "停电", "漏水", "leak", "power cut", "elevator stuck"]},
            {"key": "normal", "name": "中 Normal", "ack_minutes": 10, "resolve_hours": 72,
             "keywords": []},
            {"key": "low", "name": "低 Low", "ack_minutes": 30, "resolve_hours": 168,
             "keywords": ["建议", "咨询", "suggestion", "question"]},
        ],
        "intake": {"default_category": "other", "default_priority": "normal"},
        "dispatch": {
            "ack_ladder": [{"after_minutes": 0, "notify": "department"},
                           {"after_minutes": 5, "notify": "service_center"},
                           {"after_minutes": 25, "notify": "leadership"}],
            "forward_notes_to_tenant": True,
        },
        "aftercare": {"return_visit_delay_hours": 2, "office_hours": [9, 18],
                      "office_days": [1, 2, 3, 4, 5]},
    }


def write_demo_config(folder: Path) -> Path:
    """Write the demo park's ``config.yaml`` into ``folder``; returns its path."""
    path = Path(folder) / CONFIG_NAME
    text = yaml.safe_dump(demo_config_data(), allow_unicode=True, sort_keys=False, width=100)
    path.write_text(CONFIG_HEADER + "\n" + text, encoding="utf-8")
    return path

"""The register's shape: tabs, columns, statuses and their bilingual labels, defined once.

Everything else refers to columns by their key (``"reference"``, ``"status"`` ...), never by
position or by header text: staff may sort, filter, insert rows and even move columns, so the
register adapter maps keys to positions by reading the header row each cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

REGISTER_TAB = "Register"
ACTIVITY_TAB = "Activity"
DEPARTMENTS_TAB = "Departments"


@dataclass(frozen=True)
class Column:
    """One column of a tab: a stable key, the header staff see, and who may edit it."""

    key: str
    header: str
    staff_editable: bool = False


# The Register tab: one row per complaint, which is also its handling slip (处理单).
REGISTER_COLUMNS: tuple[Column, ...] = (
    Column("reference", "编号 Reference"),
    Column("status", "状态 Status", staff_editable=True),
    Column("received_at", "收到时间 Received"),
    Column("company", "企业 Company", staff_editable=True),
    Column("contact_name", "联系人 Contact", staff_editable=True),
    Column("email", "邮箱 Email", staff_editable=True),
    Column("phone", "电话 Phone", staff_editable=True),
    Column("location", "位置 Location", staff_editable=True),
    Column("subject", "主题 Subject", staff_editable=True),
    Column("content", "内容 Content", staff_editable=True),
    Column("attachments", "附件 Attachments"),
    Column("category", "类别 Category", staff_editable=True),
    Column("priority", "优先级 Priority", staff_editable=True),
    Column("serious", "严重 Serious", staff_editable=True),
    Column("check", "待核实 To check"),
    Column("department", "责任部门 Department", staff_editable=True),
    Column("assignee", "处理人 Assignee", staff_editable=True),
    Column("dispatched_at", "派单时间 Dispatched"),
    Column("ack_due", "签收期限 Sign-for due"),
    Column("acknowledged_at", "签收时间 Signed for"),
    Column("acknowledged_by", "签收人 Signed by"),
    Column("resolve_by", "处理期限 Resolve by"),
    Column("escalations", "催办升级 Escalations"),
    Column("resolved_at", "处理时间 Resolved"),
    Column("resolved_by", "处理人员 Resolved by"),
    Column("result", "处理结果 Result"),
    Column("signed_off_by", "审核人 Signed off by"),
    Column("signed_off_at", "审核时间 Signed off"),
    Column("visit_sent_at", "回访时间 Return visit sent"),
    Column("satisfaction", "满意度 Satisfaction", staff_editable=True),
    Column("feedback", "企业反馈 Tenant feedback", staff_editable=True),
    Column("review", "检讨 Review"),
    Column("closed_at", "结案时间 Closed"),
    Column("notes", "备注 Notes", staff_editable=True),
    Column("updated_at", "更新时间 Updated"),
    Column("message_id", "邮件标识 Message-ID"),
)

# The Activity tab: an append-only trail of everything that happened to a complaint.
ACTIVITY_COLUMNS: tuple[Column, ...] = (
    Column("time", "时间 Time"),
    Column("reference", "编号 Reference"),
    Column("event", "事件 Event"),
    Column("actor", "操作人 Actor"),
    Column("detail", "详情 Detail"),
)

# The Departments tab: who gets what, written by ParkDesk from config.yaml at every start
# (staff edits there are overwritten; they change config.yaml instead).
DEPARTMENT_COLUMNS: tuple[Column, ...] = (
    Column("key", "代码 Key"),
    Column("name", "部门 Department"),
    Column("head", "负责人 Head"),
    Column("members", "成员 Members"),
    Column("categories", "负责类别 Categories"),
)
# Rows of the Departments tab that are not departments: everyone else ParkDesk mails.
SERVICE_CENTER_LABEL = "服务中心 Service center"
LEADERSHIP_LABEL = "公司领导 Leadership"
DEPARTMENTS_NOTE = (
    "本表由 ParkDesk 根据 config.yaml 自动填写，在此修改会被覆盖；请修改 config.yaml。\n"
    "ParkDesk writes this tab from config.yaml; edits here are overwritten. Change config.yaml."
)

REGISTER_KEYS: tuple[str, ...] = tuple(c.key for c in REGISTER_COLUMNS)
ACTIVITY_KEYS: tuple[str, ...] = tuple(c.key for c in ACTIVITY_COLUMNS)
DEPARTMENT_KEYS: tuple[str, ...] = tuple(c.key for c in DEPARTMENT_COLUMNS)


class Status(str, Enum):
    """A complaint's status; the sheet shows the bilingual label."""

    NEW = "new"
    DISPATCHED = "dispatched"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    RETURN_VISIT = "return_visit"
    CLOSED = "closed"
    REOPENED = "reopened"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]

    @classmethod
    def from_label(cls, text: str) -> "Status | None":
        """Read a status back from a cell: the full label, its English or Chinese part, or the key.

        >>> Status.from_label("已签收"), Status.from_label("return visit")
        (<Status.ACKNOWLEDGED: 'acknowledged'>, <Status.RETURN_VISIT: 'return_visit'>)
        """
        wanted = " ".join(str(text).split()).casefold()
        if not wanted:
            return None
        for status, label in STATUS_LABELS.items():
            english, _, chinese = label.rpartition(" ")
            if wanted in {label.casefold(), english.casefold(), chinese, status.value}:
                return status
        return None


STATUS_LABELS: dict[Status, str] = {
    Status.NEW: "New 新建",
    Status.DISPATCHED: "Dispatched 已派单",
    Status.ACKNOWLEDGED: "Acknowledged 已签收",
    Status.RESOLVED: "Resolved 已处理",
    Status.RETURN_VISIT: "Return visit 回访中",
    Status.CLOSED: "Closed 已结案",
    Status.REOPENED: "Reopened 重新处理",
    Status.CANCELLED: "Cancelled 已撤销",
}


class Event(str, Enum):
    """What an Activity row records."""

    RECEIVED = "received 收到投诉"
    REGISTERED = "registered 登记"
    TENANT_ACKNOWLEDGED = "apology sent 已致歉回复"
    NOTE = "note 备注"
    AUTO_REPLY_IGNORED = "auto-reply ignored 自动回复已忽略"
    DUPLICATE_IGNORED = "duplicate ignored 重复已忽略"
    QUARANTINED = "quarantined 已隔离"
    REPLY_LIMITED = "reply limit reached 回复已限流"
    REFERENCE_ASSIGNED = "reference assigned 已编号"
    DISPATCHED = "slip sent 已派单"
    ACKNOWLEDGED = "signed for 已签收"
    PROGRESS = "progress 进展"
    TRANSFERRED = "transferred 已转派"
    REDISPATCHED = "re-dispatched by staff 人工改派"
    RETIMED = "deadlines changed 期限已调整"
    TENANT_FOLLOWUP = "tenant follow-up 企业补充"
    COMMAND_REFUSED = "command refused 指令未执行"
    COMMAND_UNKNOWN = "reply not understood 未识别回复"
    RESOLVED = "resolved 已处理"
    SIGNOFF_REQUESTED = "sign-off requested 待审核"
    SIGNED_OFF = "signed off 已审核"
    RESOLUTION_REJECTED = "sent back 已退回"
    TENANT_TOLD = "result sent to tenant 已告知企业"
    VISIT_SENT = "return visit sent 已回访"
    VISIT_REMINDED = "return visit reminder 回访提醒"
    SATISFACTION = "satisfaction 满意度"
    REOPENED = "reopened 重新处理"
    CLOSED = "closed 已结案"
    REVIEW_REQUESTED = "review requested 要求检讨"
    REVIEW_RECORDED = "review recorded 已检讨"
    REVIEW_CHASED = "review chased 催交检讨"
    ARCHIVED = "archived 已归档"
    REMINDER = "reminder sent 已催办"
    ESCALATED = "escalated 已升级"

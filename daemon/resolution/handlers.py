"""Reply commands that finish a complaint: the result, the sign-off, the tenant's answer.

- 完成/DONE from a member or the head: Resolved with that text as the result. From a member,
  the head is asked to sign off; from the head, it is signed off at once.
- 确认/APPROVE from the head: signed off; the tenant is told the result.
- 退回/REJECT from the head: back to the department (Acknowledged) with the reason.
- 检讨/REVIEW from the head: the review of a serious complaint is recorded.
- From the tenant, a satisfaction answer (满意, 2, ★★★★ ...) to the return visit: 3 or more
  closes the complaint, 2 or less reopens it (slip again, service center told).
"""

from __future__ import annotations

from daemon.dispatch.replies import (Reply, acknowledgement_cells, handle_tenant_followup,
                                     redispatch)
from daemon.aftercare import close_cells, reopen_cells, satisfaction_outcome
from daemon.sheet_layout import Event, Status

OPEN_FOR_RESULT = {Status.DISPATCHED, Status.ACKNOWLEDGED, Status.REOPENED}
AWAITING_ANSWER = {Status.RESOLVED, Status.RETURN_VISIT}


def is_head(reply: Reply) -> bool:
    return reply.department is not None and reply.sender == reply.department.head.lower()


def handle_done(reply: Reply) -> None:
    result = (reply.command.argument or reply.visible).strip()
    if reply.status() not in OPEN_FOR_RESULT:
        reply.note(Event.NOTE, f"{reply.visible}\n[not open for a result: {reply.values.get('status')}]")
        reply.confirm("备注 note", "投诉当前不在处理中 / the complaint is not being handled now")
        return
    if not reply.values.get("acknowledged_at", "").strip():
        reply.set(**acknowledgement_cells(reply))  # a result implies it was signed for
    reply.set(status=Status.RESOLVED.label, resolved_at=reply.at, resolved_by=reply.sender,
              result=result, signed_off_by="", signed_off_at="", updated_at=reply.at)
    reply.note(Event.RESOLVED, result)
    if is_head(reply):
        sign_off(reply)
        reply.confirm("完成并审核 resolved and signed off")
        return
    department = reply.department
    reply.send("signoff_request", [department.head], "signoff",
               head_name=department.name + " 负责人", resolved_by=reply.sender,
               resolved_at=reply.at, result=result, company=reply.values.get("company", ""),
               subject=reply.values.get("subject", ""))
    reply.note(Event.SIGNOFF_REQUESTED, department.head)
    reply.confirm("完成 resolution", "已请部门负责人审核 / the head is asked to sign off")


def sign_off(reply: Reply) -> None:
    reply.set(signed_off_by=reply.sender, signed_off_at=reply.at, updated_at=reply.at)
    reply.note(Event.SIGNED_OFF, reply.values.get("result", ""))
    tenant = reply.values.get("email", "").strip()
    if tenant and "@" in tenant:
        reply.send("result_to_tenant", [tenant], "result",
                   contact_name=reply.values.get("contact_name", ""),
                   subject=reply.values.get("subject", ""), result=reply.values.get("result", ""))
        reply.note(Event.TENANT_TOLD, tenant)


def handle_approve(reply: Reply) -> None:
    if not is_head(reply):
        reply.note(Event.COMMAND_REFUSED, f"{reply.visible}\n[only the department head signs off]")
        reply.confirm("备注 note", "只有部门负责人可以审核 / only the department head signs off")
        return
    if reply.status() != Status.RESOLVED or reply.values.get("signed_off_at", "").strip():
        reply.note(Event.NOTE, f"{reply.visible}\n[nothing waiting for sign-off]")
        reply.confirm("备注 note", "没有待审核的结果 / nothing is waiting for sign-off")
        return
    sign_off(reply)
    reply.confirm("审核 sign-off")


def handle_reject(reply: Reply) -> None:
    if not is_head(reply) or reply.status() != Status.RESOLVED \
            or reply.values.get("signed_off_at", "").strip():
        reply.note(Event.NOTE, f"{reply.visible}\n[nothing the sender can send back]")
        reply.confirm("备注 note", "没有可退回的结果 / nothing to send back")
        return
    previous = reply.values.get("result", "")
    reply.set(status=Status.ACKNOWLEDGED.label, resolved_at="", resolved_by="", result="",
              updated_at=reply.at)
    reply.note(Event.RESOLUTION_REJECTED, f"{reply.command.argument}\n[previous result: {previous}]")
    department = reply.department
    reply.send("resolution_rejected", list(department.members), "rejected",
               department_name=department.name, head=department.head,
               reason=reply.command.argument, result=previous)
    reply.confirm("退回 sent back")


def handle_review(reply: Reply) -> None:
    text = (reply.command.argument or reply.visible).strip()
    reply.set(review=text, updated_at=reply.at)
    reply.note(Event.REVIEW_RECORDED, text)
    reply.confirm("检讨 review")


def handle_satisfaction(reply: Reply) -> None:
    """The tenant's return-visit answer; anything else from the tenant is a follow-up."""
    if reply.status() not in AWAITING_ANSWER or not reply.values.get("signed_off_at", "").strip():
        handle_tenant_followup(reply)
        return
    score = int(reply.command.argument)
    feedback = (reply.command.comment or "").strip()
    reply.set(satisfaction=str(score), feedback=feedback, updated_at=reply.at)
    reply.note(Event.SATISFACTION, f"{score} {feedback}".strip())
    if satisfaction_outcome(score) == "close":
        reply.set(**close_cells(reply.now, reply.now.tzinfo))
        reply.note(Event.CLOSED, f"满意度 satisfaction {score}")
        return
    reopen(reply, score, feedback)


def reopen(reply: Reply, score: int, feedback: str) -> None:
    """The tenant is unhappy: the slip goes to the department again, the service center is told.

    The answer itself stays in Activity; the row's round of sign-off, visit and answer is
    emptied so the next resolution gets its own (``aftercare.reopen_cells``).
    """
    department = reply.department
    if department is None:  # staff typed a department the config does not know
        reply.note(Event.NOTE, f"{reply.visible}\n[unhappy, but the department "
                               f"{reply.values.get('department')!r} is unknown]")
        reply.tell_service_center(
            f"the tenant is not satisfied ({score}), but the complaint's department "
            f"{reply.values.get('department')!r} is not in config.yaml: set it in the register")
        return
    redispatch(reply, department, status=Status.REOPENED)
    reply.set(**reopen_cells(reply.now, reply.now.tzinfo), resolved_at="", resolved_by="",
              result="")
    reply.note(Event.REOPENED, f"{score}: {feedback}" if feedback else f"satisfaction {score}")
    reply.send("reopened_notice", list(reply.config.service_center), "reopened",
               satisfaction=score, feedback=feedback, department_name=department.name)


STAFF_HANDLERS = {
    "done": handle_done,
    "approve": handle_approve,
    "reject": handle_reject,
    "review": handle_review,
}
TENANT_HANDLERS = {
    "satisfaction": handle_satisfaction,
}

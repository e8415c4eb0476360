"""What `parkdesk init` tells the person at the end, in the park's language (zh-CN or en).

``closing_text`` says what was written, which environment variables to set for the secrets
(with the commands for Linux/macOS and Windows), what the mail provider needs, what was done to
the register, and the next steps (`parkdesk check`, then `parkdesk run`).
"""

from __future__ import annotations

from daemon.setup.answers import InitAnswers
from daemon.setup.config_text import password_variables
from daemon.setup.presets import LOCAL
from daemon.setup.register_setup import RegisterOutcome

TEXTS = {
    "en": {
        "written": "Wrote {path}.",
        "unchanged": "{path} already says this; it was left as it is.",
        "backup": "The previous file was kept as {backup}.",
        "secrets": "Passwords are never written in config.yaml. Set this environment variable "
                   "before starting ParkDesk (on the machine and for the user that runs it):",
        "variable": "  {name}: {secret} of {account} ({sections})",
        "no_secrets": "No password is needed: mail is read from and written to local folders.",
        "provider": "Mail provider {name}:",
        "register_created": "Register: {location}",
        "register_in_place": "Register: {location} (its layout was already in place)",
        "service_account": "ParkDesk uses the sheet as the service account {email}: keep the "
                           "sheet shared with it as Editor.",
        "next": "Next steps:",
        "step_check": "  1. parkdesk check --config {path}   tries every connection and says what "
                      "to fix",
        "step_run": "  2. parkdesk run --config {path}     starts the complaint desk "
                    "(parkdesk run --once for one cycle)",
        "edit": "Categories, priorities, deadlines and reply words are the usual ones; edit "
                "{path} to change them (parkdesk check-config says whether the file is right).",
    },
    "zh-CN": {
        "written": "已写入 {path}。",
        "unchanged": "{path} 的内容与本次回答相同,未作改动。",
        "backup": "原文件已备份为 {backup}。",
        "secrets": "密码绝不写入 config.yaml。启动 ParkDesk 前,请在运行它的电脑和用户下设置以下环境变量:",
        "variable": "  {name}:{secret}({account},用于 {sections})",
        "no_secrets": "无需密码:邮件从本地文件夹读取、写入本地文件夹。",
        "provider": "邮箱服务商 {name}:",
        "register_created": "登记表:{location}",
        "register_in_place": "登记表:{location}(格式已就绪,未作改动)",
        "service_account": "ParkDesk 以服务账号 {email} 的身份使用表格:请保持表格以「编辑者」身份共享给它。",
        "next": "下一步:",
        "step_check": "  1. parkdesk check --config {path}   逐项测试所有连接,并说明如何修正",
        "step_run": "  2. parkdesk run --config {path}     启动投诉受理(parkdesk run --once 只运行一轮)",
        "edit": "投诉类别、优先级、处理时限和回复指令采用常用设置;如需修改,请编辑 {path}"
                "(parkdesk check-config 会检查文件是否正确)。",
    },
}
SECTION_NAMES = {"mailbox": "IMAP", "smtp": "SMTP"}


def text_for(language: str) -> dict[str, str]:
    return TEXTS["zh-CN" if language.startswith("zh") else "en"]


def closing_text(answers: InitAnswers, *, path: str, written: bool, backup: str | None,
                 outcome: RegisterOutcome | None, service_account: str | None) -> str:
    language = answers.language
    texts = text_for(language)
    lines = [texts["written" if written else "unchanged"].format(path=path)]
    if backup:
        lines.append(texts["backup"].format(backup=backup))
    lines.append("")
    variables = password_variables(answers)
    if variables:
        lines.append(texts["secrets"])
        for variable in variables:
            lines.append(texts["variable"].format(
                name=variable.name, secret=variable.secret.in_language(language),
                account=variable.account,
                sections=", ".join(SECTION_NAMES[section] for section in variable.sections)))
        for variable in variables:
            lines.append(f"    Linux/macOS:  export {variable.name}='...'")
            lines.append(f"    Windows:      setx {variable.name} \"...\"")
    else:
        lines.append(texts["no_secrets"])
    preset = answers.provider
    if preset.key != LOCAL and preset.notes:
        lines += ["", texts["provider"].format(name=preset.name.in_language(language))]
        lines += [f"  - {note.in_language(language)}" for note in preset.notes]
    if outcome is not None:
        key = "register_created" if outcome.changes else "register_in_place"
        lines += ["", texts[key].format(location=outcome.location)]
        lines += [f"  - {change}" for change in outcome.changes]
    if service_account:
        lines.append(texts["service_account"].format(email=service_account))
    lines += ["", texts["next"], texts["step_check"].format(path=path),
              texts["step_run"].format(path=path), "", texts["edit"].format(path=path)]
    return "\n".join(lines) + "\n"

"""Setting ParkDesk up without IT staff: `parkdesk init` and the mail-provider presets.

    presets          the IMAP/SMTP servers and quirks of Gmail, Microsoft 365, QQ, Exmail,
                     NetEase 163/126/yeah, Aliyun ... (``PRESETS``, ``guess_preset``)
    answers          each answer read and checked (``parse_*``), ``InitAnswers``
    questions        the questions in order, asked at a prompt or taken from flags
    starter          the usual departments, categories and priorities of a new park
    config_text      the commented config.yaml written from the answers
    register_setup   the Google Sheet or workbook created and laid out
    messages         the closing text: secrets to set, next steps (zh-CN / en)
    command          ``add_init_command`` and its handler ``run_init``
"""

from daemon.setup.command import add_init_command, run_init

__all__ = ["add_init_command", "run_init"]

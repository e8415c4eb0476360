"""Mail-provider presets for `parkdesk init`: the IMAP and SMTP servers of the mail services
parks use, what their password is, and their known quirks, in Chinese and English.

``PRESETS`` maps a preset key (``qq``, ``163``, ``microsoft365`` ...) to a ``MailPreset``;
``find_preset("Office365")`` accepts a few other spellings; ``guess_preset("a@qq.com")`` picks
the preset of a public mail domain (``custom`` for a park's own domain, which may be hosted
anywhere). Servers as published by each provider (checked 2026):

    Gmail / Google Workspace  imap.gmail.com 993 ssl          smtp.gmail.com 465 ssl (or 587 starttls)
    Microsoft 365             outlook.office365.com 993 ssl   smtp.office365.com 587 starttls
    Outlook.com / Hotmail     outlook.office365.com 993 ssl   smtp-mail.outlook.com 587 starttls
    QQ Mail                   imap.qq.com 993 ssl             smtp.qq.com 465 ssl
    Tencent Exmail            imap.exmail.qq.com 993 ssl      smtp.exmail.qq.com 465 ssl
    NetEase 163 / 126 / yeah  imap.163.com 993 ssl            smtp.163.com 465 ssl (126, yeah.net alike)
    Aliyun mail               imap.aliyun.com 993 ssl         smtp.aliyun.com 465 ssl
    Alibaba Mail (enterprise) imap.qiye.aliyun.com 993 ssl    smtp.qiye.aliyun.com 465 ssl

NetEase refuses SELECT with "Unsafe Login. Please contact kefu@188.com" until the client has
identified itself with the IMAP ID command (RFC 2971); ``MailPreset.imap_id_required`` records
it, and ``daemon.mailbox.imap.ImapMailbox`` sends ID after login whenever the server offers it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Security = Literal["ssl", "starttls", "none"]
CUSTOM = "custom"
LOCAL = "local"


@dataclass(frozen=True)
class Bilingual:
    """A text for people in both park languages."""

    en: str
    zh: str

    def in_language(self, language: str) -> str:
        """The text in ``language`` ("zh-CN" or "en")."""
        return self.zh if language.startswith("zh") else self.en


@dataclass(frozen=True)
class Server:
    """One mail server: ``Server("imap.qq.com", 993, "ssl")``."""

    host: str
    port: int
    security: Security


@dataclass(frozen=True)
class MailPreset:
    """What ParkDesk needs to know about one mail service.

    ``imap``/``smtp`` are None for ``custom`` (the park names its servers) and ``local`` (no
    server: a Maildir folder in, .eml files out). ``secret`` says what goes into the password
    environment variable (an app password, an authorization code ...); ``notes`` are the steps
    and quirks people must know, shown by init and written as comments into config.yaml.
    """

    key: str
    name: Bilingual
    imap: Server | None
    smtp: Server | None
    secret: Bilingual
    notes: tuple[Bilingual, ...] = ()
    domains: tuple[str, ...] = ()
    smtp_alternatives: tuple[Server, ...] = ()
    imap_id_required: bool = False
    oauth2_needed: bool = False
    aliases: tuple[str, ...] = field(default=(), repr=False)

    @property
    def needs_servers(self) -> bool:
        """True for ``custom``: the IMAP and SMTP servers must be asked."""
        return self.key == CUSTOM

    @property
    def uses_accounts(self) -> bool:
        """False for ``local``, which reads and writes folders and logs in nowhere."""
        return self.key != LOCAL


PASSWORD = Bilingual("the mailbox password", "邮箱密码")
AUTH_CODE = Bilingual("the authorization code (授权码) made for other mail programs",
                      "为客户端生成的授权码(不是登录密码)")
APP_PASSWORD = Bilingual("an app password (16 letters) made for this account",
                         "为该账号生成的应用专用密码(16 位)")

NETEASE_ID_QUIRK = Bilingual(
    "NetEase answers 'Unsafe Login' to a mail program that does not first identify itself with "
    "the IMAP ID command; ParkDesk sends ID after login, so nothing needs to be done for it.",
    "网易邮箱要求客户端先用 IMAP ID 命令表明身份,否则提示 'Unsafe Login';ParkDesk 登录后会自动发送 ID,无需另行设置。")
NETEASE_AUTH_CODE = Bilingual(
    "In the webmail: Settings > POP3/SMTP/IMAP, turn on the IMAP/SMTP service and add an "
    "authorization code; use that code as the password (a free account may hold only two).",
    "在网页邮箱「设置 > POP3/SMTP/IMAP」中开启 IMAP/SMTP 服务并新增授权码,用授权码代替密码(免费邮箱最多两个授权码)。")
GOOGLE_APP_PASSWORD = Bilingual(
    "Google no longer accepts the account password from mail programs: turn on 2-Step "
    "Verification, create an app password at myaccount.google.com/apppasswords and use it, or "
    "use OAuth2 sign-in.",
    "Google 已不接受客户端用账号密码登录:请开启两步验证,在 myaccount.google.com/apppasswords 生成应用专用密码并使用它,或改用 OAuth2 登录。")
MICROSOFT_OAUTH2 = Bilingual(
    "Microsoft has turned off password sign-in for IMAP and SMTP on most accounts: the mailbox "
    "needs OAuth2 (XOAUTH2). A password works only where the administrator still allows it.",
    "微软已对大多数账号关闭 IMAP/SMTP 的密码登录,需要使用 OAuth2(XOAUTH2);只有管理员仍允许时密码才可用。")


def _netease(key: str, domain: str, label: str) -> MailPreset:
    return MailPreset(
        key=key,
        name=Bilingual(f"NetEase {label} mail ({domain})", f"网易 {label} 邮箱({domain})"),
        imap=Server(f"imap.{domain}", 993, "ssl"),
        smtp=Server(f"smtp.{domain}", 465, "ssl"),
        secret=AUTH_CODE,
        notes=(NETEASE_AUTH_CODE, NETEASE_ID_QUIRK),
        domains=(domain,),
        imap_id_required=True,
        aliases=(f"netease-{key}", domain),
    )


PRESET_LIST: tuple[MailPreset, ...] = (
    MailPreset(
        key="gmail",
        name=Bilingual("Gmail", "Gmail"),
        imap=Server("imap.gmail.com", 993, "ssl"),
        smtp=Server("smtp.gmail.com", 465, "ssl"),
        smtp_alternatives=(Server("smtp.gmail.com", 587, "starttls"),),
        secret=APP_PASSWORD,
        notes=(GOOGLE_APP_PASSWORD,),
        domains=("gmail.com", "googlemail.com"),
        oauth2_needed=True,
    ),
    MailPreset(
        key="google-workspace",
        name=Bilingual("Google Workspace (the park's own domain on Gmail)",
                       "Google Workspace(园区域名的 Gmail)"),
        imap=Server("imap.gmail.com", 993, "ssl"),
        smtp=Server("smtp.gmail.com", 465, "ssl"),
        smtp_alternatives=(Server("smtp.gmail.com", 587, "starttls"),),
        secret=APP_PASSWORD,
        notes=(GOOGLE_APP_PASSWORD, Bilingual(
            "The Workspace administrator must allow app passwords (Admin console > Security), or "
            "set up OAuth2 with a service account and domain-wide delegation.",
            "Workspace 管理员需在管理控制台「安全」中允许应用专用密码,或为服务账号配置全网域授权以使用 OAuth2。")),
        oauth2_needed=True,
        aliases=("workspace", "gsuite"),
    ),
    MailPreset(
        key="microsoft365",
        name=Bilingual("Microsoft 365 (Exchange Online)", "Microsoft 365(Exchange Online)"),
        imap=Server("outlook.office365.com", 993, "ssl"),
        smtp=Server("smtp.office365.com", 587, "starttls"),
        secret=PASSWORD,
        notes=(MICROSOFT_OAUTH2, Bilingual(
            "The administrator must turn on IMAP and Authenticated SMTP for this mailbox "
            "(Microsoft 365 admin center > Users > Mail).",
            "管理员需在 Microsoft 365 管理中心为该邮箱开启 IMAP 和「经过身份验证的 SMTP」。")),
        oauth2_needed=True,
        aliases=("office365", "m365", "o365", "exchange"),
    ),
    MailPreset(
        key="outlook",
        name=Bilingual("Outlook.com / Hotmail", "Outlook.com / Hotmail"),
        imap=Server("outlook.office365.com", 993, "ssl"),
        smtp=Server("smtp-mail.outlook.com", 587, "starttls"),
        secret=PASSWORD,
        notes=(MICROSOFT_OAUTH2,),
        domains=("outlook.com", "hotmail.com", "live.com", "msn.com", "outlook.cn"),
        oauth2_needed=True,
        aliases=("hotmail", "outlook.com"),
    ),
    MailPreset(
        key="qq",
        name=Bilingual("QQ Mail", "QQ 邮箱"),
        imap=Server("imap.qq.com", 993, "ssl"),
        smtp=Server("smtp.qq.com", 465, "ssl"),
        smtp_alternatives=(Server("smtp.qq.com", 587, "starttls"),),
        secret=AUTH_CODE,
        notes=(Bilingual(
            "QQ Mail accepts only an authorization code from mail programs, never the QQ "
            "password: in the webmail, Settings > Account, turn on the IMAP/SMTP service and "
            "generate an authorization code. Changing the QQ password cancels the codes.",
            "QQ 邮箱客户端只能用授权码登录,不能用 QQ 密码:在网页邮箱「设置 > 账号」中开启 IMAP/SMTP 服务并生成授权码。修改 QQ 密码后授权码全部失效。"),),
        domains=("qq.com", "foxmail.com", "vip.qq.com"),
        aliases=("qqmail", "foxmail"),
    ),
    MailPreset(
        key="exmail",
        name=Bilingual("Tencent Exmail (Tencent enterprise mail)", "腾讯企业邮箱"),
        imap=Server("imap.exmail.qq.com", 993, "ssl"),
        smtp=Server("smtp.exmail.qq.com", 465, "ssl"),
        secret=Bilingual("the mailbox password, or the client-specific password (客户端专用密码) "
                         "if secure login is on",
                         "邮箱密码;如已开启安全登录,则为客户端专用密码"),
        notes=(Bilingual(
            "Turn on IMAP/SMTP for this account (Settings > Client settings). If secure login "
            "(WeChat binding) is on, generate a client-specific password and use it. Outside "
            "mainland China use hwimap.exmail.qq.com and hwsmtp.exmail.qq.com.",
            "在「设置 > 客户端设置」中为该账号开启 IMAP/SMTP 服务。如已绑定微信并开启安全登录,请生成客户端专用密码并使用它。海外服务器为 hwimap.exmail.qq.com 和 hwsmtp.exmail.qq.com。"),),
        aliases=("tencent-exmail", "exmail.qq.com", "tencent"),
    ),
    _netease("163", "163.com", "163"),
    _netease("126", "126.com", "126"),
    _netease("yeah", "yeah.net", "yeah.net"),
    MailPreset(
        key="aliyun",
        name=Bilingual("Aliyun mail (aliyun.com)", "阿里云邮箱(aliyun.com)"),
        imap=Server("imap.aliyun.com", 993, "ssl"),
        smtp=Server("smtp.aliyun.com", 465, "ssl"),
        secret=Bilingual("the mailbox password, or the client password if one is set",
                         "邮箱密码;如设置了客户端专用密码,则为该密码"),
        notes=(Bilingual(
            "In the webmail: Settings > Account and security, turn on the IMAP/SMTP service.",
            "在网页邮箱「设置 > 账户与安全」中开启 IMAP/SMTP 服务。"),),
        domains=("aliyun.com",),
        aliases=("aliyun.com",),
    ),
    MailPreset(
        key="aliyun-enterprise",
        name=Bilingual("Alibaba Mail (Aliyun enterprise mail)", "阿里企业邮箱"),
        imap=Server("imap.qiye.aliyun.com", 993, "ssl"),
        smtp=Server("smtp.qiye.aliyun.com", 465, "ssl"),
        secret=Bilingual("the mailbox password, or the third-party client security password if "
                         "it is turned on",
                         "邮箱密码;如已开启三方客户端安全密码,则为该密码"),
        notes=(Bilingual(
            "New Alibaba Mail domains forbid third-party mail programs: the postmaster must "
            "allow them in domain management. If the third-party client security password is "
            "on, use that password.",
            "新开通的阿里企业邮箱默认禁止三方客户端:需由管理员(postmaster)在域管理中允许。如已开启三方客户端安全密码,请使用该密码。"),),
        aliases=("alimail", "qiye.aliyun.com", "aliyun-qiye"),
    ),
    MailPreset(
        key=CUSTOM,
        name=Bilingual("another mail server (you give the server names)",
                       "其他邮件服务器(需填写服务器地址)"),
        imap=None,
        smtp=None,
        secret=PASSWORD,
        notes=(Bilingual(
            "Ask whoever runs the mail server for the IMAP and SMTP server names and whether "
            "they use SSL or STARTTLS.",
            "请向邮件服务器的管理者询问 IMAP 和 SMTP 服务器地址,以及使用 SSL 还是 STARTTLS。"),),
        aliases=("other", "own"),
    ),
    MailPreset(
        key=LOCAL,
        name=Bilingual("no mail account: local folders (to try ParkDesk out)",
                       "不使用邮箱账号:本地文件夹(试用)"),
        imap=None,
        smtp=None,
        secret=Bilingual("nothing", "无"),
        notes=(Bilingual(
            "Complaints are read from the Maildir folder mail/inbox and every email is written "
            "as an .eml file into mail/outbox instead of being sent.",
            "投诉从 Maildir 文件夹 mail/inbox 读取,所有邮件都写成 .eml 文件放进 mail/outbox,不会真正发出。"),),
        aliases=("maildir", "none", "demo"),
    ),
)

PRESETS: dict[str, MailPreset] = {preset.key: preset for preset in PRESET_LIST}


def _fold(name: str) -> str:
    return "".join(name.split()).casefold().replace("_", "-")


def find_preset(name: str) -> MailPreset | None:
    """The preset called ``name`` (its key or another spelling such as ``Office365``), or None."""
    wanted = _fold(name)
    for preset in PRESET_LIST:
        if wanted == preset.key or wanted in (_fold(alias) for alias in preset.aliases):
            return preset
    return None


def guess_preset(address: str) -> MailPreset:
    """The preset of the address's public mail domain; ``custom`` for any other domain.

    ``guess_preset("tenant@126.com").key == "126"``; ``guess_preset("a@park.example").key == "custom"``.
    """
    domain = address.rpartition("@")[2].strip().casefold()
    for preset in PRESET_LIST:
        if domain in preset.domains:
            return preset
    return PRESETS[CUSTOM]


def custom_servers(address: str) -> tuple[Server, Server]:
    """Likely servers of a park's own domain, offered as defaults: imap.<domain>, smtp.<domain>."""
    domain = address.rpartition("@")[2].strip().casefold() or "example.com"
    return Server(f"imap.{domain}", 993, "ssl"), Server(f"smtp.{domain}", 465, "ssl")

"""Read config.yaml into typed, immutable settings, or refuse it with every problem listed.

``load_config(path)`` returns a frozen ``Config``. A bad file raises ``ConfigError``, whose
message names each problem by its key path (``departments[2].head``) and says what is expected,
in words for park staff: pydantic's errors are translated here, and the checks pydantic cannot
express (what each backend requires, keys that refer to other keys, duplicates) run beside them
so that one run reports everything.

Secrets never sit in the YAML: a section names an environment variable (``password_env``) or a
file (``password_file``), and ``password()`` reads it at the moment of use. Its value never
appears in a message or a repr.

Relative paths in the file are taken relative to the folder of the config file.

The modules, each with one job (import from ``daemon.config``, which re-exports them):

- ``errors``: ConfigError and the wording of refusals
- ``fields``: the shared field types and value checks, and the Section base class
- ``oauth2``, ``passwords``: how a login gets its secret (XOAUTH2 provider, or a password)
- ``park``, ``mail``, ``register``, ``departments``, ``procedure``, ``review``, ``health``: the
  settings of each section of config.yaml
- ``model``: Config, the whole file; ``checks``: the checks across keys and sections
- ``messages``: pydantic's errors in plain words; ``loader``: reading and checking the file
"""

from daemon.config.checks import (
    BACKEND_REQUIREMENTS,
    SECTION_MODELS,
    find_backend_problems,
    find_consistency_problems,
    find_reference_problems,
)
from daemon.config.departments import Category, Department, Priority
from daemon.config.errors import (
    CONSISTENCY_PROBLEMS,
    DEFAULT_CONFIG_NAME,
    VALUE_PROBLEM,
    ConfigError,
)
from daemon.config.fields import (
    ConfigPath,
    EnvVarName,
    HttpUrl,
    Key,
    Port,
    ReferencePrefix,
    Section,
    Security,
    Text,
    TimeZoneName,
    check_env_var_name,
    check_http_url,
    check_key,
    check_reference_prefix,
    check_time_zone,
    known_time_zones,
    resolve_config_path,
)
from daemon.config.health import HealthConfig
from daemon.config.loader import (
    STARTER_HINT,
    in_file_order,
    load_config,
    parse_config,
    read_config_text,
    read_yaml,
)
from daemon.config.mail import IMAP_PORTS, SMTP_PORTS, MailboxConfig, SmtpConfig
from daemon.config.messages import (
    TYPE_PHRASES,
    describe_error,
    describe_errors,
    describe_unknown_key,
    format_key_path,
)
from daemon.config.model import Config
from daemon.config.oauth2 import (
    OAUTH2_OPTIONAL,
    OAUTH2_PROVIDERS,
    OAUTH2_REQUIREMENTS,
    OAUTH2_SECRETS,
    OAuth2Config,
)
from daemon.config.park import ParkConfig
from daemon.config.passwords import PASSWORD_KEYS, PasswordSource
from daemon.config.procedure import (
    DEFAULT_ACK_LADDER,
    DEFAULT_RESOLVE_LADDER,
    SHEET_CELL_LIMIT,
    AftercareConfig,
    CommandsConfig,
    DispatchConfig,
    EscalationStep,
    IntakeConfig,
)
from daemon.config.register import RegisterConfig
from daemon.config.review import (
    DIGEST_ROLES,
    DIGEST_SCHEDULE_HELP,
    WEEKDAYS,
    DigestRecipient,
    DigestSchedule,
    DigestTime,
    ReviewConfig,
    check_digest_recipient,
    check_digest_schedule,
    parse_digest_schedule,
)

__all__ = [
    "BACKEND_REQUIREMENTS",
    "CONSISTENCY_PROBLEMS",
    "DEFAULT_ACK_LADDER",
    "DEFAULT_CONFIG_NAME",
    "DEFAULT_RESOLVE_LADDER",
    "DIGEST_ROLES",
    "DIGEST_SCHEDULE_HELP",
    "IMAP_PORTS",
    "OAUTH2_OPTIONAL",
    "OAUTH2_PROVIDERS",
    "OAUTH2_REQUIREMENTS",
    "OAUTH2_SECRETS",
    "PASSWORD_KEYS",
    "SECTION_MODELS",
    "SHEET_CELL_LIMIT",
    "SMTP_PORTS",
    "STARTER_HINT",
    "TYPE_PHRASES",
    "VALUE_PROBLEM",
    "WEEKDAYS",
    "AftercareConfig",
    "Category",
    "CommandsConfig",
    "Config",
    "ConfigError",
    "ConfigPath",
    "Department",
    "DigestRecipient",
    "DigestSchedule",
    "DigestTime",
    "DispatchConfig",
    "EnvVarName",
    "EscalationStep",
    "HealthConfig",
    "HttpUrl",
    "IntakeConfig",
    "Key",
    "MailboxConfig",
    "OAuth2Config",
    "ParkConfig",
    "PasswordSource",
    "Port",
    "Priority",
    "ReferencePrefix",
    "RegisterConfig",
    "ReviewConfig",
    "Section",
    "Security",
    "SmtpConfig",
    "Text",
    "TimeZoneName",
    "check_digest_recipient",
    "check_digest_schedule",
    "check_env_var_name",
    "check_http_url",
    "check_key",
    "check_reference_prefix",
    "check_time_zone",
    "describe_error",
    "describe_errors",
    "describe_unknown_key",
    "find_backend_problems",
    "find_consistency_problems",
    "find_reference_problems",
    "format_key_path",
    "in_file_order",
    "known_time_zones",
    "load_config",
    "parse_config",
    "parse_digest_schedule",
    "read_config_text",
    "read_yaml",
    "resolve_config_path",
]

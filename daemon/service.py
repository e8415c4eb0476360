"""`parkdesk service install`: run ParkDesk as a systemd service on Linux.

It writes two files and prints what is left to do by hand:

- the unit (``/etc/systemd/system/parkdesk.service``): ``parkdesk run --config <file>`` as a
  dedicated user, restarted on failure, with light hardening (no new privileges, the system
  read-only, the state folder writable);
- the environment file (``/etc/parkdesk/parkdesk.env``, mode 0600, root's): one line per secret
  variable the config names (``PARKDESK_IMAP_PASSWORD=`` ...), values left for the operator to
  fill. systemd reads it as root before starting ParkDesk. An existing file keeps its values;
  only missing variable names are added.

An existing unit is replaced only with ``--force``. Nothing here starts or enables anything.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from daemon.config import Config, ConfigError, load_config

DEFAULT_UNIT_DIR = Path("/etc/systemd/system")
DEFAULT_ENV_DIR = Path("/etc/parkdesk")
DEFAULT_USER = "parkdesk"
DEFAULT_NAME = "parkdesk"
RESTART_SECONDS = 30
STOP_TIMEOUT_SECONDS = 90  # SIGTERM: ParkDesk finishes the message in hand, then stops
USER_NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,30}\$?$")
UNIT_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,200}$")


class ServiceInstallError(Exception):
    """The service cannot be installed as asked; the message says what to do."""


@dataclass(frozen=True)
class ServicePlan:
    """What `service install` writes, worked out from the config and the options."""

    name: str
    user: str
    config_path: Path
    working_dir: Path
    executable: list[str]
    unit_path: Path
    env_path: Path
    secret_variables: list[str]
    writable_paths: list[Path]
    readable_files: list[Path]
    park_name: str


# --- what the config needs ----------------------------------------------------------------------

def secret_variables(config: Config) -> list[str]:
    """The environment variables the config names for its secrets, in config order."""
    names: list[str] = []
    for section, server in ((config.mailbox, "imap"), (config.smtp, "smtp")):
        if section.backend != server:
            continue
        names.append(getattr(section, "password_env", None) or "")
        oauth2 = getattr(section, "oauth2", None)
        if getattr(section, "auth", "password") == "oauth2" and oauth2 is not None:
            names += [getattr(oauth2, "client_secret_env", None) or "",
                      getattr(oauth2, "refresh_token_env", None) or ""]
    return list(dict.fromkeys(name for name in names if name))


def secret_files(config: Config) -> list[Path]:
    """Files holding secrets the service user must be able to read (keys, password files)."""
    files: list[Path | None] = []
    for section, server in ((config.mailbox, "imap"), (config.smtp, "smtp")):
        if section.backend != server:
            continue
        files.append(getattr(section, "password_file", None))
        oauth2 = getattr(section, "oauth2", None)
        if oauth2 is not None:
            files += [getattr(oauth2, name, None)
                      for name in ("key_file", "client_secret_file", "refresh_token_file")]
    if config.register.backend == "google":
        files.append(config.register.credentials_file)
    return list(dict.fromkeys(Path(f) for f in files if f))


def writable_paths(config: Config) -> list[Path]:
    """Where ParkDesk writes: its state folder, and the local backends' folders."""
    paths: list[Path | None] = [config.state_dir]
    if config.mailbox.backend == "maildir":
        paths.append(config.mailbox.path)
    if config.smtp.backend == "outbox":
        paths.append(config.smtp.path)
    if config.register.backend == "workbook" and config.register.path:
        paths.append(Path(config.register.path).parent)  # saved beside itself, then renamed
    return list(dict.fromkeys(Path(p).absolute() for p in paths if p))


def find_executable() -> list[str]:
    """The installed `parkdesk` command as an absolute path (the one running now if it is
    `parkdesk`), else ``python -m daemon`` with this interpreter."""
    running = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if running is not None and running.name.startswith("parkdesk") and running.is_file():
        return [str(running.absolute())]
    found = shutil.which("parkdesk")
    if found:
        return [str(Path(found).absolute())]
    return [str(Path(sys.executable).absolute()), "-m", "daemon"]


def plan_service(config_path: str | Path, *, user: str = DEFAULT_USER, name: str = DEFAULT_NAME,
                 unit_dir: str | Path | None = None, env_file: str | Path | None = None,
                 executable: list[str] | None = None) -> ServicePlan:
    """Read the config and work out the unit; ConfigError or ServiceInstallError if it cannot."""
    if not USER_NAME.match(user):
        raise ServiceInstallError(
            f"{user!r} is not a usable user name: use lower-case letters, digits, - and _, "
            f"starting with a letter (e.g. {DEFAULT_USER}).")
    if not UNIT_NAME.match(name):
        raise ServiceInstallError(f"{name!r} is not a usable service name: use letters, digits, "
                                  f"- and _ (e.g. {DEFAULT_NAME}).")
    path = Path(config_path).expanduser().absolute()
    config = load_config(path)
    unit_dir = Path(unit_dir).absolute() if unit_dir else DEFAULT_UNIT_DIR
    env_path = Path(env_file).absolute() if env_file else DEFAULT_ENV_DIR / f"{name}.env"
    return ServicePlan(
        name=name, user=user, config_path=path, working_dir=path.parent,
        executable=executable or find_executable(), unit_path=unit_dir / f"{name}.service",
        env_path=env_path, secret_variables=secret_variables(config),
        writable_paths=writable_paths(config), readable_files=secret_files(config),
        park_name=config.park.name)


# --- the unit file ------------------------------------------------------------------------------

def escape_specifiers(text: str) -> str:
    """systemd expands ``%x`` in most settings; a literal ``%`` is written ``%%``."""
    return text.replace("%", "%%")


def quote_word(word: str, *, command: bool = False) -> str:
    """One command-line word or path as systemd reads it: quoted if it has spaces or quotes
    (``command``: an ExecStart word, where ``$`` is written ``$$``).

    >>> quote_word("/opt/park desk/config.yaml")
    '"/opt/park desk/config.yaml"'
    """
    word = escape_specifiers(word)
    if command:
        word = word.replace("$", "$$")
    if word and not re.search(r'[\s"\'\\;]', word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def uses_tmp(plan: ServicePlan) -> bool:
    """True if the config or a folder ParkDesk writes is under /tmp or /var/tmp."""
    temporary = (Path("/tmp"), Path("/var/tmp"))
    return any(path in temporary or any(t in path.parents for t in temporary)
               for path in (plan.working_dir, *plan.writable_paths))


def render_unit(plan: ServicePlan) -> str:
    """The text of the unit file."""
    command = [*plan.executable, "run", "--config", str(plan.config_path)]
    description = " ".join(f"ParkDesk complaint desk ({plan.park_name})".split())
    writable = " ".join(quote_word(f"-{path}") for path in plan.writable_paths)  # -: may be missing
    return "\n".join([
        "# Written by `parkdesk service install`; run it again with --force to replace this file.",
        "# Secrets are not here: they are in the EnvironmentFile (readable by root only).",
        "[Unit]",
        f"Description={escape_specifiers(description)}",
        "Wants=network-online.target",
        "After=network-online.target",
        "",
        "[Service]",
        "Type=simple",
        f"User={plan.user}",
        f"WorkingDirectory={escape_specifiers(str(plan.working_dir))}",  # a path, never quoted
        f"EnvironmentFile={escape_specifiers(str(plan.env_path))}",
        f"ExecStart={' '.join(quote_word(word, command=True) for word in command)}",
        "Restart=on-failure",
        f"RestartSec={RESTART_SECONDS}",
        f"TimeoutStopSec={STOP_TIMEOUT_SECONDS}",
        "NoNewPrivileges=yes",
        *(["PrivateTmp=yes"] if not uses_tmp(plan) else []),  # its own /tmp hides files there
        "ProtectSystem=full",
        f"ReadWritePaths={writable}",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ])


def render_env_file(name: str, variables: list[str], *, header: bool = True) -> str:
    """``NAME=`` lines for ``variables`` (values for the operator to fill), after a header."""
    lines = []
    if header:
        lines += [f"# Secrets for {name}.service: write each one after its = sign, e.g.",
                  "#   PARKDESK_IMAP_PASSWORD=the-mailbox-password",
                  "# Keep this file readable by root only (chmod 600); systemd reads it as root."]
    lines += [f"{variable}=" for variable in variables]
    return "\n".join(lines) + ("\n" if lines else "")


def variables_in(text: str) -> set[str]:
    return {line.split("=", 1)[0].strip().removeprefix("export ").strip()
            for line in text.splitlines()
            if "=" in line and not line.lstrip().startswith("#")}


# --- writing ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class InstallResult:
    plan: ServicePlan
    env_created: bool
    env_added: list[str]


def write_env_file(plan: ServicePlan) -> tuple[bool, list[str]]:
    """Create the env file 0600, or add the missing variable names to an existing one (its
    values are kept) and make it 0600. Returns (created, variables added)."""
    path = plan.env_path
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        os.chmod(path, 0o600)
        text = path.read_text(encoding="utf-8")
        added = [v for v in plan.secret_variables if v not in variables_in(text)]
        if added:
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(("" if text.endswith("\n") or not text else "\n")
                             + render_env_file(plan.name, added, header=not text.strip()))
        return False, added
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(render_env_file(plan.name, plan.secret_variables))
    os.chmod(path, 0o600)  # whatever the umask was
    return True, list(plan.secret_variables)


def install_service(plan: ServicePlan, *, force: bool = False) -> InstallResult:
    """Write the unit and the env file; ServiceInstallError if the unit exists (no ``force``)
    or a file cannot be written."""
    unit = plan.unit_path
    if unit.exists() and not force:
        raise ServiceInstallError(f"{unit} already exists: add --force to replace it.")
    if not unit.parent.is_dir():
        raise ServiceInstallError(f"The folder {unit.parent} does not exist: is systemd "
                                  f"installed? Choose another folder with --unit-dir.")
    try:
        env_created, env_added = write_env_file(plan)
        temporary = unit.with_name(unit.name + ".new")
        temporary.write_text(render_unit(plan), encoding="utf-8")
        os.chmod(temporary, 0o644)
        os.replace(temporary, unit)
    except PermissionError as exc:
        raise ServiceInstallError(
            f"Cannot write {exc.filename}: permission denied. Run it as root (sudo parkdesk "
            f"service install ...), or write elsewhere with --unit-dir and --env-file.") from None
    except OSError as exc:
        raise ServiceInstallError(f"Cannot write {exc.filename}: {exc.strerror}.") from None
    return InstallResult(plan, env_created, env_added)


def sh(path: Path) -> str:
    """A path as one shell word, for the commands printed."""
    return shlex.quote(str(path))


def next_steps(result: InstallResult) -> str:
    """What the operator does next, in order, as plain commands."""
    plan = result.plan
    lines = [f"Wrote {plan.unit_path}"]
    names = ", ".join(plan.secret_variables) or "no variables (the config names no secrets)"
    if result.env_created:
        lines.append(f"Wrote {plan.env_path} (readable by root only), listing {names}.")
    elif result.env_added:
        lines.append(f"Added {', '.join(result.env_added)} to {plan.env_path}; its other lines "
                     f"are unchanged.")
    else:
        lines.append(f"Kept {plan.env_path} as it was (it lists {names}).")
    lines += ["", "Next steps (as root):"]
    step = 0

    def add(text: str, *commands: str) -> None:
        nonlocal step
        step += 1
        lines.append(f"  {step}. {text}")
        lines.extend(f"       {command}" for command in commands)

    if plan.unit_path.parent != DEFAULT_UNIT_DIR:
        add(f"Copy the unit to {DEFAULT_UNIT_DIR}:",
            f"cp {sh(plan.unit_path)} {sh(DEFAULT_UNIT_DIR / plan.unit_path.name)}")
    if plan.working_dir == Path("/root") or Path("/root") in plan.working_dir.parents:
        add(f"Move the config out of /root: {plan.user} cannot enter it. Put the folder in "
            f"/srv or /opt (e.g. /srv/parkdesk), then run this command again from there.")
    add(f"Create the user ParkDesk runs as (once; skip it if {plan.user} exists):",
        f"useradd --system --no-create-home --shell /usr/sbin/nologin {plan.user}")
    add("Let that user write ParkDesk's folders:",
        *[f"mkdir -p {sh(path)} && chown -R {plan.user}: {sh(path)}" for path in plan.writable_paths])
    readable = [plan.config_path, *plan.readable_files]
    add("Let it read the config and the key files (and nobody else read the keys):",
        *[f"chown root:{plan.user} {sh(path)} && chmod 640 {sh(path)}" for path in readable])
    if plan.secret_variables:
        add(f"Write the secrets after the = signs in {plan.env_path}:", f"nano {sh(plan.env_path)}")
    add("Start ParkDesk now and at every boot:",
        f"systemctl daemon-reload && systemctl enable --now {plan.name}")
    add("Watch it work (Ctrl+C stops watching, not ParkDesk):",
        f"systemctl status {plan.name}", f"journalctl -u {plan.name} -f")
    return "\n".join(lines) + "\n"


# --- the command --------------------------------------------------------------------------------

def add_service_command(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "service", help="run ParkDesk as a service (systemd)",
        description="Set ParkDesk up to run by itself. `service install` writes a systemd "
                    "unit and an environment file for the secrets, and prints the remaining "
                    "steps.")
    actions = parser.add_subparsers(dest="service_action", metavar="ACTION", required=True)
    install = actions.add_parser(
        "install", help="write the systemd unit and the secrets file",
        description="Write a systemd unit that runs `parkdesk run --config FILE` as a dedicated "
                    "user, restarted on failure, and an environment file (mode 0600) listing "
                    "the secret variables the config names, for you to fill in. Nothing is "
                    "started: the command prints the steps to take.")
    install.add_argument("--config", "-c", metavar="FILE", default="config.yaml",
                         help="the configuration file (default: config.yaml)")
    install.add_argument("--user", default=DEFAULT_USER,
                         help=f"the user ParkDesk runs as (default: {DEFAULT_USER})")
    install.add_argument("--name", default=DEFAULT_NAME,
                         help=f"the service name (default: {DEFAULT_NAME}; another one for a "
                              f"second park on the same machine)")
    install.add_argument("--unit-dir", metavar="DIR",
                         help=f"where to write the unit (default: {DEFAULT_UNIT_DIR})")
    install.add_argument("--env-file", metavar="FILE",
                         help=f"the secrets file (default: {DEFAULT_ENV_DIR}/NAME.env)")
    install.add_argument("--force", action="store_true", help="replace an existing unit")
    install.set_defaults(handler=run_service_install)


def run_service_install(args: argparse.Namespace) -> int:
    try:
        plan = plan_service(args.config, user=args.user, name=args.name,
                            unit_dir=args.unit_dir, env_file=args.env_file)
        result = install_service(plan, force=args.force)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    except ServiceInstallError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(next_steps(result), end="")
    return 0

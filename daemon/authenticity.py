"""Is a reply really from the person we wrote to? Message-ID tokens and Authentication-Results.

Peers trust the From header alone, which anyone can write. ParkDesk asks two more questions
before it honours a command mailed in by a department member:

1. Does the reply refer (In-Reply-To / References) to a message ParkDesk sent *to that very
   address*? Each message we send gets a Message-ID of its own that carries an HMAC tag over
   the recipient's address, so an id cannot be guessed, and one copied from a message sent to
   somebody else does not count for a different sender::

       <pd.C-250514-007.slip.k3j5mxq2a7rt4bde.<40 base32 chars>@park.example.com>
           ^  reference    ^purpose ^nonce    ^seal (16) + recipient tag (24)

   One recipient per Message-ID: a message for several people is sent as one copy each, each
   with its own id (the caller does that), so a tag never stands for a group.

2. Did the receiving server record that the From domain failed authentication? The
   ``Authentication-Results`` header (RFC 8601) is read; a DMARC fail for the From domain, or
   (without a DMARC result) SPF failing while no DKIM signature for that domain passes, refuses
   the command. No header, or nothing about that domain, is ``none``: the token then decides.

The key lives in ``state_dir/message-id.key`` (32 random bytes, mode 0600). It is never logged;
``repr(secret)`` hides it. Losing the key only means that replies to messages sent before the
loss no longer count as commands (they are kept as notes).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import re
import secrets
import stat
import time
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path
from typing import Iterable, Literal, Sequence

log = logging.getLogger("parkdesk.authenticity")

KEY_FILE_NAME = "message-id.key"
KEY_BYTES = 32

_NONCE_BYTES = 10  # 16 base32 characters
_SEAL_BYTES = 10  # 16 base32 characters: "this id was made by us, unchanged"
_TAG_BYTES = 15  # 24 base32 characters: "... and sent to this address"
_NONCE_CHARS = _NONCE_BYTES * 8 // 5
_SEAL_CHARS = _SEAL_BYTES * 8 // 5
_TAG_CHARS = _TAG_BYTES * 8 // 5

_FIELD = r"[A-Za-z0-9_-]{1,64}"
_FIELD_RE = re.compile(_FIELD)
_DOMAIN_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
_OUR_ID = re.compile(
    rf"pd\.(?P<reference>{_FIELD})\.(?P<purpose>{_FIELD})"
    rf"\.(?P<nonce>[a-z2-7]{{{_NONCE_CHARS}}})\.(?P<mac>[a-z2-7]{{{_SEAL_CHARS + _TAG_CHARS}}})"
    rf"@(?P<domain>[^@<>\s]+)",
    re.IGNORECASE,
)
_BRACKETED_ID = re.compile(r"<([^<>]*)>")


class SecretFileError(Exception):
    """The Message-ID key file exists but cannot be used; the message names the file and the fix."""


class Secret:
    """The HMAC key behind our Message-IDs. Its value never shows in repr, str or logs."""

    __slots__ = ("_key", "_seal_key", "_tag_key")

    def __init__(self, key: bytes):
        if not isinstance(key, (bytes, bytearray)) or len(key) < KEY_BYTES:
            raise ValueError(f"a Message-ID secret needs at least {KEY_BYTES} random bytes")
        self._key = bytes(key)
        # Separate keys for the two tags, so one can never stand in for the other.
        self._seal_key = hmac.new(self._key, b"parkdesk message-id seal v1", hashlib.sha256).digest()
        self._tag_key = hmac.new(self._key, b"parkdesk message-id recipient v1", hashlib.sha256).digest()

    def __repr__(self) -> str:
        return "Secret(<hidden>)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._key, other._key)

    __hash__ = None  # type: ignore[assignment]

    def _seal(self, reference: str, purpose: str, nonce: str) -> str:
        return _mac(self._seal_key, (reference.lower(), purpose.lower(), nonce), _SEAL_BYTES)

    def _recipient_tag(self, recipient: str, reference: str, purpose: str, nonce: str) -> str:
        fields = (recipient, reference.lower(), purpose.lower(), nonce)
        return _mac(self._tag_key, fields, _TAG_BYTES)


# --- the key file -------------------------------------------------------------------------


def load_or_create_secret(state_dir: Path) -> Secret:
    """The key in ``state_dir/message-id.key``, created (32 random bytes, mode 0600) on first use.

    Creation is atomic: the key is written to a private temporary file and hard-linked into
    place, which fails if the file already exists; so when two processes race, the loser reads
    the winner's key and both end with the same one.
    """
    path = Path(state_dir) / KEY_FILE_NAME
    key = _read_key(path)
    if key is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = _create_key(path)
    return Secret(key)


def _read_key(path: Path) -> bytes | None:
    for attempt in range(6):
        try:
            with open(path, "rb") as handle:
                _tighten_permissions(path, handle.fileno())
                key = handle.read(KEY_BYTES + 1)
        except FileNotFoundError:
            return None
        if len(key) == KEY_BYTES:
            return key
        if len(key) < KEY_BYTES and attempt < 5:
            # Only on file systems without hard links can another process still be writing it.
            time.sleep(0.02)
            continue
        break
    raise SecretFileError(
        f"{path} holds {len(key)} bytes, not a {KEY_BYTES}-byte Message-ID key. Restore it from "
        f"a backup, or delete it to make a new key (replies to mail sent before then will be "
        f"kept as notes instead of counting as commands)."
    )


def _tighten_permissions(path: Path, fd: int) -> None:
    if os.name != "posix":  # pragma: no cover - Windows has no mode bits to fix
        return
    mode = stat.S_IMODE(os.fstat(fd).st_mode)
    if mode & 0o077:
        try:
            os.fchmod(fd, 0o600)
            log.warning("%s was readable by others (mode %o); set it to 0600", path, mode)
        except PermissionError:
            log.warning("%s is readable by others (mode %o); make it 0600 (chmod 600)", path, mode)


def _create_key(path: Path) -> bytes:
    key = os.urandom(KEY_BYTES)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
    try:
        _write_new_file(temporary, key)
        try:
            os.link(temporary, path)
        except FileExistsError:
            return _read_existing_key(path)
        except OSError:
            # A file system without hard links: exclusive create in place instead.
            try:
                _write_new_file(path, key)
            except FileExistsError:
                return _read_existing_key(path)
    finally:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
    _sync_directory(path.parent)
    log.info("created a new Message-ID key in %s", path)
    return key


def _read_existing_key(path: Path) -> bytes:
    key = _read_key(path)
    if key is None:  # created and deleted again in between: not something to paper over
        raise SecretFileError(f"{path} vanished while it was being created; start ParkDesk again.")
    return key


def _write_new_file(path: Path, content: bytes) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, 0o600)
    try:
        view = memoryview(content)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_directory(directory: Path) -> None:
    if os.name != "posix":  # pragma: no cover
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- Message-ID tokens --------------------------------------------------------------------


@dataclass(frozen=True)
class TokenInfo:
    """What one of our Message-IDs says. ``reference``/``purpose`` are as they appear in the id
    (a relay that lowercased the id gives them back lowercased: compare case-insensitively)."""

    reference: str
    purpose: str
    nonce: str
    recipient_tag: str = field(repr=False)
    message_id: str

    def issued_to(self, secret: Secret, sender: str) -> bool:
        """True if this id was made for ``sender`` (``"Li Lei <Li.Lei@X.cn>"`` or a bare address;
        case does not matter). Constant-time comparison."""
        address = normalize_address(sender)
        if not address:
            return False
        expected = secret._recipient_tag(address, self.reference, self.purpose, self.nonce)
        return hmac.compare_digest(expected, self.recipient_tag)


def normalize_address(address: str) -> str:
    """``"Li Lei <Li.Lei@Example.CN>"`` -> ``"li.lei@example.cn"``; ``""`` if there is no address.

    The whole address is lowercased: local parts are case-sensitive by RFC 5321, but no mail
    service parks use treats them so, and replies often come back with different case.
    """
    address = (address or "").strip()
    if "<" in address:
        address = parseaddr(address)[1]
    address = address.strip().strip("<>").strip().lower()
    if "@" not in address or any(ch.isspace() for ch in address):
        return ""
    return address


def make_message_id(secret: Secret, *, recipient: str, reference: str, purpose: str, domain: str) -> str:
    """A fresh Message-ID for one message to one recipient, e.g.
    ``make_message_id(s, recipient="wang@dept.cn", reference="C-250514-007", purpose="slip",
    domain="park.example.com")`` -> ``"<pd.C-250514-007.slip.<nonce>.<mac>@park.example.com>"``.

    ``reference`` and ``purpose``: letters, digits, ``-`` and ``_`` (1-64 characters), readable in
    logs. A message for several people needs one copy, and one call, per recipient.
    """
    address = normalize_address(recipient)
    if not address:
        raise ValueError(f"not an email address: {recipient!r}")
    for name, value in (("reference", reference), ("purpose", purpose)):
        if not _FIELD_RE.fullmatch(value or ""):
            raise ValueError(f"{name} must be 1-64 letters, digits, '-' or '_': {value!r}")
    if not _DOMAIN_RE.fullmatch(domain or ""):
        raise ValueError(f"not a domain for a Message-ID: {domain!r}")
    nonce = _base32(secrets.token_bytes(_NONCE_BYTES))
    seal = secret._seal(reference, purpose, nonce)
    tag = secret._recipient_tag(address, reference, purpose, nonce)
    return f"<pd.{reference}.{purpose}.{nonce}.{seal}{tag}@{domain}>"


def read_message_id(secret: Secret, message_id: str) -> TokenInfo | None:
    """The token in one of our Message-IDs (``<...>`` optional, case-insensitive), or None for
    anybody else's id (``<CAF=abc@mail.gmail.com>``), a malformed one, or one whose reference,
    purpose or nonce was changed."""
    text = (message_id or "").strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    match = _OUR_ID.fullmatch(text)
    if not match:
        return None
    reference, purpose = match["reference"], match["purpose"]
    nonce, mac = match["nonce"].lower(), match["mac"].lower()
    seal, tag = mac[:_SEAL_CHARS], mac[_SEAL_CHARS:]
    if not hmac.compare_digest(secret._seal(reference, purpose, nonce), seal):
        return None
    return TokenInfo(reference=reference, purpose=purpose, nonce=nonce, recipient_tag=tag,
                     message_id=f"<{text}>")


def split_message_ids(header_value: str) -> list[str]:
    """The ids in an In-Reply-To or References value: ``"<a@x> <b@y>"`` -> ``["<a@x>", "<b@y>"]``.
    Values without angle brackets (some clients) are split on white space."""
    value = header_value or ""
    found = [f"<{inner.strip()}>" for inner in _BRACKETED_ID.findall(value) if inner.strip()]
    if found:
        return found
    return [f"<{word}>" for word in value.split() if "@" in word]


def find_token(secret: Secret, message_ids: Iterable[str], sender: str) -> TokenInfo | None:
    """The first of our ids among ``message_ids`` (In-Reply-To, then References values; each may
    hold several ids) that was issued to ``sender``; None if there is none."""
    for value in message_ids:
        for message_id in split_message_ids(value):
            info = read_message_id(secret, message_id)
            if info is not None and info.issued_to(secret, sender):
                return info
    return None


def _mac(key: bytes, fields: Sequence[str], size: int) -> str:
    message = b"".join(len(part).to_bytes(4, "big") + part for part in (f.encode("utf-8") for f in fields))
    return _base32(hmac.new(key, message, hashlib.sha256).digest()[:size])


def _base32(raw: bytes) -> str:
    # Sizes are multiples of 5 bytes, so there is never any "=" padding.
    return base64.b32encode(raw).decode("ascii").lower()


# --- Authentication-Results (RFC 8601) ----------------------------------------------------

_KNOWN_METHODS = frozenset({
    "auth", "arc", "bimi", "compauth", "dara", "dkim", "dkim-adsp", "dkim-atps", "dmarc",
    "domainkeys", "iprev", "rrvs", "sender-id", "smime", "spf", "vbr",
})
_SPF_FAILING = frozenset({"fail", "softfail"})
_DMARC_PASSING = frozenset({"pass", "bestguesspass"})  # bestguesspass: Microsoft, no DMARC record


@dataclass(frozen=True)
class MethodResult:
    """One ``method=result`` with its properties: ``dkim=pass header.d=example.com`` ->
    ``MethodResult("dkim", "pass", {"header.d": "example.com"})``. Keys and results lowercased."""

    method: str
    result: str
    properties: dict[str, str] = field(default_factory=dict)
    reason: str = ""


@dataclass(frozen=True)
class AuthenticationResults:
    """One Authentication-Results header. ``authserv_id`` is ``""`` when the server left it out
    (Exchange Online does: ``Authentication-Results: spf=pass ...``)."""

    authserv_id: str
    results: tuple[MethodResult, ...]


@dataclass(frozen=True)
class Verdict:
    """``pass``: the From domain authenticated; ``fail``: the receiving server says it did not
    (refuse the command); ``none``: nothing known about it (rely on the Message-ID token)."""

    kind: Literal["pass", "fail", "none"]
    reason: str


def parse_authentication_results(value: str) -> AuthenticationResults:
    """Parse one header value (folded or not; a leading ``Authentication-Results:`` is allowed).

    Comments ``( ... )`` (nested) are dropped, quoted strings are unquoted, and malformed parts
    are skipped rather than rejected: RFC 8601 section 2.2, read leniently (section 5 asks
    readers to ignore what they cannot parse).
    """
    text = re.sub(r"^\s*authentication-results\s*:", "", value or "", flags=re.IGNORECASE)
    segments = _split_segments(_tokenize(re.sub(r"[\r\n]+", " ", text)))
    authserv_id = ""
    if segments and not any(kind == "=" for kind, _ in segments[0]):
        words = [word for kind, word in segments.pop(0) if kind == "word"]
        authserv_id = words[0].lower() if words else ""
    results: list[MethodResult] = []
    for segment in segments:
        results.extend(_parse_resinfo(segment))
    return AuthenticationResults(authserv_id=authserv_id, results=tuple(results))


def authentication_verdict(headers: Sequence[str], from_domain: str,
                           trusted_authserv_ids: Sequence[str] | None = None) -> Verdict:
    """What the receiving servers' Authentication-Results say about ``from_domain``.

    ``headers``: the values of every Authentication-Results header of the message. With
    ``trusted_authserv_ids`` (``["mx.google.com"]``) only headers stamped by those servers count:
    any other can have been written by the sender. Headers without an authserv-id (Exchange
    Online) then do not count; leave the list unset for such a mailbox. Trusting a server
    assumes it deletes incoming headers that claim its authserv-id, as RFC 8601 section 5
    asks of it.

    Results are judged per authserv-id and a failure anywhere wins, so a forged header that
    claims ``dmarc=pass`` cannot hide a real server's failure. Per server:

    - ``fail``: ``dmarc=fail`` for ``header.from`` = ``from_domain``; or, without a DMARC pass or
      fail, SPF ``fail``/``softfail`` for an aligned domain and no aligned DKIM pass.
    - ``pass``: ``dmarc=pass``, or an aligned DKIM or SPF pass.
    - ``none``: nothing decisive about ``from_domain``.

    Aligned means the same domain or one a subdomain of the other (relaxed alignment without
    the public-suffix list).
    """
    domain = normalize_domain(from_domain)
    trusted = None if trusted_authserv_ids is None else {a.strip().lower() for a in trusted_authserv_ids}
    groups: dict[str, list[MethodResult]] = {}
    ignored = 0
    for value in headers or ():
        parsed = parse_authentication_results(value)
        if trusted is not None and (not parsed.authserv_id or parsed.authserv_id not in trusted):
            ignored += 1
            continue
        groups.setdefault(parsed.authserv_id, []).extend(parsed.results)
    if not groups:
        if ignored:
            return Verdict("none", f"{ignored} Authentication-Results header(s), none from a trusted server")
        return Verdict("none", "no Authentication-Results header")
    if not domain:
        return Verdict("none", "no From domain to check")
    verdicts = [_judge_server(authserv_id or "(no authserv-id)", results, domain)
                for authserv_id, results in groups.items()]
    for kind in ("fail", "pass"):
        for verdict in verdicts:
            if verdict.kind == kind:
                return verdict
    return Verdict("none", f"no authentication result about {domain}")


def normalize_domain(value: str) -> str:
    """``"User@Example.COM."`` or ``"<@example.com>"`` -> ``"example.com"``; ``""`` if none."""
    text = (value or "").strip().strip("<>").strip()
    domain = text.rpartition("@")[2].strip().rstrip(".").lower()
    if domain == "none" or not domain:
        return ""
    try:
        return domain.encode("idna").decode("ascii") if not domain.isascii() else domain
    except UnicodeError:
        return domain


def _judge_server(authserv_id: str, results: list[MethodResult], domain: str) -> Verdict:
    dmarc = [r.result for r in results if r.method == "dmarc" and _dmarc_is_about(r, domain)]
    dkim = [r.result for r in results if r.method == "dkim" and _aligned(_dkim_domain(r), domain)]
    spf = [r.result for r in results if r.method == "spf" and _aligned(_spf_domain(r), domain)]
    where = f"{authserv_id}:"
    if "fail" in dmarc:
        return Verdict("fail", f"{where} dmarc=fail for {domain}")
    if any(result in _DMARC_PASSING for result in dmarc):
        return Verdict("pass", f"{where} dmarc=pass for {domain}")
    if "pass" in dkim:
        return Verdict("pass", f"{where} dkim=pass for {domain}")
    failing_spf = [result for result in spf if result in _SPF_FAILING]
    if failing_spf:
        dkim_said = f"dkim={'/'.join(sorted(set(dkim)))}" if dkim else "no dkim"
        return Verdict("fail", f"{where} spf={failing_spf[0]} and {dkim_said} for {domain}")
    if "pass" in spf:
        return Verdict("pass", f"{where} spf=pass for {domain}")
    return Verdict("none", f"{where} nothing decisive about {domain}")


def _dmarc_is_about(result: MethodResult, domain: str) -> bool:
    # A DMARC result without header.from is about this message's From: there is only one.
    header_from = result.properties.get("header.from")
    return header_from is None or normalize_domain(header_from) == domain


def _dkim_domain(result: MethodResult) -> str:
    return normalize_domain(result.properties.get("header.d") or result.properties.get("header.i") or "")


def _spf_domain(result: MethodResult) -> str:
    return normalize_domain(result.properties.get("smtp.mailfrom") or result.properties.get("smtp.helo") or "")


def _aligned(candidate: str, domain: str) -> bool:
    if not candidate or not domain:
        return False
    if candidate == domain:
        return True
    shorter, longer = sorted((candidate, domain), key=len)
    return "." in shorter and longer.endswith("." + shorter)


def _tokenize(text: str) -> list[tuple[str, str]]:
    """Tokens ``("word", text)``, ``("=", "=")``, ``(";", ";")``; comments and spaces removed."""
    tokens: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch == "(":
            i = _skip_comment(text, i)
        elif ch == '"':
            word, i = _read_quoted(text, i)
            if i < n and text[i] == "@":  # a quoted local part: "wang wei"@dept.example.cn
                rest, i = _read_word(text, i)
                word += rest
            tokens.append(("word", word))
        elif ch in ";=":
            tokens.append((ch, ch))
            i += 1
        else:
            word, i = _read_word(text, i)
            tokens.append(("word", word))
    return tokens


def _read_word(text: str, i: int) -> tuple[str, int]:
    start = i
    while i < len(text) and not text[i].isspace() and text[i] not in '();="':
        i += 1
    return text[start:i], i


def _skip_comment(text: str, i: int) -> int:
    depth = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return i


def _read_quoted(text: str, i: int) -> tuple[str, int]:
    out: list[str] = []
    i += 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        if ch == '"':
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    return "".join(out), i


def _split_segments(tokens: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    segments: list[list[tuple[str, str]]] = [[]]
    for token in tokens:
        if token[0] == ";":
            segments.append([])
        else:
            segments[-1].append(token)
    return [segment for segment in segments if segment]


def _parse_resinfo(segment: list[tuple[str, str]]) -> list[MethodResult]:
    """``dkim=pass header.d=a.cn header.s=s1`` -> one result. A known method name later in the
    same segment (a missing ``;``) starts another one; stray words and ``=`` are skipped."""
    pairs: list[tuple[str, str]] = []
    i = 0
    while i < len(segment):
        kind, word = segment[i]
        if kind == "word" and i + 1 < len(segment) and segment[i + 1][0] == "=":
            has_value = (i + 2 < len(segment) and segment[i + 2][0] == "word"
                         and not (i + 3 < len(segment) and segment[i + 3][0] == "="))
            # An empty value ("smtp.mailfrom=" as QQ writes it, or "header.d= dmarc=fail"
            # where the next word is the next key) is kept as "".
            pairs.append((word.lower(), segment[i + 2][1] if has_value else ""))
            i += 3 if has_value else 2
        else:
            i += 1
    results: list[MethodResult] = []
    for key, value in pairs:
        method = key.partition("/")[0].strip()  # "dkim/1" is dkim, version 1
        if not results or method in _KNOWN_METHODS:
            results.append(MethodResult(method, value.lower()))
        elif key == "reason":
            results[-1] = MethodResult(results[-1].method, results[-1].result, results[-1].properties, value)
        else:
            results[-1].properties.setdefault(key, value)
    return [result for result in results if result.result]

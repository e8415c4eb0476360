"""Turn bytes and header text into str whatever charset label (or none) the sender's client wrote.

Chinese mail is routinely mislabelled: ``gb2312`` parts hold GBK or GB18030 characters, Big5
parts hold HKSCS characters, raw 8-bit GBK appears in headers without any label, and some
clients write ``x-unknown`` or ``gb_2312-80``. :func:`decode_bytes` never raises; it tries, in
order:

1. the label mapped to the superset real mail needs (gb2312/gbk -> gb18030, big5 ->
   big5hkscs, iso-8859-1 -> windows-1252, iso-2022-jp -> iso2022_jp_2 ...),
   strictly, unless the bytes are clearly something else (valid UTF-8 or clearly Chinese
   text under a Western label; GBK under a Big5 label and the reverse);
2. the label's own codec, strictly (windows-1252 failing falls back to iso-8859-1);
3. UTF-8, strictly;
4. GB18030 or Big5, whichever yields mostly common characters (GB2312 / Big5 level 1). This
   runs before generic detection because charset-normalizer guesses short GBK text as cp949
   or big5hkscs (measured: "关于停车位的投诉" in GBK came back as cp949);
5. charset-normalizer's best guess (inputs of 64 bytes or more), else windows-1252;
6. the label (or GB18030) with replacement characters.

:func:`decode_header` decodes a header value: RFC 2047 encoded words (adjacent words in one
charset joined before decoding, so a character split across two words survives) and raw 8-bit
bytes, which the stdlib parser hands over as surrogate escapes.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import quopri
import re
from dataclasses import dataclass
from itertools import islice

from charset_normalizer import from_bytes

# Labels seen in real mail mapped to the codec that decodes what they actually contain.
_ALIASES: dict[str, str] = {
    **dict.fromkeys(
        ("gb2312", "gb_2312-80", "gb_2312", "gb-2312", "gb2312-80", "csgb2312", "euc-cn", "euccn",
         "x-euc-cn", "gbk", "x-gbk", "cp936", "ms936", "windows-936", "chinese", "iso-ir-58",
         "gb18030", "gb-18030", "x-mac-chinesesimp", "cn-gb", "x-cp20936"),
        "gb18030"),
    **dict.fromkeys(
        ("big5", "big-5", "big5-hkscs", "big5hkscs", "cn-big5", "x-x-big5", "csbig5", "cp950",
         "ms950", "x-big5", "x-mac-chinesetrad", "windows-950"),
        "big5hkscs"),
    **dict.fromkeys(("utf8", "utf-8", "unicode-1-1-utf-8", "x-unicode20utf8", "utf_8"), "utf-8"),
    **dict.fromkeys(("ks_c_5601-1987", "ks_c_5601", "euc-kr", "windows-949", "cp949", "ksc5601"),
                    "cp949"),
    **dict.fromkeys(("shift_jis", "shift-jis", "sjis", "x-sjis", "windows-31j", "cp932", "ms_kanji"),
                    "cp932"),
    **dict.fromkeys(("iso-8859-1", "iso8859-1", "latin1", "latin-1", "windows-1252", "cp1252",
                     "iso_8859-1", "l1"), "cp1252"),
    # 8-bit bytes under an ASCII label say nothing about their charset: guess as if unlabelled.
    **dict.fromkeys(("us-ascii", "ascii", "ansi_x3.4-1968", "us", "iso646-us"), "ascii"),
    **dict.fromkeys(("tis-620", "windows-874", "iso-8859-11"), "cp874"),
    "iso-8859-8-i": "iso-8859-8",
    "iso-2022-jp": "iso2022_jp_2",
    "hz-gb-2312": "hz",
}

# Labels that name no charset at all: decode as if unlabelled.
_NO_CHARSET = frozenset(("", "x-unknown", "unknown", "unknown-8bit", "none", "default",
                         "x-user-defined", "charset", "8bit", "binary"))

# Codecs that exist in Python but are not text charsets a mail part could use.
_NOT_MAIL_CODECS = frozenset(("undefined", "unicode-escape", "raw-unicode-escape", "idna",
                              "punycode", "mbcs", "oem", "unicode-internal"))

# What the label's own codec is when the superset fails (a gb18030 failure will not pass as
# gbk either, but windows-1252 failing on 0x81 must still fall back to iso-8859-1).
_SUBSETS: dict[str, tuple[str, ...]] = {
    "cp1252": ("latin-1",),
    "iso2022_jp_2": ("iso2022_jp_ext", "iso2022_jp"),
    "cp932": ("shift_jis",),
}

_SINGLE_BYTE_WESTERN = frozenset(("cp1252", "latin-1"))


@dataclass(frozen=True)
class Decoded:
    """Decoded text, the codec that produced it, and a note when it was not simply the label."""

    text: str
    charset: str
    note: str = ""


def normalise_charset(label: str | None) -> str | None:
    """Map a MIME charset label to a Python codec name, or None if it names nothing usable.

    >>> normalise_charset('GB2312'), normalise_charset('"Big5"'), normalise_charset('x-unknown')
    ('gb18030', 'big5hkscs', None)
    """
    if label is None:
        return None
    name = label.strip().strip("\"'").strip().lower()
    name = name.split("*", 1)[0]  # RFC 2231 language suffix: utf-8*zh
    if name in _NO_CHARSET:
        return None
    if name in _ALIASES:
        return _ALIASES[name]
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError, TypeError):
        return None
    # base64, rot13, zlib ... are codecs too, but not text encodings (CPython marks them).
    if info.name in _NOT_MAIL_CODECS or not getattr(info, "_is_text_encoding", True):
        return None
    return _ALIASES.get(info.name, info.name)


def decode_bytes(data: bytes, label: str | None = None) -> Decoded:
    """Decode bytes labelled ``label`` (possibly wrong, unknown or missing); never raises.

    >>> decode_bytes('镕'.encode('gbk'), 'gb2312').text
    '镕'
    """
    codec = normalise_charset(label)
    unusable_label = codec is None and (label or "").strip().lower() not in _NO_CHARSET
    label_note = f"unknown charset {label!r}" if unusable_label else ""
    if not data:
        return Decoded("", codec or "utf-8", label_note)
    if data.isascii() and not _is_seven_bit_codec(codec):
        return Decoded(data.decode("ascii"), "ascii", label_note)

    if codec is not None:
        relabelled = _second_guess_label(data, codec)
        if relabelled is not None:
            return Decoded(relabelled.text, relabelled.charset,
                           f"labelled {label!r} but decoded as {relabelled.charset}")
        for candidate in (codec, *_SUBSETS.get(codec, ())):
            text = _strict(data, candidate)
            if text is not None:
                return Decoded(text, candidate, label_note)

    guessed = _guess_unlabelled(data)
    if guessed is not None:
        if codec is not None:
            note = f"bytes are not valid {label}; decoded as {guessed.charset}"
        elif unusable_label:
            note = f"{label_note}; decoded as {guessed.charset}"
        else:
            note = f"no charset label; decoded as {guessed.charset}"
        return Decoded(guessed.text, guessed.charset, note)

    fallback = codec or "gb18030"
    return Decoded(data.decode(fallback, errors="replace"), fallback,
                   f"undecodable bytes replaced ({label or 'no charset'})")


def _is_seven_bit_codec(codec: str | None) -> bool:
    """Codecs whose text is written in ASCII bytes (escape sequences), so ASCII is no shortcut."""
    return codec is not None and codec.startswith(("iso2022", "hz", "utf-7", "utf-16", "utf-32",
                                                   "utf_16", "utf_32"))


def _strict(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeError, LookupError, ValueError, TypeError):
        return None


def _second_guess_label(data: bytes, codec: str) -> Decoded | None:
    """A better decoding than the label's when the label is evidently wrong, else None.

    Western single-byte labels never fail, so UTF-8 or Chinese text labelled iso-8859-1 would
    silently become mojibake; GBK text labelled Big5 (or the reverse) usually decodes too.
    Only clear evidence counts: valid UTF-8 with non-ASCII, or at least four characters that
    are nearly all common Chinese in the other encoding.
    """
    if codec in _SINGLE_BYTE_WESTERN:
        text = _strict(data, "utf-8")
        if text is not None:
            return Decoded(text, "utf-8")
        chinese = _guess_chinese(data)
        if chinese is not None and _clear_chinese(chinese):
            return chinese
        return None
    if codec in ("gb18030", "big5hkscs"):
        chinese = _guess_chinese(data)
        if chinese is not None and chinese.charset != codec and _clear_chinese(chinese):
            own = _strict(data, codec)
            if own is None or _common_share(own, codec) < 0.6:
                return chinese
    return None


def _clear_chinese(decoded: Decoded) -> bool:
    wide = sum(1 for ch in decoded.text if ord(ch) > 127)
    return wide >= 4 and _common_share(decoded.text, decoded.charset) >= 0.9


def _guess_unlabelled(data: bytes) -> Decoded | None:
    """UTF-8, then plausibly-Chinese GB18030/Big5, then charset-normalizer or windows-1252."""
    text = _strict(data, "utf-8")
    if text is not None:
        return Decoded(text, "utf-8")
    chinese = _guess_chinese(data)
    if chinese is not None:
        return chinese
    if len(data) >= _MIN_DETECTION_BYTES:
        detected = _detect(data)
        if detected is not None:
            return detected
    text = _strict(data, "cp1252")
    if text is not None:
        return Decoded(text, "cp1252")
    return None


def _detect(data: bytes) -> Decoded | None:
    """charset-normalizer's best guess; among equally good guesses, windows-1252 wins."""
    try:
        matches = list(from_bytes(data))
    except Exception:  # noqa: BLE001 - a detector bug must not lose the message
        return None
    if not matches:
        return None
    best = min(matches, key=lambda m: (m.chaos, -m.coherence))
    ties = [m for m in matches if (m.chaos, m.coherence) == (best.chaos, best.coherence)]
    chosen = next((m for m in ties if m.encoding == "cp1252"), best)
    text = _strict(data, chosen.encoding)
    return Decoded(text, chosen.encoding) if text is not None else None


# charset-normalizer misreads short snippets (measured: "Müller café" in Latin-1 -> cp1006).
_MIN_DETECTION_BYTES = 64


def _guess_chinese(data: bytes) -> Decoded | None:
    """GB18030 or Big5, whichever decodes strictly into mostly common characters (>= 60%)."""
    best: Decoded | None = None
    best_share = 0.0
    for codec in ("gb18030", "big5hkscs"):  # GB first: a tie goes to the mainland charset
        text = _strict(data, codec)
        if text is None:
            continue
        share = _common_share(text, codec)
        if share > best_share:
            best, best_share = Decoded(text, codec), share
    return best if best_share >= 0.6 else None


_SHARE_SAMPLE = 4000  # characters: enough to judge, cheap on a megabyte body


def _common_share(text: str, codec: str) -> float:
    """Share of the non-ASCII characters of ``text`` that are common in that charset's script.

    GB: characters GB2312 can encode (real GBK text: ~100%; Big5 bytes read as GBK: ~50%).
    Big5: Big5 symbols and level-1 (frequent) characters, lead bytes 0xA1-0xC6 (real Big5
    text: ~100%; GBK bytes read as Big5: 0-65%).
    """
    wide = list(islice((ch for ch in text if ord(ch) > 127), _SHARE_SAMPLE))
    if not wide:
        return 0.0
    common = _is_common_gb if codec == "gb18030" else _is_common_big5
    return sum(1 for ch in wide if common(ch)) / len(wide)


def _is_common_gb(ch: str) -> bool:
    try:
        ch.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def _is_common_big5(ch: str) -> bool:
    try:
        encoded = ch.encode("big5")
    except UnicodeEncodeError:
        return False
    if len(encoded) != 2:
        return False
    lead, trail = encoded
    return 0xA1 <= lead <= 0xC5 or (lead == 0xC6 and trail <= 0x7E)


# --- headers -------------------------------------------------------------------------------

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([QqBb])\?([^?]*)\?=")
_FOLD = re.compile(r"\r?\n(?=[ \t])")


def has_raw_bytes(value: str) -> bool:
    """True if a header value parsed from bytes holds undecoded 8-bit bytes (surrogates)."""
    return any("\udc80" <= ch <= "\udcff" for ch in value)


def restore_raw_bytes(value: str, hint: str | None = None) -> Decoded:
    """Decode the 8-bit bytes the stdlib parser kept as surrogate escapes in ``value``.

    UTF-8 first (RFC 6532 allows raw UTF-8 headers, and other text is rarely valid UTF-8),
    then ``hint`` (usually the body's charset) and the rest of :func:`decode_bytes`' chain.
    """
    if not has_raw_bytes(value):
        return Decoded(value, "ascii")
    data = value.encode("utf-8", "surrogateescape")
    text = _strict(data, "utf-8")
    if text is not None:
        return Decoded(text, "utf-8")
    return decode_bytes(data, hint)


def unfold(value: str) -> str:
    """RFC 5322 unfolding: drop the line breaks of folded header lines."""
    return _FOLD.sub("", value).replace("\r", "").replace("\n", "")


def decode_header(value: str | None, hint: str | None = None) -> tuple[str, tuple[str, ...]]:
    """Decode a raw header value; returns the text and notes about what had to be guessed.

    ``hint`` is the charset to try for raw 8-bit bytes (the message's body charset: clients
    that write raw headers write them in the body's charset).

    >>> decode_header('=?gb2312?B?1tDOxA==?= report')
    ('中文 report', ())
    """
    if value is None:
        return "", ()
    notes: list[str] = []
    restored = restore_raw_bytes(value, hint)
    if restored.charset != "ascii":
        notes.append(f"raw 8-bit header decoded as {restored.charset}")
    text = unfold(restored.text)
    decoded = _decode_encoded_words(text, notes)
    return decoded.strip(), tuple(notes)


def _decode_encoded_words(text: str, notes: list[str]) -> str:
    """Replace RFC 2047 encoded words; whitespace between adjacent words is dropped."""
    pieces: list[tuple[str, object]] = []  # ("text", str) or ("word", (charset, bytes))
    position = 0
    for match in _ENCODED_WORD.finditer(text):
        between = text[position:match.start()]
        after_word = bool(pieces) and pieces[-1][0] == "word"
        if between and not (after_word and between.isspace()):
            pieces.append(("text", between))
        position = match.end()
        raw = _word_bytes(match.group(2), match.group(3))
        if raw is None:
            pieces.append(("text", match.group(0)))
            notes.append("undecodable encoded word kept as is")
            continue
        charset = match.group(1)
        previous = pieces[-1] if pieces else None
        if previous and previous[0] == "word" and previous[1][0].lower() == charset.lower():
            pieces[-1] = ("word", (charset, previous[1][1] + raw))  # a split character rejoined
        else:
            pieces.append(("word", (charset, raw)))
    pieces.append(("text", text[position:]))

    out: list[str] = []
    for kind, content in pieces:
        if kind == "text":
            out.append(content)  # type: ignore[arg-type]
            continue
        charset, raw = content  # type: ignore[misc]
        decoded = decode_bytes(raw, charset)
        if decoded.note:
            notes.append(f"encoded word: {decoded.note}")
        out.append(decoded.text)
    return "".join(out)


def _word_bytes(encoding: str, payload: str) -> bytes | None:
    if encoding in "Bb":
        compact = re.sub(r"[^A-Za-z0-9+/]", "", payload)
        compact += "=" * (-len(compact) % 4)
        try:
            return base64.b64decode(compact)
        except (binascii.Error, ValueError):
            return None
    try:
        return quopri.decodestring(payload.replace("_", " ").encode("ascii", "replace"), header=False)
    except (ValueError, binascii.Error):
        return None

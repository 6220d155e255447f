"""Personal data and secrets in text: e-mail addresses, IP addresses, phone numbers and keys.

The detectors of the explorer's redaction (:mod:`gaia_lite.app.render` shows text through them) and of the corpus
audit (:mod:`gaia_lite.analysis.profile` counts them), kept in the analysis layer so that both use the one
definition and the analyses need not import the app.

Redaction runs by default over scientific abstracts and Python docstrings, so the patterns favour precision:
years, p-values, decimals, ranges, versions, DOIs, dates, hashes and ``token = tokenizer(...)`` code stay
as they are, at the price of missing unusual formats (see the comments at each pattern). Every pattern runs in
time linear in the text (no quantifier can backtrack over another's characters, open-ended runs are possessive
and start only once per run), so a hostile document costs no more than an ordinary one of its size.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

REDACTION_KINDS = ("email", "ip", "phone", "key")
#: What each kind of span is replaced with.
PLACEHOLDER = {kind: f"[{kind.upper()}]" for kind in REDACTION_KINDS}

#: Longer than any match of a bounded pattern: text this far past a cut decides every span that starts before it.
MARGIN = 4096


@dataclass(frozen=True)
class Span:
    """``text[start:end]`` holds personal data or a secret of ``kind`` (one of :data:`REDACTION_KINDS`)."""

    start: int
    end: int
    kind: str


# --- patterns -------------------------------------------------------------------------------------------------
# Each is (kind, pattern, check): the span is the group named "v" if the pattern has one, else the whole match;
# ``check`` (if any) gets the span's text and the 16 characters before it, and may reject the match.

# Any two-letter country code, or a generic TLD from this list. An open [a-z]{2,} TLD would take NumPy's
# `x@self.weights` for an address; unusual gTLDs (.museum is in, .engineering is not) are missed.
_GTLDS = ("com|org|net|edu|gov|mil|int|info|biz|name|pro|io|ai|app|dev|tech|online|site|xyz|email|mail|cloud|"
          "science|academy|institute|university|health|bio|global|network|systems|solutions|company|museum|aero|"
          "coop|jobs|mobi|travel|blog|page|me|tv")
_EMAIL = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}+@"  # the local part cannot run on past 64 characters
    r"(?:[A-Za-z0-9-]{1,63}+\.)+"
    rf"(?:(?i:{_GTLDS})|[a-z]{{2}}|[A-Z]{{2}})(?![\w-])")  # one case: `A@B.mT` is NumPy, not mail

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?!\w|\.\d|-\w)")  # not 5.10.102.1-generic
# Four-part versions, section and enzyme (EC) numbers look like addresses.
_NOT_IP_BEFORE = re.compile(r"(?i)(?:version|release|\bv|\brev|\bEC|section|§|chapter|fig\.?|figure|table|step|"
                            r"[=<>~!]=)\s*$")


def _is_ipv4(span: str, before: str) -> bool:
    # Loopback, "any" and netmasks are configuration, not anyone's address.
    return not (span.startswith(("127.", "0.", "255.")) or _NOT_IP_BEFORE.search(before))


# A run of hex digits and colons that `ipaddress` accepts. An embedded IPv4 tail (::ffff:1.2.3.4) is left to the
# IPv4 pattern.
_IPV6 = re.compile(r"(?<![\w:.])[0-9A-Fa-f:]{3,39}+(?![\w:]|\.\d)")


def _is_ipv6(span: str, before: str) -> bool:
    try:
        ipaddress.IPv6Address(span)  # times (12:30:45) and MAC addresses are not
    except ValueError:
        return False
    # `::1`, `a[1::2]` and C++'s `Add::add` are valid too; an address worth hiding has three groups or more.
    return "::" not in span or sum(1 for g in span.split(":") if g) >= 3


# International: +CC then digit groups separated by one space, hyphen or dot, or a (0) trunk prefix.
_PHONE_INTL = re.compile(r"(?<![\w+])\+[1-9]\d{0,14}+(?:(?:[ .-]|[ ]?\(|\)[ ]?)\d{1,8}+){0,6}+(?!\w)")


def _is_intl(span: str, before: str) -> bool:
    groups = re.findall(r"\d+", span)
    if not 8 <= sum(map(len, groups)) <= 15:  # E.164 numbers have at most 15 digits
        return False
    if "." in span and (" " in span or "-" in span):  # "+12.34 56.78": numbers, not a phone
        return False
    # "+15 000 000" or "+1.234.567": thousands, not a phone.
    return not (len(groups) >= 3 and all(len(g) == 3 for g in groups[1:]))


# North American numbers: (555) 123-4567, 555-123-4567, 555.123.4567, with an optional leading 1. The area code
# starts with 2-9 (NANP); the two separators must agree. Spaces only after "(555)": "250 300 1200" is a table row.
_PHONE_NANP = re.compile(
    r"(?<![\w.+(-])(?:1[-. ]?)?"
    r"(?:\([2-9]\d\d\)[ ]?\d{3}[-. ]\d{4}|[2-9]\d\d([-.])\d{3}\1\d{4})"
    r"(?![\w-]|\.\d)")


def _is_nanp(span: str, before: str) -> bool:
    # "250-500-1000" is a dose series, not a number: increasing multiples of ten.
    numbers = [int(n) for n in re.findall(r"\d+", span)][-3:]
    return not (numbers[0] < numbers[1] < numbers[2] and all(n % 10 == 0 for n in numbers))


# Secrets with a recognisable shape. An open-ended run starts only where a run of its characters starts (or is
# bounded), so that "sk-sk-sk-..." is not scanned once per "sk-".
_KEYS = [
    r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b",  # AWS access key ids
    r"\bgh[pousr]_[A-Za-z0-9]{36,255}+\b",  # GitHub tokens
    r"\bgithub_pat_[A-Za-z0-9_]{22,255}+\b",
    r"\bhf_[A-Za-z0-9]{30,64}+\b",  # Hugging Face; `hf_hub_download` has underscores
    r"(?<![\w-])sk-(?:proj-|svcacct-|admin-)?(?=[A-Za-z0-9_-]{0,299}\d)[A-Za-z0-9_-]{20,300}+(?![\w-])",  # OpenAI
    r"(?<![\w-])xox[abprs]-[A-Za-z0-9-]{10,300}+(?![\w-])",  # Slack
    r"\bAIza[0-9A-Za-z_-]{35}(?![\w-])",  # Google API keys
    r"\b[spr]k_(?:live|test)_[0-9A-Za-z]{10,}+",  # Stripe
    r"(?<![\w.-])eyJ[A-Za-z0-9_-]{5,}+\.eyJ[A-Za-z0-9_-]{5,}+\.[A-Za-z0-9_-]*+",  # JWT: header.payload.signature
    # A private key block; one without its END line is redacted to the end of the text.
    r"(?s)-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----.*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|\Z)",
]

# `password = "..."`, `"api_key": "..."`, `DB_PASSWORD=s3cr3t`: only the value is redacted, and only when it
# looks like a secret (`_is_secret`). Brackets and `$` mark placeholders (`"<pad>"`, `"[CLS]"`, `"${TOKEN}"`);
# a bare value that is a call or subscript is code (`token = tokenizer(text)`, `api_key = keys[0]`).
_ASSIGNMENT = re.compile(
    r"""(?<![\w.-])[\w.-]*?
        (?i:password|passwd|passphrase|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key)
        ["']?[ \t]*[:=][ \t]*
        (?P<q>["'])?
        (?P<v>(?(q)[^\s"'<>\[\]{}$]{4,200}+|[^\s"'`,;()\[\]{}<>=:]{6,200}+))
        (?(q)(?P=q)|(?![(\[]|\.\w))
    """, re.VERBOSE)
_SECRET_CHAR = re.compile(r"[\d!@#%^&*+=?~]")
_MASKED = re.compile(r"(?i)\.\.\.|…|\*\*|xxx")


def _is_secret(value: str, before: str) -> bool:
    # Documentation shows placeholders (`token="my_token"`, `api_key="hf_..."`, `secret="my-secret"`); a secret
    # holds a digit or a symbol, and a bare one (prose and code as often as a config file) a letter and a digit.
    if _MASKED.search(value) or not _SECRET_CHAR.search(value):
        return False
    return before.endswith(("'", '"')) or (any(c.isdigit() for c in value) and any(c.isalpha() for c in value))


# A text without a pattern's needle cannot match it, and a needle is found many times faster than the pattern
# runs (find_pii on a SciFact abstract: 0.66 ms running every pattern, 0.36 ms with the first needles, about
# 0.07 ms with these). Each needle is implied by every span its patterns accept: one of the literal shapes of
# the keys in _KEYS but the private key block; a keyword of _ASSIGNMENT then its ["']? :/= (found in the
# casefolded text: casefolding maps what (?i) matches, the Kelvin sign and the long s included, onto the
# keyword); "@" in an address; two dots between digits in IPv4; two colons with at most 4 hex digits between
# them in an IPv6 address (a time such as 12:30 has one); "+" and a digit in an international number; the three
# digits, separator and four digits that end a North American number.
_KEY_SHAPES = ("AKIA", "ASIA", "AIza", "eyJ", "sk-", "xox")
_KEY_SHAPES_UNDERSCORE = ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "hf_", "k_live_", "k_test_")
_ASSIGNMENT_NEEDLE = re.compile(r"""(?:pass(?:word|wd|phrase)|pwd|secret|token|key)["']?[ \t]*[:=]""")
_NEEDLES: dict[str, Callable[[str], object]] = {
    "keys": lambda text: any(shape in text for shape in _KEY_SHAPES) or (
        "_" in text and any(shape in text for shape in _KEY_SHAPES_UNDERSCORE)),
    "assignment": lambda text: _ASSIGNMENT_NEEDLE.search(text.casefold()),
    "at": lambda text: "@" in text,
    "dotted": re.compile(r"\.\d{1,3}\.\d").search,
    "colons": re.compile(r":[0-9A-Fa-f]{0,4}:").search,
    "plus": re.compile(r"\+[1-9]").search,
    "nanp": re.compile(r"[-. )]\d{3}[-. ]\d{4}").search,
}

_PATTERNS: list[tuple[str, re.Pattern, Callable[[str, str], bool] | None, str | None]] = [
    *[("key", re.compile(p), None, None if "PRIVATE KEY" in p else "keys") for p in _KEYS],
    ("key", _ASSIGNMENT, _is_secret, "assignment"),
    ("email", _EMAIL, None, "at"),
    ("ip", _IPV4, _is_ipv4, "dotted"),
    ("ip", _IPV6, _is_ipv6, "colons"),
    ("phone", _PHONE_INTL, _is_intl, "plus"),
    ("phone", _PHONE_NANP, _is_nanp, "nanp"),
]


def find_pii(text: str) -> list[Span]:
    """Spans of ``text`` holding e-mail addresses, IP addresses, phone numbers and secrets, sorted and
    non-overlapping (of two overlapping matches the earlier, then the longer, wins)."""
    found = []
    present = {name: bool(needle(text)) for name, needle in _NEEDLES.items()}
    for kind, pattern, check, needle in _PATTERNS:
        if needle is not None and not present[needle]:
            continue
        for m in pattern.finditer(text):
            start, end = m.span("v" if "v" in pattern.groupindex else 0)
            if check is None or check(text[start:end], text[max(0, start - 16):start]):
                found.append(Span(start, end, kind))
    found.sort(key=lambda s: (s.start, s.start - s.end))
    spans: list[Span] = []
    for s in found:
        if not spans or s.start >= spans[-1].end:
            spans.append(s)
    return spans


def redact_text(text: str) -> tuple[str, dict[str, int]]:
    """``text`` with each span of :func:`find_pii` replaced by ``[EMAIL]``, ``[IP]``, ``[PHONE]`` or ``[KEY]``,
    and how many of each kind were replaced (kinds with none are left out)."""
    spans = find_pii(text)
    pieces, pos = [], 0
    for s in spans:
        pieces += [text[pos:s.start], PLACEHOLDER[s.kind]]
        pos = s.end
    pieces.append(text[pos:])
    counts = Counter(s.kind for s in spans)
    return "".join(pieces), {kind: counts[kind] for kind in REDACTION_KINDS if counts[kind]}

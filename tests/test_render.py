"""Tests for gaia_lite.app.render: escaping of hostile text, redaction (hits and non-hits), limits, snippets."""

from __future__ import annotations

import itertools
import json
from html.parser import HTMLParser

import pytest

from gaia_lite.app.render import (
    REDACTION_KINDS,
    Span,
    escape,
    find_pii,
    redact_text,
    snippet_html,
    snippet_text,
    to_html,
    word_forms,
)

from .conftest import SCIFACT


class _Reader(HTMLParser):
    """The tags, attributes and text of an HTML fragment; <br> reads as a newline."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))
        if tag == "br":
            self.text.append("\n")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_data(self, data):
        self.text.append(data)

    def handle_comment(self, data):
        self.tags.append(("!--", [("data", data)]))

    def handle_decl(self, decl):
        self.tags.append(("!", [("decl", decl)]))

    def handle_pi(self, data):
        self.tags.append(("?", [("data", data)]))


def _read(fragment: str) -> tuple[list, str]:
    reader = _Reader()
    reader.feed(fragment)
    reader.close()
    return reader.tags, "".join(reader.text)


def _assert_only_own_tags(fragment: str) -> str:
    tags, text = _read(fragment)
    for tag, attrs in tags:
        assert tag in {"mark", "span", "br"}, (tag, attrs)
        assert {name for name, _ in attrs} <= {"class", "title"}, (tag, attrs)
        for name, value in attrs:
            assert value in {"gl-redacted", "gl-note"} or value.startswith("redacted "), (name, value)
    return text


HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '"><svg onload=alert(document.cookie)>',
    "<a href=\"javascript:alert('x')\">click</a>",
    "&lt;script&gt; is already escaped &amp; so is &#60;this&#62; and &quot;",
    "' onmouseover='alert(1)' x='",
    '" title="pwned" class="x',
    "</mark></span><mark onclick=alert(1)>",
    "<!-- comment --><![CDATA[x]]><?php echo 1 ?><!DOCTYPE html>",
    "<iframe srcdoc='<script>alert(1)</script>'></iframe>\n<style>*{display:none}</style>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "tab\tnull\x00 cr\r\n unicode \u202e\u2028 <b>bold</b> run <b>run</b>",
]


@pytest.mark.parametrize("doc", HOSTILE)
@pytest.mark.parametrize("redact", [True, False])
def test_hostile_text_round_trips_as_text_with_only_our_tags(doc, redact):
    for fragment in (to_html(doc, highlight={"alert", "run", "script"}, redact=redact),
                     snippet_html(doc, {"alert", "run"}, redact=redact, width=40)):
        lowered = fragment.lower()
        for bad in ("<script", "<img", "<svg", "<a ", "<iframe", "<style", "<!", "<?", "<b>", "</b>"):
            assert bad not in lowered
        text = _assert_only_own_tags(fragment)
        if "…" not in fragment:  # not cut: the text comes back whole
            assert text == (redact_text(doc)[0] if redact else doc)
    # Quotes never appear raw: every attribute value is ours, every quote of the text is an entity.
    assert "'" not in to_html(doc) and to_html(doc).count('"') == 4 * to_html(doc).count("gl-redacted")


def test_highlights_and_redactions_are_the_only_markup():
    doc = 'Mail <b>alice@example.org</b> about the "Run" & the\nrun-time'
    fragment = to_html(doc, highlight={"run"})
    assert fragment == ('Mail &lt;b&gt;<span class="gl-redacted" title="redacted email">[EMAIL]</span>&lt;/b&gt; '
                        'about the &quot;<mark>Run</mark>&quot; &amp; the<br><mark>run</mark>-time')


def test_escape_is_html_escape_with_quotes():
    assert escape("<a href=\"x\" title='y'>&</a>") == "&lt;a href=&quot;x&quot; title=&#x27;y&#x27;&gt;&amp;&lt;/a&gt;"


# --- redaction: what it finds ---------------------------------------------------------------------------------

JWT = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0."
       "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c")
PEM = ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi+Wf8mK\n"
       "Proc-Type: 4,ENCRYPTED\nq9gQ4Zc+/1x8w==\n-----END RSA PRIVATE KEY-----")

# (text, the part that must be redacted, kind)
POSITIVES = [
    ("Correspondence: john.doe@example.com (J. Doe).", "john.doe@example.com", "email"),
    ("CONTACT usadel@bio1.rwth-aachen.de   SUPPLEMENTARY INFORMATION", "usadel@bio1.rwth-aachen.de", "email"),
    ("Author: Pearu Peterson <pearu@cens.ioc.ee>", "pearu@cens.ioc.ee", "email"),
    ("write to jane_smith+lab@biology.ox.ac.uk today", "jane_smith+lab@biology.ox.ac.uk", "email"),
    ("E-MAIL: ADMIN@HOSPITAL.ORG", "ADMIN@HOSPITAL.ORG", "email"),
    ("mailto:m.garcia-lopez@fastmail.io.", "m.garcia-lopez@fastmail.io", "email"),
    ("The server 192.168.1.10 refused the connection", "192.168.1.10", "ip"),
    ("proxy=203.0.113.195:8080", "203.0.113.195", "ip"),
    ("resolver (8.8.8.8) answered", "8.8.8.8", "ip"),
    ("client 2001:db8:85a3::8a2e:370:7334 connected", "2001:db8:85a3::8a2e:370:7334", "ip"),
    ("full form 2001:0db8:0000:0000:0000:ff00:0042:8329.", "2001:0db8:0000:0000:0000:ff00:0042:8329", "ip"),
    ("iface fe80::1ff:fe23:4567:890a%eth0", "fe80::1ff:fe23:4567:890a", "ip"),
    ("Call (555) 123-4567 after 5pm", "(555) 123-4567", "phone"),
    ("phone: 555-123-4567", "555-123-4567", "phone"),
    ("tel 555.123.4567.", "555.123.4567", "phone"),
    ("toll free 1-800-555-0199", "1-800-555-0199", "phone"),
    ("FAX (212) 717-3298. Article", "(212) 717-3298", "phone"),
    ("London office +44 20 7946 0958", "+44 20 7946 0958", "phone"),
    ("US +1 (555) 123-4567", "+1 (555) 123-4567", "phone"),
    ("Tel.: +31-20-5665-633; fax", "+31-20-5665-633", "phone"),
    ("Berlin +49 (0)30 1234567", "+49 (0)30 1234567", "phone"),
    ("Paris +33 1 23 45 67 89", "+33 1 23 45 67 89", "phone"),
    ("tel:+14155552671", "+14155552671", "phone"),
    ("aws_access_key_id AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE", "key"),
    ("session ASIAY34FZKBOKMUTVV7A", "ASIAY34FZKBOKMUTVV7A", "key"),
    ("git push with 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", "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", "key"),
    ("oauth gho_16C7e42F292c6912E7710c838347Ae178B4a", "gho_16C7e42F292c6912E7710c838347Ae178B4a", "key"),
    ("pat github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP",
     "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP", "key"),
    ("login hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh", "hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh", "key"),
    ("OPENAI sk-proj-4fT9xQ2LmN8pR6sV1wY3zA5bC7dE9fG0hJ2kL4", "sk-proj-4fT9xQ2LmN8pR6sV1wY3zA5bC7dE9fG0hJ2kL4", "key"),
    ("legacy sk-4fT9xQ2LmN8pR6sV1wY3zA5bC7dE9fG0hJ2kL4mN6pQ8rS", "sk-4fT9xQ2LmN8pR6sV1wY3zA5bC7dE9fG0hJ2kL4mN6pQ8rS",
     "key"),
    ("slack xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
     "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "key"),
    ("maps AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q", "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q", "key"),
    ("stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc", "sk_live_4eC39HqLyjWDarjtT1zdp7dc", "key"),
    ("stripe pk_live_TYooMQauvdEDq54NiTphI7jx", "pk_live_TYooMQauvdEDq54NiTphI7jx", "key"),
    (f"Authorization: Bearer {JWT}", JWT, "key"),
    (f"key file:\n{PEM}\nend", PEM, "key"),
    ('password = "hunter22"', "hunter22", "key"),
    ("DB_PASSWORD=s3cr3tpw", "s3cr3tpw", "key"),
    ('{"api_key": "abcd1234efgh"}', "abcd1234efgh", "key"),
    ("client_secret: 'Tr0ub4dor&3'", "Tr0ub4dor&3", "key"),
    ("Password: hunter2 (do not share)", "hunter2", "key"),
]


@pytest.mark.parametrize("text,secret,kind", POSITIVES)
def test_finds_personal_data_and_secrets(text, secret, kind):
    start = text.index(secret)
    assert find_pii(text) == [Span(start, start + len(secret), kind)]


def test_every_kind_is_covered_by_the_positives():
    assert {kind for _, _, kind in POSITIVES} == set(REDACTION_KINDS)


NEGATIVES = [
    # scientific abstracts
    "In 1964, Higgs proposed the mechanism; the effect was significant (p < 0.05, n = 1,234).",
    "Mean age was 54.3 ± 12.1 years (range 18-90); 10-20% of patients relapsed within 123-456 days.",
    "Expression increased 2.5-fold (95% CI 1.8-3.4; P = 0.0012; r = .82, p<.001).",
    "See doi:10.1038/nature12373 and https://doi.org/10.1016/j.cell.2009.01.042 (PMID: 23456789; PMC3456789).",
    "Samples were collected between 2023-01-15 and 2023-03-31 and stored at -80 °C until 2024.",
    "Tyrosine hydroxylase (TH, EC 1.14.16.2) from beef brain striata was purified 1,500-fold.",
    "Doses of 250-500-1000 mg were given; counts per well were 250 300 1200 and 512 345 6789.",
    "The population grew by +15 000 000 (+1.234.567 in 2020) and temperatures ranged from -20 to +40 °C.",
    "Funded by NIH grant R01-GM123456 and trial NCT01234567; ISSN 0028-0836; Phys. Rev. Lett. 116, 061102 (2016).",
    "Section 3.2.1.4 and Table 2.1.1.3 list 1,234,567.89 values, 0.001, 1e-5 and 3.14159265358979.",
    "arXiv:2106.09685 [cs.CL] reports 12:30:45 timings on 2023-01-15T10:20:30Z at 51.5074, -0.1278.",
    "Coordinates 40.7128° N, 74.0060° W; concentrations of 0.5-1.5 mM and 10-100 µg/ml were used.",
    # code and Python docstrings
    "Requires numpy>=1.24.0, torch 2.4.6 and scikit-learn 1.4.2; tested with v1.2.3-beta on version 1.0.0.0.",
    "Kernel OS-release       : 5.10.102.1-microsoft-standard-WSL2",
    "Commit 3f786850e387550fdab836ed7e6dc881de23001b fixed uuid 123e4567-e89b-12d3-a456-426614174000.",
    "sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ">>> x[1::2], a[::3], b[1:2:3]; std::vector<int> v; Vec::new(); Add::add; MAC 00:1A:2B:3C:4D:5E",
    "y = X @ W.T + b; z = A@B.mT; out = x@self.weight; @property",
    "token (str, optional): The Hugging Face token. If None, the stored token is used.",
    "Args:\n    token: The HF token.\n    api_key (`str`, *optional*): the key, e.g. `api_key=\"hf_...\"`.",
    "tokenizer.pad_token = tokenizer.eos_token\nspecial = {\"pad_token\": \"[PAD]\", \"bos_token\": \"<s>\"}",
    "api_key: Optional[str] = None\npassword = getpass.getpass()\nsecret = os.environ['SECRET']",
    "num_tokens = 4096; max_tokens: 128000; token_ids = tokens2ids(text); key = keys[0]",
    '>>> upload_file(repo_id="username/my-model", token="my_token", secret="my-secret")',
    ">>> build_hf_headers(token=\"hf_***\")  # hf_hub_download(repo_id, filename) with HfApi().whoami()",
    "pip install git+https://github.com/huggingface/transformers@v4.40.0 (pkg@1.2, user@host)",
    "Use the ghp_ prefix for tokens; AKIA prefixes identify AWS keys; sk-learn is not a key.",
    "host: the host of the server (default 127.0.0.1); bind to 0.0.0.0; mask 255.255.255.0.",
]


@pytest.mark.parametrize("text", NEGATIVES)
def test_leaves_scientific_and_code_text_alone(text):
    assert [text[s.start:s.end] for s in find_pii(text)] == []


@pytest.mark.skipif(not (SCIFACT / "corpus.jsonl").exists(), reason="SciFact corpus not available")
def test_on_scifact_only_contact_lines_are_redacted():
    flagged = {}
    with open(SCIFACT / "corpus.jsonl", encoding="utf-8") as f:
        for line in f:
            doc = json.loads(line)
            text = doc["title"] + "\n" + doc["text"]
            if spans := find_pii(text):
                flagged[doc["_id"]] = [(s.kind, text[s.start:s.end]) for s in spans]
    # 5,183 abstracts; the hits are the authors' contact lines, nothing else.
    assert sorted(flagged) == ["10827901", "15969637", "18333304", "3743071", "39291138", "4890578", "5650232",
                               "7324039"]
    assert flagged["39291138"] == [("email", "j-massague@ski.mskcc.org"), ("phone", "(212) 717-3298")]
    assert flagged["4890578"] == [("phone", "+31-20-5665-633"), ("phone", "+31-20-914-738"),
                                  ("email", "a.c.vanderwal@amc.uva.nl")]


def test_needles_skip_only_patterns_that_cannot_match():
    """find_pii skips a pattern whose needle is absent; every pattern run on every text finds the same spans."""
    from gaia_lite.app import render

    def every_pattern(text):
        found = []
        for kind, pattern, check, _needle in render._PATTERNS:
            for m in pattern.finditer(text):
                a, b = m.span("v" if "v" in pattern.groupindex else 0)
                if check is None or check(text[a:b], text[max(0, a - 16):a]):
                    found.append(render.Span(a, b, kind))
        found.sort(key=lambda s: (s.start, s.start - s.end))
        kept = []
        for s in found:
            if not kept or s.start >= kept[-1].end:
                kept.append(s)
        return kept

    # Kelvin sign and long s: case folding that (?i) applies to the keywords, and so to their needle.
    texts = [t for t, *_ in POSITIVES] + list(NEGATIVES) + ["API_\u212aEY = 'x9!k2j3h4g5'", "pa\u017f\u017fword=Abc123!xyz",
                                                         "call (212)717-3298", "call 1 (212) 717-3298 now"]
    # Real texts: docstrings of the installed packages (code, keys in examples, addresses in licences).
    from gaia_lite.corpus.docstrings import iter_docstrings

    texts += [r["text"] for r in iter_docstrings(3000, progress=False)]
    if (SCIFACT / "corpus.jsonl").exists():
        with open(SCIFACT / "corpus.jsonl", encoding="utf-8") as f:
            texts += [json.loads(line)["text"] for line in itertools.islice(f, 500)]
    assert len(texts) > 3000
    for text in texts:
        assert find_pii(text) == every_pattern(text), text[:200]


def test_spans_are_sorted_and_do_not_overlap():
    text = 'a@b.io 10.0.0.1 password = "me@home.org" +1 555 123 4567 ' + JWT
    spans = find_pii(text)
    assert [(s.kind, text[s.start:s.end]) for s in spans] == [
        ("email", "a@b.io"), ("ip", "10.0.0.1"), ("key", "me@home.org"), ("phone", "+1 555 123 4567"), ("key", JWT)]


def test_private_key_without_end_line_is_redacted_to_the_end():
    text = "config:\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nmore base64"
    assert redact_text(text)[0] == "config:\n[KEY]"


# --- redact_text and to_html never show what they redact ------------------------------------------------------

def test_redact_text_replaces_and_counts():
    text = "Mail ann@uni.edu or bob@lab.org from 192.168.0.7, call 555-123-4567, token: ghp_" + "a1" * 18
    assert redact_text(text) == ("Mail [EMAIL] or [EMAIL] from [IP], call [PHONE], token: [KEY]",
                                 {"email": 2, "ip": 1, "phone": 1, "key": 1})
    assert redact_text("nothing here, p < 0.05") == ("nothing here, p < 0.05", {})


@pytest.mark.parametrize("text,secret,kind", POSITIVES)
def test_html_never_holds_the_redacted_characters(text, secret, kind):
    fragment = to_html(text, highlight=word_forms(text))
    assert escape(secret) not in fragment and secret not in fragment
    assert f'<span class="gl-redacted" title="redacted {kind}">[{kind.upper()}]</span>' in fragment
    snippet = snippet_html(text, word_forms(secret), width=20)
    assert escape(secret) not in snippet and secret not in snippet
    assert secret not in snippet_text(text, width=20)


def test_words_inside_a_redacted_span_are_not_highlighted():
    fragment = to_html("write to john@example.com, john", highlight={"john", "example"})
    assert fragment == ('write to <span class="gl-redacted" title="redacted email">[EMAIL]</span>, '
                        '<mark>john</mark>')


def test_without_redaction_the_text_is_shown_escaped():
    assert to_html("<x> john@example.com", redact=False) == "&lt;x&gt; john@example.com"


# --- limits ---------------------------------------------------------------------------------------------------

def test_limit_bounds_a_huge_document_and_says_so():
    text = "Lorem ipsum dolor sit amet, <b>consectetur</b> adipiscing elit.\n" * 80_000  # 5 MB
    fragment = to_html(text, highlight={"dolor"}, limit=100_000)
    assert len(text) > 5_000_000 and len(fragment) < 200_000
    assert fragment.endswith(f'<br><span class="gl-note">… (showing 100,000 of {len(text):,} characters)</span>')
    shown = _assert_only_own_tags(fragment).removesuffix(f"\n… (showing 100,000 of {len(text):,} characters)")
    assert shown == text[:100_000]
    assert "gl-note" not in to_html(text[:1000], limit=1000) and to_html("", limit=0) == ""


@pytest.mark.parametrize("cut", range(1, 24))
def test_a_cut_through_an_email_or_key_reveals_none_of_it(cut):
    secret = "jane.roe@example.com"
    text = "lead words " * 3 + secret + " trailing words" * 5
    start = text.index(secret)
    fragment = to_html(text, limit=start + min(cut, len(secret) - 1))
    assert "jane" not in fragment and "roe" not in fragment and "example" not in fragment
    assert "[EMAIL]" in fragment
    key_text = "key AKIAIOSFODNN7EXAMPLE here"
    fragment = to_html(key_text, limit=5 + cut % 19)  # cuts inside the key
    assert "AKIA" not in fragment and "EXAMPLE" not in fragment and "[KEY]" in fragment


def test_negative_limit_is_refused():
    with pytest.raises(ValueError, match="limit"):
        to_html("x", limit=-1)


# --- snippets -------------------------------------------------------------------------------------------------

def _filler(n: int, word: str = "filler") -> str:
    return " ".join(f"{word}{i}" for i in range(n))


def test_snippet_picks_the_window_with_most_highlights():
    text = (_filler(40) + " neutrino once. " + _filler(40) + " neutrino oscillation and neutrino mass and "
            "NEUTRINO flux. " + _filler(40))
    snippet = snippet_html(text, {"neutrino", "oscillation"}, width=80)
    assert snippet.count("<mark>") == 4 and "once" not in snippet
    assert snippet.startswith("… ") and snippet.endswith(" …")
    assert "<mark>NEUTRINO</mark>" in snippet


def test_snippet_ties_go_to_the_earliest_window():
    text = "alpha " + _filler(60) + " omega beta " + _filler(60) + " beta"
    snippet = snippet_html(text, {"alpha", "beta"}, width=40)
    assert "<mark>alpha</mark>" in snippet and "omega" not in snippet and not snippet.startswith("…")


def test_snippet_is_cut_between_words():
    text = _filler(50, "word") + " target " + _filler(50, "word")
    pieces = [p for p in _read(snippet_html(text, {"target"}, width=60))[1].split() if p != "…"]
    assert "target" in pieces and all(p in text.split() for p in pieces)
    assert 40 <= len(" ".join(pieces)) <= 60


def test_snippet_without_matches_is_the_start_of_the_text():
    text = "The start of the text. " + _filler(100)
    assert snippet_html(text, {"absent"}, width=50).startswith("The start of the text.")
    assert snippet_html(text, width=50).endswith(" …") and snippet_html("short", width=50) == "short"


def test_highlight_is_whole_words_and_case_insensitive():
    fragment = to_html("Run, prune the runner; RUN run_fast rerun run", highlight={"RUN"})
    assert fragment == "<mark>Run</mark>, prune the runner; <mark>RUN</mark> run_fast rerun <mark>run</mark>"
    # A word cut by the limit is still the longer word.
    assert to_html("running late", highlight={"run"}, limit=3).startswith("run<br>")


def test_words_inside_redacted_spans_do_not_draw_the_snippet():
    text = ("Smith wrote the first draft. " + _filler(40) + " Write to smith.a@uni.edu, smith.b@uni.edu or "
            "smith.c@uni.edu. " + _filler(40))
    snippet = snippet_html(text, {"smith"}, width=60)
    assert snippet.startswith("<mark>Smith</mark> wrote") and "[EMAIL]" not in snippet


def test_snippet_text_is_plain_and_redacted_before_the_cut():
    # No space between the address and the hit: the window's edge falls inside the address.
    text = _filler(30) + " mailto:jane.roe@example.com;assay " + _filler(30)
    snippet = snippet_text(text, {"assay"}, width=24)
    assert snippet.startswith("… [EMAIL];assay") and snippet.endswith(" …")
    assert "<mark>" not in snippet and "example" not in snippet and "roe" not in snippet
    assert "jane.roe@example.com;assay" in snippet_text(text, {"assay"}, redact=False, width=60)


def test_words_are_unicode_words_lowercased():
    assert word_forms("naïve Über-Ansatz, 東京 x_y 42 über") == {"naïve", "über", "ansatz", "東京", "x_y", "42"}


def test_word_spans_are_the_words_whose_lowercase_is_asked_for():
    """The fast search in the lowercased text finds exactly the words (and the word forms starting with given
    letters) that visiting every word finds."""
    import random

    from gaia_lite.app.render import _WORD, _word_spans
    from gaia_lite.corpus.docstrings import iter_docstrings

    def every_word(text, lowered):
        return [m.span() for m in _WORD.finditer(text) if m.group().lower() in lowered]

    cases = [
        ("Cells and cell-free CELL lines; excellent cell_cycle cells", {"cell", "cells"}),
        ("aaa aa a_aa aa", {"aa", "a"}),
        ("a b, a-b", {"a b", "", "a-b", "b"}),
        ("İstanbul istanbul İSTANBUL", {"i̇stanbul", "istanbul"}),  # İ lowercases to two characters
        ("ΟΔΟΣ οδος ΟΔΟΣ.Α", {"οδος"}),  # capital sigma: its lowercase depends on what follows
        ("\u212aelvin kelvin Straße STRASSE", {"kelvin", "straße", "strasse"}),
        ("x2 2x x 22", {"x", "2"}),
    ]
    rng = random.Random(3)
    for record in iter_docstrings(500, progress=False):
        forms = sorted(word_forms(record["text"]))
        cases.append((record["text"], set(rng.sample(forms, min(5, len(forms)))) | {"the", "self", "x"}))
    for text, wanted in cases:
        lowered = frozenset(wanted)
        assert _word_spans(text, lowered) == every_word(text, lowered), (text[:80], wanted)
        starts = {w[:3] for w in wanted} | {w[:1] for w in wanted if w}
        every = {w for w in word_forms(text) if w.startswith(tuple(starts))}
        assert word_forms(text, starting=starts) == every, (text[:80], starts)


# --- cost -----------------------------------------------------------------------------------------------------

PATHOLOGICAL = {
    "local part then @": "a" * 100_000 + "@",
    "many @": "a@" * 200_000,
    "long domain": "a@" + "b." * 200_000,
    "dotted digits": "1." * 200_000,
    "hex and colons": "ab:" * 150_000,
    "plus groups": "+1 " * 150_000,
    "dashes": "555-" * 100_000,
    "sk runs": "sk-" * 150_000,
    "jwt-like": "eyJaaaaa." * 50_000,
    "assignments": "password=" * 50_000 + "x1",
    "open quote": 'password="' + "a" * 400_000,
    "unterminated keys": "-----BEGIN PRIVATE KEY-----" * 20_000,
}


@pytest.mark.parametrize("name", PATHOLOGICAL)
def test_pathological_inputs_finish(name):
    # Runs in well under a second with linear patterns; a backtracking one would not finish at all.
    text = PATHOLOGICAL[name]
    spans = find_pii(text)
    assert all(0 <= s.start < s.end <= len(text) for s in spans)


@pytest.mark.parametrize("text", ["a" * 400_000, "ab" * 200_000, "a-" * 200_000, "x" + "a" * 400_000])
def test_a_highlighted_word_recurring_inside_one_long_word_is_walked_once(text):
    # Each place a word string recurs inside a longer word is skipped with that word: one pass over the text.
    from gaia_lite.app.render import _word_spans

    assert len(snippet_html(text, {"a", "aa"}, width=50)) < 400
    assert len(to_html(text, highlight={"a", "ab"}, limit=1000)) < 20_000
    assert word_forms(text, starting={"a", "aa"}) == {w for w in word_forms(text) if w.startswith("a")}
    assert _word_spans(text, frozenset({"a"})) == ([(i, i + 1) for i in range(0, len(text), 2)]
                                                 if text.startswith("a-") else [])


def test_five_megabytes_of_mixed_text_is_scanned():
    para = ("We measured 1,234 samples in 1964 (p < 0.05). See doi 10.1038/nature12373, version 2.4.6. "
            "Contact john.doe@example.com or 555-123-4567. def f(x): return x @ w.T  # token = tok(x)\n")
    text = para * (5_000_000 // len(para) + 1)
    redacted, counts = redact_text(text)
    assert counts == {"email": text.count(para), "phone": text.count(para)}
    assert "john" not in redacted


def test_bounded_never_cuts_inside_personal_data():
    from gaia_lite.app.render import bounded

    text = "x" * 95 + " mail jane.doe@example.com now"
    for limit in range(90, len(text)):
        cut = bounded(text, limit)
        assert len(cut) >= min(limit, len(text))
        assert "jane" not in cut or "jane.doe@example.com" in cut, limit
        assert "jane.doe@example.com" not in snippet_text(cut, ["mail"], width=60)
    assert bounded("short", 100) == "short"

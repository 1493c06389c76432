"""Where a text could hold a name or a place: the cheap first step of the NER cascade.

The models cost about a millisecond per sentence, and most agent traffic (JSON, code, logs,
shell output) holds no name at all. This module finds, in linear time, the *trigger* words a
person name or a place needs — a capitalised word that is not an English function word, not
a code identifier and not all capitals — and returns character windows around them. Only the
windows go to the models; a text without triggers costs the models nothing.

A trigger is a word that

* starts with an upper-case letter and has a lower-case letter after it (``Ada``, ``Zoë``,
  ``O'Brien``; not ``HTTP``, not ``X``);
* has no digit or underscore and no capital after a lower-case letter (``HttpClient``,
  ``getUser``, ``Base64`` are code) — unless the inner capital follows a short prefix as in
  ``McDonald`` / ``MacLeod`` / ``DeShawn`` / ``LaToya`` (at most three letters before it);
* is not glued to code punctuation: not after ``.`` ``/`` ``\\`` ``$`` ``@`` ``#`` ``-``
  ``:`` ``{`` ``<``, not followed by ``(`` ``.x`` ``::`` ``=`` ``<`` ``/`` or a quoted key's
  ``":``;
* is not a common English word (``The``, ``Please``, ``Error``, ``Monday``): these open
  sentences, headings and log lines. The list holds function words and frequent words of
  prose, logs and code — no names, no places;
* when it opens a line or a sentence (where every word is capitalised), is followed by
  another capitalised word, by ``:`` / ``,`` or by the sentence end, or stands in a line
  that reads as prose rather than as a log line or code.

A text without a single capital letter gives case no say: every uncommon word of it is a
trigger. The window around a trigger reaches ``context`` characters each way, cut at
whitespace, so the model still sees the words that make a name a name; windows that touch
are merged, and a text mostly covered is passed whole. A trigger word met more than
``REPEAT_LIMIT`` times in one text (a product name on every log line) opens no more
windows; the detector copies what the models found for it to those repeats.

Measured when this was written: every gold name and place of the generated agent
traffic corpus lies inside a window; on presidio_synth_v2 3 of 1866 gold spans do not
(two all-capitals cities, a surname that is a common word).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

CONTEXT_CHARS = 64  # ~10 words each way: measured no loss against 96 on agent traffic
WHOLE_TEXT_SHARE = 0.7  # windows covering more than this share of a text: take the text
MERGE_GAP = 24
REPEAT_LIMIT = 3  # occurrences of one trigger word judged by the models, per text

# A word opening with a letter that is not a-z followed by one that is not A-Z (or by an
# apostrophe: O'Brien): title-case shapes, without the all-capitals words (HTTP, INFO) that
# fill logs and code. Which letters are upper or lower case beyond ASCII is checked in
# Python. Linear: fixed-width classes, then \w*.
_CAPITAL = re.compile(r"(?<![\w'’])[^\W\d_a-z](?:[^\W\d_A-Z]|['’][^\W\d_])[\w'’]*")
_SHOUTED = re.compile(r"(?<![\w'’])[^\W\d_a-z]{4,}(?![\w'’])")
_ANY_WORD = re.compile(r"(?<![\w'’])[^\W\d_][\w'’]*")
_CODE_BEFORE = frozenset("./\\$@#-:_*`<{+")
_CODE_AFTER = frozenset("(_*`<>[{/+")

_LINE_REACH = 160
_MACHINE = re.compile(r"[\[\]{}<>=|$\\]|;(?![ \t]+[a-z])|://|\d:\d\d|\w\.[^\W\d]\w*\.\w")
_OPENERS = frozenset(" \t\"'“‘([{*->#`")
_ENDERS = frozenset("\n\r;]|")
_COMMON = frozenset("""
a about above according across actually after afterwards again against ago ah all almost
alone along already also although always am among an and another any anybody anyone
anything anyway anywhere are around as ask at away back be because been before behind
being below beside besides best better between beyond both but by can cannot could dear
did do does doing done down during each either else enough even ever every everybody
everyone everything everywhere except few first for from further furthermore had has have
having he hello hence her here hers herself hey hi him himself his how however i if in
indeed instead into is it its itself just last least less let like many may maybe me
meanwhile might mine more moreover most mostly much must my myself namely neither never
nevertheless next no nobody none nor not nothing now nowhere of off often oh ok okay on
once one only onto or other others otherwise our ours ourselves out over own perhaps please
quite rather really same second see seems several shall she should since so some somebody
someone something sometimes somewhere soon still such than thank thanks that the their
theirs them themselves then there thereafter therefore these they third this those though
through throughout thus to today together tomorrow too toward towards under unless until up
upon us very via was we well were what whatever when whenever where whereas wherever
whether which while who whoever whole whom whose why will with within without would yes
yesterday yet you your yours yourself yourselves
monday tuesday wednesday thursday friday saturday sunday january february march april june
july august september october november december mon tue tues wed thu thur thurs fri sat sun
jan feb mar apr jun jul aug sep sept oct nov dec
mr mrs ms mx dr prof sir madam miss
note notes warning warn error errors info debug trace fatal critical notice todo fixme hack
see example examples usage returns return raises raise args arguments parameters params
param yields yield type types value values default defaults true false none null nil
summary description details detail title subject re fwd fw cc bcc attachment attachments
update updated updates updating create created creating delete deleted deleting remove
removed removing add added adding get gets getting set sets setting put post patch head
start started starting stop stopped stopping run running ran restart restarted load loaded
loading save saved saving open opened close closed send sent sending receive received
read write wrote written check checking checked fail failed failure failures success
successful successfully done complete completed pending processing processed ok passed pass
skip skipped skipping retry retrying retried timeout connected connecting connection
disconnected request requests response responses result results status state error
exception traceback file files line lines function method class module package version
build test tests testing step steps task tasks job jobs user users admin customer order
orders account accounts payment invoice total amount price item items product products
service server client host port path url data database table query key keys token tokens
config configuration settings option options input output message messages event events
log logs new old next previous first last current all other same different main local
global public private internal external hello welcome goodbye sorry congratulations
regards sincerely cheers best kind warm yours team support help contact name address
assistant system tool role content function
phone email date time day week month year morning afternoon evening night hour minute
street road avenue lane drive city state country north south east west central
author authors commit commits merge merged branch branches release released releases deploy
deployed deploying deployment deployments rollback change changes changed fix fixes fixed
feature features bug bugs issue issues incident alert alerts metric metrics health check
checks cache cached queue queued worker workers cluster node nodes pod pods container
containers image images volume volumes namespace secret secrets ingress cron schedule
scheduled service services handler handlers reads writes creates deletes updates loads
saves sends builds runs parses handles validates converts returns checks stores fetches
i'm i've i'll i'd it's that's there's here's what's let's don't can't won't isn't aren't
wasn't doesn't didn't we're we've you're you've they're
use using used find found write wrote explain show list tell give make made draft review
generate convert rewrite describe analyze analyse summarize summarise summary compare
translate replace remember book schedule call ask look try keep move copy paste install
search print include includes included provide provides need needs want wants think know
bearer basic authorization auth digest cookie cookies header headers page pages outputs
staging production prod dev development weather trip travel
""".split())


# All-capitals words of prose that are not places or names.
_ACRONYMS = frozenset("""
jsonl yaml toml html xml csv pdf http https rest grpc ascii unicode cors csrf oauth saml
ldap smtp imap dns tls ssl ssh vpn uuid guid sha md5 null true false none todo fixme xxx
select insert update delete create drop alter table where from join group order limit
values into index primary foreign unique default begin commit rollback grant revoke exists
text varchar char integer bigint smallint serial bigserial boolean numeric decimal float
double real date timestamp timestamptz interval json jsonb bytea array cascade
constraint references check distinct having union case when then else like between
returning conflict nothing
gdpr hipaa pci iban swift bic ceo cto cfo faq asap fyi eta utc gmt
""".split())


@dataclass(frozen=True, slots=True)
class Window:
    """A span of a text the NER models should read: ``text[start:end]``."""

    start: int
    end: int


def _glued_to_code(text: str, start: int, end: int) -> bool:
    if start > 0 and text[start - 1] in _CODE_BEFORE:
        return True
    if end < len(text):
        after = text[end]
        if after in _CODE_AFTER or after == "=":
            return True
        if after in ".:" and end + 1 < len(text) and (
                text[end + 1].isalnum() or text[end + 1] in "_:"):
            return True
        if after in "\"'":  # a quoted key: "Name": …
            index = end + 1
            while index < len(text) and index - end < 4 and text[index] == " ":
                index += 1
            return index < len(text) and text[index] == ":"
    return False


def is_trigger(text: str, start: int, end: int) -> bool:
    """Whether the word ``text[start:end]`` could be (part of) a name or a place, judged
    by its case (see the module notes)."""
    word = text[start:end].rstrip("'’")
    if len(word) < 2 or not word[0].isupper() or _glued_to_code(text, start, end):
        return False
    lower_seen = False
    for index, ch in enumerate(word[1:], start=1):
        if ch.isdigit() or ch == "_":
            return False
        if ch.isupper():
            # McDonald, MacLeod, DeShawn, LaToya, O'Brien: one inner capital after a short
            # prefix or an apostrophe.
            if (index > 3 or not (lower_seen or word[index - 1] in "'’")
                    or any(c.isupper() for c in word[index + 1:])):
                return False
        elif ch.islower():
            lower_seen = True
    if not lower_seen or word.lower().replace("’", "'") in _COMMON:
        return False
    opening = _opening(text, start)
    return opening is None or _opening_word_counts(text, start, end, opening == "sentence")


def _opening(text: str, start: int) -> str | None:
    """``"line"`` when the word at ``start`` opens a line or a bracketed message (log lines,
    headings, docstrings), ``"sentence"`` when it follows a sentence end: every such word is
    capitalised, name or not. None elsewhere."""
    index = start - 1
    while index >= 0 and text[index] in _OPENERS:
        index -= 1
    if index < 0 or text[index] in _ENDERS:
        return "line"
    if text[index] in ".!?" and index < start - 1 and (
            text[index] != "." or not _abbreviation_before(text, index)):
        return "sentence"
    return None


def _abbreviation_before(text: str, dot: int) -> bool:
    """"Mr." / "Dr." / "J." before a dot: a title or an initial, not a sentence end."""
    begin = dot
    while begin > 0 and dot - begin < 4 and text[begin - 1].isalpha():
        begin -= 1
    word = text[begin:dot]
    return 0 < len(word) <= 3 and word[0].isupper() and (begin == 0
                                                         or not text[begin - 1].isalnum())


def _line_start(text: str, position: int) -> int:
    """Where the line holding ``position`` starts, looking back at most ``_LINE_REACH``."""
    start = text.rfind("\n", max(0, position - _LINE_REACH), position) + 1
    return position - _LINE_REACH if start == 0 and position > _LINE_REACH else start


def _line_end(text: str, position: int) -> int:
    """Where the line holding ``position`` ends, looking on at most ``_LINE_REACH``."""
    end = text.find("\n", position, position + _LINE_REACH)
    return min(len(text), position + _LINE_REACH) if end == -1 else end


def _opening_word_counts(text: str, start: int, end: int, after_sentence: bool) -> bool:
    """An opening word still counts when a capitalised word follows it ("Ada Quist said",
    "New Zealand is"), a name-like separator does ("Sara: who are you?"), it is a sentence
    on its own ("Last name? Magnusson"), or its line reads as prose rather than as a log
    line or code (no brackets, braces, ``=``, a ``;`` ending a statement, ``|``, ``$``,
    URLs, clock times or dotted package paths). After a sentence end only the words from
    it on are read ("… at 10:02. Arjun asked …" is prose)."""
    line_start = _line_start(text, start)
    if text.startswith(("    ", "\t"), line_start) or text[line_start:start].lstrip(" ")[:1] == "#":
        return False  # an indented line (code, a docstring) or a heading / comment
    index = end
    while index < len(text) and text[index] in " \t":
        index += 1
    if index >= len(text) or text[index] in ":,.!?\n\r" or text[index].isupper():
        return True
    return _MACHINE.search(text, start if after_sentence else line_start,
                           _line_end(text, end)) is None


def is_caseless_trigger(text: str, start: int, end: int) -> bool:
    """In a text written in one case (given here in lower case), any uncommon word that is
    not code."""
    word = text[start:end].rstrip("'’")
    return (len(word) >= 2 and word.isalpha() and word not in _COMMON
            and not _glued_to_code(text, start, end))


def is_shouted_trigger(text: str, start: int, end: int) -> bool:
    """An all-capitals word of four letters or more in a mixed-case line that reads as
    prose ("we moved here from ESPOO"), unless it is a common word or acronym."""
    word = text[start:end]
    if not (word.isalpha() and word.isupper()) or _glued_to_code(text, start, end):
        return False
    if word.lower() in _COMMON or word.lower() in _ACRONYMS:
        return False
    line = text[_line_start(text, start):_line_end(text, end)]
    return line.upper() != line and _MACHINE.search(line) is None


def triggers(text: str) -> list[tuple[int, int]]:
    """Start and end of every trigger word, in order. A text written in one case only
    (no capital letter, or no small one) gives case no say: every uncommon word of it is a
    trigger."""
    lower = text.lower()
    if lower != text and text.upper() != text:
        found = [(m.start(), m.end()) for m in _CAPITAL.finditer(text)
                 if is_trigger(text, m.start(), m.end())]
        shouted = [(m.start(), m.end()) for m in _SHOUTED.finditer(text)
                   if is_shouted_trigger(text, m.start(), m.end())]
        return sorted(found + shouted) if shouted else found
    return [(m.start(), m.end()) for m in _ANY_WORD.finditer(lower)
            if is_caseless_trigger(lower, m.start(), m.end())]


def word_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Start and end of every word of ``text[start:end]`` (as triggers are cut)."""
    return [(m.start(), m.end()) for m in _ANY_WORD.finditer(text, start, end)]


def cut_left(text: str, position: int, limit: int) -> int:
    """A window start about ``limit`` characters before ``position``, at a word boundary."""
    floor = position - limit
    if floor <= 0:
        return 0
    cuts = [c for c in (text.find(" ", floor, position), text.find("\n", floor, position))
            if c != -1]
    return min(cuts) + 1 if cuts else floor


def cut_right(text: str, position: int, limit: int) -> int:
    """A window end about ``limit`` characters after ``position``, at a word boundary."""
    ceiling = position + limit
    if ceiling >= len(text):
        return len(text)
    cut = max(text.rfind(" ", position, ceiling), text.rfind("\n", position, ceiling))
    return cut if cut != -1 else ceiling


@dataclass(frozen=True, slots=True)
class Plan:
    """What the models read of a text (``windows``), the repeated trigger words left out
    (``repeats``: start, end) whose verdict the models' findings for the same words
    elsewhere in the text decide, and every trigger word (``triggers``)."""

    windows: tuple[Window, ...]
    repeats: tuple[tuple[int, int], ...] = ()
    triggers: tuple[tuple[int, int], ...] = ()


def plan(text: str, context: int = CONTEXT_CHARS,
         repeat_limit: int = REPEAT_LIMIT) -> Plan:
    """Windows of ``text`` that hold every trigger with ``context`` characters around it,
    merged. A trigger word met more than ``repeat_limit`` times (a template in a log, a
    product name on every line) opens no window after that: its later occurrences are
    ``repeats``. No trigger, no window."""
    found = triggers(text)
    if not found:
        return Plan(())
    spans: list[list[int]] = []
    seen: dict[str, int] = {}
    skipped: list[tuple[int, int]] = []
    for start, end in found:
        word = text[start:end]
        seen[word] = seen.get(word, 0) + 1
        if seen[word] > repeat_limit:
            skipped.append((start, end))
            continue
        if spans and start <= spans[-1][1]:
            # Inside the previous window: extend it to cover this trigger's context.
            spans[-1][1] = max(spans[-1][1], cut_right(text, end, context))
            continue
        left, right = cut_left(text, start, context), cut_right(text, end, context)
        if spans and left - spans[-1][1] <= MERGE_GAP:
            spans[-1][1] = right
        else:
            spans.append([left, right])
    covered = sum(end - start for start, end in spans)
    if covered >= WHOLE_TEXT_SHARE * len(text):
        return Plan((Window(0, len(text)),), (), tuple(found))
    chosen = tuple(Window(start, end) for start, end in spans if start < end)
    starts = [w.start for w in chosen]  # sorted, windows disjoint

    def inside(start: int, end: int) -> bool:
        at = bisect_right(starts, start) - 1
        return at >= 0 and end <= chosen[at].end

    return Plan(chosen, tuple((s, e) for s, e in skipped if not inside(s, e)), tuple(found))


def windows(text: str, context: int = CONTEXT_CHARS) -> list[Window]:
    """The windows of :func:`plan`."""
    return list(plan(text, context).windows)

"""The built-in classifier: weighted patterns per category, combined as a noisy-or (each
matching pattern of weight w leaves the text a 1 - w chance of being clean). It works offline
and in microseconds, and is as good as its lists: it catches what is said plainly and misses
paraphrase, which is why an upstream moderation model can replace it (see bench/moderation.py
for its precision and recall)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from levante.guardrails.categories import CATEGORIES, Moderation

NAME = "levante-moderation-lexicon"

_W = r"(?:\b|(?<=\W))"
# (pattern, weight): a pattern is matched case-insensitively at word boundaries.
_PATTERNS: dict[str, list[tuple[str, float]]] = {
    "sexual": [
        (r"porn\w*", 0.8),
        (r"nude(s)?|naked", 0.5),
        (r"sex(ual(ly)?)?\s+(act|content|favou?rs?|chat|story)", 0.7),
        (r"explicit\s+(sex|sexual|erotic)\w*", 0.8),
        (r"erotic\w*", 0.6),
        (r"have\s+sex", 0.7),
        (r"orgasm\w*|masturbat\w*", 0.8),
        (r"blow\s?job|handjob", 0.9),
        (r"strip\s?tease|onlyfans", 0.6),
        (r"horny|seduc\w+", 0.5),
    ],
    "hate_and_discrimination": [
        (
            r"(all|those|these)\s+\w+\s+(are|should be)\s+(vermin|animals|subhuman|inferior|parasites|scum)",
            0.9,
        ),
        (r"subhuman|inferior\s+race|master\s+race|ethnic\s+cleansing", 0.9),
        (r"go\s+back\s+to\s+(your|their)\s+(own\s+)?country", 0.7),
        (
            r"(hate|despise)\s+(all\s+)?(jews|muslims|christians|blacks|whites|gays|immigrants|women|men)",
            0.9,
        ),
        (
            r"(jews|muslims|immigrants|gays|women|blacks)\s+(are|should)\s+(be\s+)?(banned|deported|exterminated|inferior|not allowed)",
            0.9,
        ),
        (r"racial\s+slur\w*|n[i1]gg\w*|f[a@]gg?ots?|k[i1]kes?|sp[i1]cs?|chinks?|tranny", 0.9),
        (r"don'?t\s+hire\s+(women|immigrants|foreigners|old people)", 0.7),
    ],
    "violence_and_threats": [
        (
            r"(i|we)('ll| will| am going to| gonna)\s+(kill|murder|stab|shoot|hurt|beat)\s+(you|him|her|them)",
            0.95,
        ),
        (r"kill\s+(you|him|her|them|everyone)", 0.8),
        (r"(beat|punch)\s+(you|him|her|them)\s+up", 0.7),
        (r"murder\w*|massacre\w*|slaughter\w*", 0.6),
        (r"shoot\s+up|mass\s+shooting", 0.9),
        (r"torture\w*|behead\w*", 0.7),
        (r"you('| )?(re| are)\s+(dead|going to die)", 0.8),
        (r"burn\s+(your|his|her|their)\s+house", 0.85),
    ],
    "dangerous_and_criminal_content": [
        (r"(make|build|assemble)\s+(a\s+)?(bomb|explosive|pipe\s?bomb|molotov)", 0.95),
        (
            r"(synthesi[sz]e|cook|make)\s+(meth\w*|heroin|fentanyl|cocaine|nerve\s+agent|sarin|ricin)",
            0.95,
        ),
        (r"launder(ing)?\s+(the\s+)?money", 0.8),
        (r"steal\s+(a\s+|someone'?s\s+)?(car|identity|credit card|password)", 0.85),
        (r"hack\s+into|ddos\s+attack|ransomware|keylogger|phishing\s+(email|kit|page)", 0.8),
        (
            r"pick\s+a\s+lock\s+to|break\s+into\s+(a|my neighbou?r'?s|someone'?s)\s+(house|home|car)",
            0.8,
        ),
        (
            r"buy\s+(a\s+)?(gun|weapons?|drugs)\s+(illegally|without\s+a\s+licen[cs]e|on\s+the\s+dark\s*web)",
            0.9,
        ),
        (r"evade\s+(the\s+)?(police|taxes)|counterfeit\s+(money|bills|currency)", 0.8),
        (r"poison\s+(someone|my|him|her|the)", 0.9),
    ],
    "selfharm": [
        (r"kill\s+myself|end\s+my\s+life|take\s+my\s+(own\s+)?life|suicid\w*", 0.95),
        (r"(cut|cutting|hurt|hurting|harm|harming)\s+myself|self[-\s]?harm", 0.9),
        (r"want\s+to\s+die|don'?t\s+want\s+to\s+live|better\s+off\s+dead", 0.9),
        (r"overdose\s+on|how\s+many\s+(pills|tablets)\s+(to|would)", 0.85),
        (r"starv(e|ing)\s+myself|purg(e|ing)\s+after\s+(eating|meals)", 0.8),
    ],
    "health": [
        (
            r"(should|can)\s+i\s+(take|stop\s+taking|double)\s+(my\s+)?(\w+\s+){0,3}(medication|meds|pills|dose|insulin|antibiotics)",
            0.8,
        ),
        (r"(diagnose|diagnosis\s+for)\s+(my|this)", 0.7),
        (
            r"(is\s+this|could\s+this\s+be)\s+(cancer|a\s+tumou?r|a\s+heart\s+attack|diabetes|a\s+stroke)",
            0.8,
        ),
        (r"what\s+(dose|dosage)\s+of", 0.8),
        (r"(treat|cure)\s+my\s+\w+", 0.6),
        (r"symptoms?\s+(of|i\s+have)", 0.5),
        (r"(chest|stomach)\s+pain", 0.5),
    ],
    "financial": [
        (r"(should|which)\s+i\s+(buy|sell|invest\s+in|short)\s+\w*", 0.6),
        (r"(best|which)\s+(stocks?|crypto\w*|shares|etfs?)\s+(to|should)\s+(buy|invest)", 0.85),
        (r"invest\s+my\s+(savings|pension|retirement|money)", 0.8),
        (r"(stock|crypto)\s+tips?", 0.7),
        (r"(take\s+out|get)\s+a\s+(loan|mortgage)\s+to\s+(buy|invest)", 0.7),
        (r"guaranteed\s+(returns?|profits?)", 0.6),
        (r"put\s+all\s+my\s+money\s+(in|into)", 0.8),
    ],
    "law": [
        (r"(can|should)\s+i\s+(sue|be\s+sued|press\s+charges)", 0.85),
        (r"(my|a)\s+lawyer\s+(said|says)", 0.5),
        (r"is\s+it\s+(legal|illegal)\s+(to|for\s+me)", 0.8),
        (r"(draft|write)\s+(me\s+)?(a|my)\s+(will|contract|lease|nda)", 0.7),
        (r"(how\s+do\s+i|can\s+i)\s+(get\s+out\s+of|break)\s+(my\s+)?(lease|contract)", 0.8),
        (r"(custody|divorce|eviction)\s+(case|battle|hearing|rights)", 0.7),
        (r"plead\s+(guilty|not\s+guilty)", 0.8),
        (r"legal\s+advice", 0.7),
    ],
}
# Personal data is matched by its shape rather than by words.
_PII: list[tuple[str, float]] = [
    (r"[\w.+-]{1,64}@[\w-]{1,63}\.[\w.-]{2,63}", 0.8),  # an e-mail address (bounded: linear)
    (r"\b\d{3}-\d{2}-\d{4}\b", 0.95),  # a US social security number
    (r"\b(?:\d[ -]?){13,16}\b", 0.9),  # a card number
    (r"\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){3,7}\b", 0.9),  # an IBAN
    (
        r"(my|his|her)\s+(passport|social\s+security|ssn|credit\s+card|bank\s+account)\s+(number\s+)?(is|:)",
        0.8,
    ),
    (r"(my|his|her)\s+(home\s+)?address\s+is\s+\d+", 0.85),
]
_PHONE = re.compile(r"(?<![\w.])(?:\+\d{1,3}[\s.-]?)?(?:\(?\d{2,4}\)?[\s.-]){2,4}\d{2,4}(?![\w.])")


def _compile(pairs: Sequence[tuple[str, float]]) -> list[tuple[re.Pattern[str], float]]:
    return [(re.compile(rf"{_W}(?:{p})", re.IGNORECASE), w) for p, w in pairs if w > 0]


_COMPILED = {name: _compile(pairs) for name, pairs in _PATTERNS.items()} | {"pii": _compile(_PII)}


class LexiconClassifier:
    """The offline classifier (``levante-moderation-lexicon``)."""

    name = NAME

    def classify(self, texts: Sequence[str]) -> list[Moderation]:
        return [Moderation(_scores(text)) for text in texts]


def _scores(text: str) -> dict[str, float]:
    scores: dict[str, float] = {}
    for name in CATEGORIES:
        clean = 1.0
        for pattern, weight in _COMPILED[name]:
            if pattern.search(text):
                clean *= 1.0 - weight
        if name == "pii" and _phone(text):
            clean *= 0.2
        scores[name] = round(1.0 - clean, 4)
    return scores


def _phone(text: str) -> bool:
    """A phone number: 8 to 15 digits in groups, not a date or an amount."""
    for match in _PHONE.finditer(text):
        digits = sum(c.isdigit() for c in match.group())
        if 8 <= digits <= 15:
            return True
    return False

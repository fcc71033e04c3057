"""Organizations the list lacks (pure): names read from how news writes them.

Most companies in deal and funding news are not famous ("marketing-software firm Acme buys AI
start-up Zeta"), so events cannot depend on entities.yaml alone. A name is taken where the
wording says it is an organization, never from capitals alone:

- a cue word before it: `start-up Zeta`, `AI firm Zeta`, `chipmaker Zeta`;
- a company suffix: `Zeta Inc.`, `Zeta Labs`, `Zeta Technologies`, `Zeta AI`;
- a deal position: the headline's subject before `raises`, `lands`, `acquires`, `buys`, `emerges`
  ...; the object after `acquires`, `buys`, `invests in`, `partners with`, `stake in`;
- Korean: a name ending in a company word (`...테크`, `...랩스`, `...소프트`, `...로보틱스`,
  `...AI`), `㈜`/`(주)` before a name, or the headline's subject before a comma or a
  topic particle when the headline is about a deal (`마키나락스, 시리즈C 투자 유치`).

Names made only of common words ("The", "New", "Why") or naming a government are dropped, as are
names already in the list (those are found by `Entities`).
"""

from __future__ import annotations

import re

from service.detect.entities import Entities
from service.detect.rules import fold

_NAME = r"([A-Z][\w&'’.-]*[\w&]|[A-Z])((?:\s+(?:[A-Z0-9][\w&'’.-]*[\w&]|[A-Z0-9]|AI|of|de|&)){0,3})"
_CUE = re.compile(
    r"\b(?:start-?ups?|startups?|firms?|companies|company|makers?|chipmakers?|developers?|providers?|unicorns?|"
    r"rivals?|labs?|outfits?|platforms?|specialists?|vendors?|subsidiary|spinout|spin-off)\s+" + _NAME
)
_SUFFIX = re.compile(
    _NAME[:-1] + r"\s+(?:Inc|Corp|Corporation|Ltd|LLC|GmbH|SA|AG|Labs?|Technologies|Technology|Robotics|Systems|"
    r"Software|Networks|Dynamics|Semiconductor|Therapeutics|Holdings|Group|Health|Security|AI|Intelligence)\b)"
)
_SUBJECT = re.compile(
    r"^" + _NAME + r"(?:,[^,]{1,60},)?\s+(?:raises|raised|lands|secures|closes|nabs|snags|bags|scores|gets|banks|"
    r"acquires|acquired|buys|bought|to acquire|to buy|is acquiring|emerges|exits stealth|partners|signs|inks|"
    r"teams up|files for|prices|hits|is valued|valued at|merges)\b"
)
_OBJECT = re.compile(
    r"\b(?:acquires|acquired|acquiring|acquisition of|buys|bought|buying|to acquire|to buy|invests in|"
    r"investment in|backs|backed|partners with|partnering with|partnership with|teams up with|deal with|"
    r"stake in|merge with|merges with|merger with)\s+(?:AI\s+)?(?:start-?up\s+|startup\s+|firm\s+|rival\s+)?" + _NAME
)
_KO_SUFFIX = re.compile(
    r"((?:㈜|\(주\)\s?)?[가-힣A-Za-z0-9]{1,12}(?:테크놀로지|테크|랩스|랩|소프트|시스템즈|시스템|로보틱스|바이오|"
    r"에이아이|모빌리티|솔루션즈|솔루션|네트웍스|네트워크|코리아|파트너스|인베스트먼트|벤처스|AI|ai))(?![가-힣A-Za-z0-9])"
)
_KO_CORP = re.compile(r"(?:㈜|\(주\))\s?([가-힣A-Za-z0-9]{2,12})")
_KO_SUBJECT = re.compile(
    r"^\s*([가-힣A-Za-z0-9&.·]{2,15})(?:,|\s?(?:이|가|은|는)\s)(?=.*(?:투자|유치|인수|합병|협약|MOU|맞손|손잡|제휴|"
    r"계약|공급|상장|펀딩|시리즈))"
)
_CAPITAL = re.compile(r"[A-Z]")
_HANGUL = re.compile(r"[가-힣]")
_ADJECTIVE = re.compile(r"-(?:like|style|based|powered|backed|focused|native|first|led)$", re.IGNORECASE)
_COMMON_WORDS = (
    "The A An This That These Those Why How What When Where Who Which New Inside Exclusive Report Update "
    "Breaking Opinion Analysis Review Here Today Now AI It Its Our We You They He She Is Are Was Will Can "
    "Government Congress Senate Court State States White House Pentagon EU US UK China India Japan Korea "
    "Startup Startups Start-up Start-ups Company Companies Firm Lab Investors Report Reports Sources Everything Every All Some More "
    "정부 국회 과기정통부 과학기술정보통신부 산업부 중기부 금융위 미국 중국 일본 한국 유럽 기업 업계 스타트업 "
    "국내 정부는 이번 올해 오늘 AI타임스 게시판"
)
_COMMON = frozenset(fold(w) for w in _COMMON_WORDS.split())


def _clean(name: str) -> str | None:
    """The name without a possessive, a corporate mark or leading common words ("Startup Tessl")."""
    name = name.replace("’s", "").replace("'s", "").replace("㈜", " ").replace("(주)", " ")
    words = name.split()
    while words and fold(words[0]) in _COMMON:
        words.pop(0)
    name = " ".join(words).strip(" .,&-")
    if _ADJECTIVE.search(name) or len(name) < 2 or name.isdigit() or fold(name) in _COMMON:
        return None
    return name


def unlisted_orgs(text: str, entities: Entities) -> list[str]:
    """Organization names in an original (not case-folded) text that entities.yaml does not list."""
    found: list[str] = []
    if _CAPITAL.search(text):
        for rx in (_SUBJECT, _OBJECT, _CUE, _SUFFIX):
            found.extend(m.group(1) + (m.group(2) or "") for m in rx.finditer(text))
    if _HANGUL.search(text):
        for rx in (_KO_SUBJECT, _KO_CORP, _KO_SUFFIX):
            found.extend(m.group(1) for m in rx.finditer(text))
    out: list[str] = []
    for raw in found:
        name = _clean(raw)
        if name is None or name in out:
            continue
        if entities.find(fold(name)):
            continue  # a listed organization (or one that contains one): Entities finds it
        out.append(name)
    return out

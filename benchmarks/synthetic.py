"""Deterministic synthetic claims for the claimstore benchmarks.

Everything here is a pure function of ``seed``: the same seed gives the same
speakers, sources and claims on every machine and every run (only the ids the
server assigns differ). The data imitates the news claims claimstore keeps:

* about 300 speakers (people, ministries, groups, anonymous sources) with
  titles, affiliations, aliases and unique Wikidata ids;
* about 2,000 sources, articles and posts of about 30 outlets, each with a
  unique url;
* claims of 8 to 60 words drawn from an English word list weighted by Zipf's
  law, 0 to 4 topics out of about 200, 1 to 3 citations, stated over two years
  (2023 and 2024) with mixed date precisions and attributions. Speakers are
  drawn by Zipf's law too, so a few speak a lot and every one has some claims.

Claims name their speaker and sources inline (``Claim.speaker``,
``Citation.source``), so :func:`generate_claims` alone is a self-contained
data set: the server matches the speaker by Wikidata id and each source by url,
creating them the first time. Pass ``speaker_ids`` / ``source_ids`` to refer to
already stored ones by id instead.

Usage::

    from benchmarks.synthetic import generate_claims, generate_speakers

    for request in generate_claims(1_000, seed=7):
        client_or_store.create_claim(request)
"""

from __future__ import annotations

import itertools
import random
import re
from bisect import bisect
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Final, TypeVar

from claimstore.v1 import claim_pb2, claim_service_pb2, source_pb2, speaker_pb2
from google.protobuf.timestamp_pb2 import Timestamp

GENERATOR_VERSION: Final = 1
"""Bumped whenever the output for a given seed changes (benchmark caches key on it)."""

SPEAKER_COUNT: Final = 300
SOURCE_COUNT: Final = 2_000
TOPIC_COUNT: Final = 200

PERIOD_START: Final = datetime(2023, 1, 1, tzinfo=UTC)
PERIOD_END: Final = datetime(2025, 1, 1, tzinfo=UTC)


def _split(text: str) -> tuple[str, ...]:
    """The white-space separated words of ``text``, in order."""
    return tuple(text.split())


# Roughly the most frequent English words in news text, most frequent first: the
# rank sets the Zipf weight (1 / rank) of each word.
_WORDS: Final = _split(
    """
the of to and a in that is for on said was with he it as by at be from has have his not
are this but an they will were had would its who which their been more we after there
one also all about over than president new up out or two she can government people if
what no year first when last minister so other into could told war our some years time
against them state only states country military about just talks officials united
because between since any while peace under most foreign three may during ministry
against where should now very security such support week how many before law including
those told him national her like then these made through much report public million did
us both policy forces people month being being even part percent well back next
political party economy still world leaders international according second would own
news long energy trade agreement sanctions border deal attack billion statement decision
plan meeting again day whether election already russia ukraine china europe european
union american russian chinese nato spokesman office defense prices power troops region
city officials weapons aid funding group members council force military held bank
interest rates inflation growth markets oil gas supply prime secretary parliament vote
campaign court ruling investigation evidence called added according further continue
continued need needs must help work working take taking make making say says saying see
seen know knew think thought want wanted going go went come came give gave find found
show shows shown expect expected believe clear important possible necessary ready able
likely major large small high low good best better worse strong weak fair free open full
real true false early late recent future past current present local global regional
federal cost costs budget tax taxes spending debt deficit jobs workers wages health
hospital vaccine climate emissions coal nuclear water food grain exports imports tariffs
companies industry technology data internet social media children families women men
citizens voters refugees migrants migration attack attacks strike strikes missile
missiles drone drones ceasefire front line offensive positions territory control city
villages infrastructure civilians casualties killed wounded losses damage destroyed
restored negotiations proposal proposals demands conditions guarantees partners allies
alliance members summit visit visited phone call envoy delegation president's
government's minister's country's never always sometimes often already soon later today
yesterday tomorrow earlier recently finally again however although despite without
within across around among toward towards up down off above below near far inside
outside behind ahead together increase increased decrease decreased rise rose fall fell
reach reached record level levels rate rates share shares number numbers half quarter
dozens hundreds thousands millions billions trillion first second third fourth fifth ten
twenty hundred thousand per cent percent figures announced confirmed denied rejected
accepted agreed refused warned urged promised pledged claimed insisted stressed noted
argued accused blamed praised criticized condemned welcomed supported opposed backed
signed approved passed blocked delayed postponed cancelled launched started ended
stopped resumed suspended lifted imposed extended expanded reduced cut raised lowered
doubled tripled halved hit missed met failed succeeded won lost gained faced threatened
attacked defended protected secured provided delivered sent received offered requested
asked answered responded sources reports reported reportedly allegedly apparently
officially publicly privately directly indirectly fully partly largely mainly mostly
nearly almost roughly about approximately exactly precisely simply only
"""
)

_FIRST_NAMES: Final = _split(
    """
Anna Boris Carlos Dmitry Elena Fatima Georg Hana Ivan Julia Kenji Lucia Mikhail Nadia
Olaf Pierre Qasim Rosa Sergei Tamara Ursula Viktor Wei Xavier Yulia Zoran Ahmed Beatriz
Chen Daniela Emmanuel Friedrich Giorgia Hassan Ingrid Jean-Noël Kamala Leila Mateusz
Nicolás Olena Pedro Rishi Sanna Tomás Volodymyr Antony Kaja Josep Mette Recep Narendra
Luiz Cyril Benjamin Mohammed Ali Keir Olaf
"""
)

_LAST_NAMES: Final = _split(
    """
Petrov Kovalenko Müller García Rossi Nowak Dubois Schmidt Tanaka Ivanova Shevchenko
Novak Horváth Jensen Andersen Lindqvist Virtanen Papadopoulos Yilmaz Kaya Haddad Mansour
Okafor Mensah Silva Santos Pereira Costa Ferreira Rodríguez López Martínez González
Hernández Barrot Lavrov Peskov Zakharova Kuleba Sybiha Yermak Podolyak Blinken Sullivan
Kirby Miller Borrell Kallas Stoltenberg Rutte Scholz Baerbock Macron Séjourné Meloni
Tajani Sánchez Albares Tusk Sikorski Orbán Szijjártó Fico Erdoğan Fidan Modi Jaishankar
Wang Zhao Mao Lin Kim Park Lee Nguyen Tran Hoang Abe Kishida Kamikawa Guterres
"""
)

_TITLES: Final = (
    "President",
    "Prime Minister",
    "Foreign Minister",
    "Defense Minister",
    "Finance Minister",
    "Energy Minister",
    "Deputy Foreign Minister",
    "Kremlin spokesman",
    "Foreign Ministry spokeswoman",
    "White House spokesman",
    "State Department spokesman",
    "National Security Adviser",
    "Secretary General",
    "High Representative for Foreign Affairs",
    "Chief of Staff",
    "presidential adviser",
    "Member of Parliament",
    "Senator",
    "Governor",
    "Mayor",
    "central bank governor",
    "army commander",
    "chief negotiator",
    "ambassador to the United Nations",
    "opposition leader",
    "party chairman",
    "economist",
    "energy analyst",
    "military analyst",
    "special envoy",
)

_AFFILIATIONS: Final = (
    "Russia",
    "Ukraine",
    "United States",
    "China",
    "France",
    "Germany",
    "Italy",
    "Spain",
    "Poland",
    "Hungary",
    "Slovakia",
    "Turkey",
    "India",
    "Japan",
    "South Korea",
    "Brazil",
    "South Africa",
    "Israel",
    "Iran",
    "Saudi Arabia",
    "Qatar",
    "Egypt",
    "United Kingdom",
    "Estonia",
    "Finland",
    "Sweden",
    "Norway",
    "Denmark",
    "European Union",
    "NATO",
    "United Nations",
    "International Monetary Fund",
    "World Bank",
    "Democratic Party",
    "Republican Party",
    "Labour Party",
    "Conservative Party",
    "Gazprom",
    "Naftogaz",
    "OPEC",
)

_ORGANIZATION_KINDS: Final = (
    "Ministry of Defence",
    "Foreign Ministry",
    "Ministry of Finance",
    "General Staff",
    "Central Bank",
    "Energy Ministry",
    "Presidential Office",
    "Security Service",
)

_GROUPS: Final = (
    "European governments",
    "G7 leaders",
    "NATO allies",
    "Nordic countries",
    "Baltic states",
    "BRICS members",
    "Western officials",
    "Gulf states",
    "opposition parties",
    "EU foreign ministers",
)

_ANONYMOUS: Final = (
    "two sources familiar with the matter",
    "a senior official who asked not to be named",
    "people briefed on the talks",
    "three diplomats",
    "a person close to the negotiations",
    "officials speaking on condition of anonymity",
)

# (publisher, domain, share of posts among its sources)
_OUTLETS: Final = (
    ("Reuters", "reuters.com", 0.0),
    ("Associated Press", "apnews.com", 0.0),
    ("Agence France-Presse", "afp.com", 0.0),
    ("BBC News", "bbc.com", 0.0),
    ("The New York Times", "nytimes.com", 0.0),
    ("The Washington Post", "washingtonpost.com", 0.0),
    ("The Guardian", "theguardian.com", 0.0),
    ("Financial Times", "ft.com", 0.0),
    ("The Wall Street Journal", "wsj.com", 0.0),
    ("Bloomberg", "bloomberg.com", 0.0),
    ("Politico Europe", "politico.eu", 0.0),
    ("Deutsche Welle", "dw.com", 0.0),
    ("Le Monde", "lemonde.fr", 0.0),
    ("Der Spiegel", "spiegel.de", 0.0),
    ("El País", "elpais.com", 0.0),
    ("Corriere della Sera", "corriere.it", 0.0),
    ("Kyiv Independent", "kyivindependent.com", 0.0),
    ("Ukrainska Pravda", "pravda.com.ua", 0.0),
    ("TASS", "tass.com", 0.0),
    ("RIA Novosti", "ria.ru", 0.0),
    ("Interfax", "interfax.com", 0.0),
    ("Meduza", "meduza.io", 0.0),
    ("Al Jazeera", "aljazeera.com", 0.0),
    ("Xinhua", "xinhuanet.com", 0.0),
    ("NHK World", "nhk.or.jp", 0.0),
    ("The Times of India", "timesofindia.com", 0.0),
    ("Axios", "axios.com", 0.0),
    ("CNN", "cnn.com", 0.0),
    ("X", "x.com", 1.0),
    ("Telegram", "t.me", 1.0),
)

_SUBJECTS: Final = """
sanctions|peace plan|ceasefire|energy prices|gas supplies|oil exports|grain
exports|nuclear safety|air defense|military aid|arms deliveries|prisoner
exchange|reconstruction|refugees|migration|inflation|interest rates|budget|
elections|corruption|trade tariffs|climate policy|frozen assets|shipping|
cyberattacks|disinformation|human rights|war crimes|mobilization|drone strikes|
border security|humanitarian aid|food security|debt relief|EU membership|NATO
membership|security guarantees|peace talks|troop withdrawal|occupied
territories|power grid|nuclear weapons|missile defense|espionage|media freedom|
press freedom|judicial reform|minority rights|public health
""".replace("\n", " ")

_REGIONS: Final = (
    "Ukraine",
    "Russia",
    "Black Sea",
    "Baltic",
    "Middle East",
    "Gaza",
    "Red Sea",
    "Taiwan",
    "Sahel",
    "Balkans",
    "Caucasus",
    "Arctic",
    "Donbas",
    "Crimea",
    "Zaporizhzhia",
    "Kharkiv",
    "EU",
    "US",
)

_CHANNELS: Final = (
    "",
    "press conference",
    "briefing",
    "statement",
    "statement on Telegram",
    "post on X",
    "interview with Reuters",
    "television interview",
    "speech to parliament",
    "call with U.S. envoy",
    "joint press conference",
    "video address",
    "speech at the UN General Assembly",
    "remarks to reporters",
)

_SOURCE_KINDS: Final[tuple[tuple[source_pb2.SourceKind.ValueType, float], ...]] = (
    (source_pb2.SOURCE_KIND_NEWS_ARTICLE, 0.70),
    (source_pb2.SOURCE_KIND_OFFICIAL_STATEMENT, 0.08),
    (source_pb2.SOURCE_KIND_PRESS_CONFERENCE, 0.06),
    (source_pb2.SOURCE_KIND_INTERVIEW, 0.08),
    (source_pb2.SOURCE_KIND_VIDEO, 0.04),
    (source_pb2.SOURCE_KIND_DOCUMENT, 0.04),
)

_ATTRIBUTIONS: Final[tuple[tuple[claim_pb2.Attribution.ValueType, float], ...]] = (
    (claim_pb2.ATTRIBUTION_DIRECT_QUOTE, 0.45),
    (claim_pb2.ATTRIBUTION_PARAPHRASE, 0.40),
    (claim_pb2.ATTRIBUTION_REPORTED, 0.15),
)

_PRECISIONS: Final[tuple[tuple[claim_pb2.DatePrecision.ValueType, float], ...]] = (
    (claim_pb2.DATE_PRECISION_EXACT, 0.50),
    (claim_pb2.DATE_PRECISION_DAY, 0.40),
    (claim_pb2.DATE_PRECISION_MONTH, 0.08),
    (claim_pb2.DATE_PRECISION_YEAR, 0.02),
)

_LANGUAGES: Final = (("en", 0.85), ("en-US", 0.08), ("en-GB", 0.05), ("", 0.02))

_SLUG: Final = re.compile(r"[^a-z0-9]+")


def _cumulative(weights: Sequence[float]) -> list[float]:
    return list(itertools.accumulate(weights))


def _zipf_weights(count: int, exponent: float = 1.0) -> list[float]:
    return _cumulative([1.0 / (rank**exponent) for rank in range(1, count + 1)])


Choice = TypeVar("Choice")


def _pick(rng: random.Random, choices: Sequence[tuple[Choice, float]]) -> Choice:
    values = [value for value, _ in choices]
    return rng.choices(values, weights=[weight for _, weight in choices])[0]


@cache
def _word_table() -> tuple[tuple[str, ...], tuple[float, ...]]:
    words = tuple(dict.fromkeys(_WORDS))
    return words, tuple(_zipf_weights(len(words)))


def vocabulary() -> tuple[str, ...]:
    """The words claims are made of, most frequent first: word ``n`` (from 1) has weight 1/n."""
    return _word_table()[0]


def words(rng: random.Random, count: int) -> list[str]:
    """Returns ``count`` words drawn from the Zipf-weighted word list."""
    vocabulary, cumulative = _word_table()
    return rng.choices(vocabulary, cum_weights=cumulative, k=count)


def sentence(rng: random.Random, count: int) -> str:
    """Returns a sentence of ``count`` Zipf-weighted words, capitalized, with a full stop."""
    text = " ".join(words(rng, count))
    return text[0].upper() + text[1:] + "."


@cache
def topics(seed: int = 0) -> tuple[str, ...]:
    """Returns the ``TOPIC_COUNT`` topics claims are tagged with (the same for every seed).

    The plain subjects come first, then regional ones such as "Black Sea shipping".
    """
    subjects = [subject.strip() for subject in " ".join(_SUBJECTS.split()).split("|")]
    regional = [f"{region} {subject}" for region in _REGIONS for subject in subjects]
    random.Random(f"claimstore-topics:{seed}").shuffle(regional)
    return tuple(dict.fromkeys([*subjects, *regional]))[:TOPIC_COUNT]


def _aliases(rng: random.Random, first: str, last: str) -> list[str]:
    candidates = [last, f"{first[0]}. {last}", f"{first} {last[:-1]}y", f"{last}, {first}"]
    return rng.sample(candidates, rng.choice((0, 0, 1, 1, 2)))


def generate_speakers(seed: int, count: int = SPEAKER_COUNT) -> list[speaker_pb2.Speaker]:
    """Returns ``count`` speakers with unique display names and Wikidata ids.

    About 80% are people, the rest organizations, groups and anonymous sources.
    """
    rng = random.Random(f"claimstore-speakers:{seed}")
    people = [f"{first} {last}" for first in _FIRST_NAMES for last in _LAST_NAMES]
    rng.shuffle(people)
    people = list(dict.fromkeys(people))
    organizations = [
        f"{affiliation} {body}"
        for affiliation in _AFFILIATIONS[:28]
        for body in _ORGANIZATION_KINDS
    ]
    rng.shuffle(organizations)
    groups = list(_GROUPS)
    anonymous = list(_ANONYMOUS)
    rng.shuffle(groups)
    rng.shuffle(anonymous)
    speakers: list[speaker_pb2.Speaker] = []
    wikidata_ids = rng.sample(range(100_000, 99_999_999), count)
    for index in range(count):
        roll = rng.random()
        speaker = speaker_pb2.Speaker(wikidata_id=f"Q{wikidata_ids[index]}")
        if (
            roll < 0.80
            or (roll < 0.92 and not organizations)
            or (0.92 <= roll < 0.97 and not groups)
            or (roll >= 0.97 and not anonymous)
        ):
            roll = 0.0
        if roll < 0.80:
            name = people.pop()
            first, last = name.rsplit(" ", 1)
            speaker.display_name = name
            speaker.kind = speaker_pb2.SPEAKER_KIND_PERSON
            speaker.title = rng.choice(_TITLES)
            speaker.affiliation = rng.choice(_AFFILIATIONS)
            speaker.aliases.extend(_aliases(rng, first, last))
        elif roll < 0.92:
            speaker.display_name = organizations.pop()
            speaker.kind = speaker_pb2.SPEAKER_KIND_ORGANIZATION
            speaker.affiliation = speaker.display_name.split(" ")[0]
        elif roll < 0.97:
            speaker.display_name = groups.pop()
            speaker.kind = speaker_pb2.SPEAKER_KIND_GROUP
        else:
            speaker.display_name = anonymous.pop()
            speaker.kind = speaker_pb2.SPEAKER_KIND_ANONYMOUS
            speaker.affiliation = rng.choice(_AFFILIATIONS)
        speakers.append(speaker)
    return speakers


def _timestamp(moment: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def _moment(rng: random.Random) -> datetime:
    span = (PERIOD_END - PERIOD_START).total_seconds()
    return PERIOD_START + timedelta(seconds=rng.uniform(0, span))


def generate_sources(seed: int, count: int = SOURCE_COUNT) -> list[source_pb2.Source]:
    """Returns ``count`` sources of about 30 outlets, each with a unique url."""
    rng = random.Random(f"claimstore-sources:{seed}")
    outlet_weights = _zipf_weights(len(_OUTLETS), 0.7)
    sources: list[source_pb2.Source] = []
    for index in range(count):
        publisher, domain, post_share = rng.choices(_OUTLETS, cum_weights=outlet_weights)[0]
        published = _moment(rng)
        title = sentence(rng, rng.randint(6, 14)).rstrip(".")
        if rng.random() < post_share:
            kind = source_pb2.SOURCE_KIND_SOCIAL_MEDIA_POST
            url = f"https://{domain}/{_SLUG.sub('', title.split()[-1].lower())}/{index + 1000}"
        else:
            kind = _pick(rng, _SOURCE_KINDS)
            slug = _SLUG.sub("-", title.lower()).strip("-")[:80]
            url = f"https://www.{domain}/{published:%Y/%m/%d}/{slug}-{index}"
        sources.append(
            source_pb2.Source(
                url=url,
                publisher=publisher,
                title=title,
                kind=kind,
                published_at=_timestamp(published),
            )
        )
    return sources


def generate_claims(
    count: int,
    seed: int,
    *,
    speaker_ids: Sequence[str] | None = None,
    source_ids: Sequence[str] | None = None,
) -> Iterator[claim_service_pb2.CreateClaimRequest]:
    """Yields ``count`` CreateClaimRequests, the same ones for the same ``seed``.

    Speakers and sources are those of :func:`generate_speakers` and
    :func:`generate_sources` for ``seed``, given inline. If ``speaker_ids`` or
    ``source_ids`` are passed (the stored ids of those speakers or sources, in
    the same order), claims refer to them by id instead. Each request carries a
    ``request_id`` of the form ``synthetic-<seed>-<n>``.
    """
    speakers = generate_speakers(seed)
    sources = generate_sources(seed)
    if speaker_ids is not None and len(speaker_ids) != len(speakers):
        raise ValueError(f"speaker_ids must hold {len(speakers)} ids, not {len(speaker_ids)}")
    if source_ids is not None and len(source_ids) != len(sources):
        raise ValueError(f"source_ids must hold {len(sources)} ids, not {len(source_ids)}")
    topic_list = topics()
    topic_weights = _zipf_weights(len(topic_list), 0.8)
    speaker_weights = _zipf_weights(len(speakers), 1.0)
    # Speakers' popularity must not follow their creation order.
    speaker_order = list(range(len(speakers)))
    rng = random.Random(f"claimstore-claims:{seed}")
    rng.shuffle(speaker_order)
    for number in range(count):
        speaker_index = speaker_order[
            min(bisect(speaker_weights, rng.random() * speaker_weights[-1]), len(speakers) - 1)
        ]
        claim = claim_pb2.Claim(
            text=sentence(rng, rng.randint(8, 60)),
            attribution=_pick(rng, _ATTRIBUTIONS),
            stated_at=_timestamp(_moment(rng)),
            stated_at_precision=_pick(rng, _PRECISIONS),
            channel=rng.choice(_CHANNELS),
            language=_pick(rng, _LANGUAGES),
            topics=rng.choices(topic_list, cum_weights=topic_weights, k=rng.randint(0, 4)),
        )
        if speaker_ids is None:
            claim.speaker.CopyFrom(speakers[speaker_index])
        else:
            claim.speaker_id = speaker_ids[speaker_index]
        for position, source_index in enumerate(rng.sample(range(len(sources)), rng.randint(1, 3))):
            citation = claim.citations.add(
                role=(
                    claim_pb2.CITATION_ROLE_ORIGIN
                    if position == 0 and rng.random() < 0.3
                    else claim_pb2.CITATION_ROLE_REPORT
                )
            )
            if rng.random() < 0.6:
                words_in_text = claim.text.split()
                start = rng.randrange(len(words_in_text))
                citation.excerpt = " ".join(words_in_text[start : start + rng.randint(5, 25)])
            if source_ids is None:
                citation.source.CopyFrom(sources[source_index])
            else:
                citation.source_id = source_ids[source_index]
        yield claim_service_pb2.CreateClaimRequest(
            claim=claim, request_id=f"synthetic-{seed}-{number}"
        )

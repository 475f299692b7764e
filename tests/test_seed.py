"""The seed data set (data/seed/): it loads through the CLI, twice is harmless, and it
records what the 2025-11-20 report says the way the data set's README describes."""

import io
import json
import re
from pathlib import Path

import claimstore
import pytest
from claimstore.cli._main import main
from claimstore.v1 import claim_pb2, source_pb2, speaker_pb2
from claimstore_server import ClaimServer
from helpers import stamp

SEED_DIR = Path(__file__).resolve().parent.parent / "data" / "seed"
SEED_FILES = sorted(SEED_DIR.glob("*.jsonl"))
REPORT_TITLE = "News report on the U.S.-drafted peace plan for Ukraine"
NOV_20 = stamp("2025-11-20T00:00:00+00:00")

ORIGIN = claim_pb2.CITATION_ROLE_ORIGIN
REPORT = claim_pb2.CITATION_ROLE_REPORT

SUMMARY = re.compile(r"^(\d+) created, (\d+) already there, (\d+) failed$", re.MULTILINE)


def seed_lines() -> list[str]:
    return [
        line
        for path in SEED_FILES
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def load_seed(target: str) -> tuple[int, tuple[int, int, int]]:
    """Runs ``claimstore import`` of the seed files; returns the exit status and the summary's
    created, already there and failed counts."""
    out = io.StringIO()
    status = main(["import", "--target", target, *map(str, SEED_FILES)], out=out)
    found = SUMMARY.search(out.getvalue())
    assert found, out.getvalue()
    created, existing, failed = (int(number) for number in found.groups())
    return status, (created, existing, failed)


@pytest.fixture
def seeded(server: ClaimServer, client: claimstore.Client) -> claimstore.Client:
    status, (created, _, failed) = load_seed(server.target)
    assert (status, failed) == (0, 0)
    assert created == len(seed_lines())
    return client


def claims_of(client: claimstore.Client, speaker: str) -> list[claim_pb2.Claim]:
    return list(client.list_claims(speaker=speaker, view="full", order_by="stated_at asc"))


def by_text(client: claimstore.Client, text: str) -> claim_pb2.Claim:
    (claim,) = [claim for claim in client.export_claims() if claim.text == text]
    return claim


def by_speaker_kind(client: claimstore.Client, kind: int) -> claim_pb2.Claim:
    (claim,) = [claim for claim in client.export_claims() if claim.speaker.kind == kind]
    return claim


def cited(claim: claim_pb2.Claim, role: int) -> list[source_pb2.Source]:
    return [citation.source for citation in claim.citations if citation.role == role]


# The files


def test_the_seed_files_are_in_the_repository() -> None:
    assert SEED_FILES, f"no *.jsonl in {SEED_DIR}"
    assert len(seed_lines()) >= 12


def test_every_seed_line_parses_as_a_claim_request() -> None:
    for number, line in enumerate(seed_lines(), start=1):
        request = claimstore.parse_import_line(line)
        assert request.claim.text, number
        assert request.claim.HasField("speaker"), number
        assert request.claim.HasField("stated_at"), number
        assert request.claim.citations, number
        # Written in the protobuf JSON mapping's own field names.
        assert "statedAt" in json.loads(line)["claim"], number


# Loading


def test_loading_the_seed_creates_every_claim(
    server: ClaimServer, client: claimstore.Client
) -> None:
    status, (created, existing, failed) = load_seed(server.target)
    assert status == 0
    assert created >= 12
    assert (created, existing, failed) == (len(seed_lines()), 0, 0)
    assert sum(1 for _ in client.list_claims()) == created


def test_loading_the_seed_twice_stores_nothing_new(
    server: ClaimServer, seeded: claimstore.Client
) -> None:
    before = list(seeded.export_claims())
    speakers = list(seeded.list_speakers())
    sources = list(seeded.list_sources())
    status, summary = load_seed(server.target)
    assert status == 0
    assert summary == (0, len(seed_lines()), 0)
    assert list(seeded.export_claims()) == before
    assert [s.id for s in seeded.list_speakers()] == [s.id for s in speakers]
    assert list(seeded.list_sources()) == sources


# What the seed records


def test_peskov_is_quoted_on_the_day_of_the_report(seeded: claimstore.Client) -> None:
    claims = claims_of(seeded, "Peskov")
    assert claims
    assert {claim.speaker.display_name for claim in claims} == {"Dmitry Peskov"}
    quotes = [c.text for c in claims if c.attribution == claim_pb2.ATTRIBUTION_DIRECT_QUOTE]
    assert "Consultations are not currently under way." in quotes
    for claim in claims:
        assert claim.stated_at == stamp("2025-11-20T00:00:00+00:00")
        assert claim.stated_at_precision == claim_pb2.DATE_PRECISION_DAY
        assert claim.channel == ""  # the report does not say how he spoke


# Speaker: (kind, title, affiliation) as the report has them on 2025-11-20.
SPEAKERS = {
    "Office of the President of Ukraine": (
        "ORGANIZATION",
        "Volodymyr Zelenskyy's office",
        "Ukraine",
    ),
    "Two unnamed sources (Reuters)": ("ANONYMOUS", "Sources who spoke to Reuters", ""),
    "European governments": ("GROUP", "", "Europe"),
    "Dmitry Peskov": ("PERSON", "Kremlin spokesman", "Russia"),
    "Jean-Noël Barrot": ("PERSON", "Foreign Minister of France", "France"),
    "Johann Wadephul": ("PERSON", "Foreign Minister of Germany", "Germany"),
    "Marco Rubio": ("PERSON", "U.S. Secretary of State", "United States"),
    "Oleksandr Syrskyi": (
        "PERSON",
        "Commander-in-Chief of the Armed Forces of Ukraine",
        "Ukraine",
    ),
    "European Union foreign ministers": ("GROUP", "", "European Union"),
    "Russian Defense Ministry": (
        "ORGANIZATION",
        "Ministry of Defence of the Russian Federation",
        "Russia",
    ),
}

# The day of each speaker's words: the one the report names, else the report's own.
DAYS = {
    "Office of the President of Ukraine": "2025-11-20",  # "his office said Thursday"
    "Two unnamed sources (Reuters)": "2025-11-20",  # the report's day
    "European governments": "2025-11-20",  # "pushed back Thursday"
    "Dmitry Peskov": "2025-11-20",  # the report's day
    "Jean-Noël Barrot": "2025-11-20",  # the European pushback of Thursday
    "Johann Wadephul": "2025-11-20",  # "during a call Thursday"
    "Marco Rubio": "2025-11-20",  # the report's day
    "Oleksandr Syrskyi": "2025-11-19",  # the delegation "met" him "on Wednesday"
    "European Union foreign ministers": "2025-11-20",
    "Russian Defense Ministry": "2025-11-20",  # "Video released Thursday"
}

# The kinds of the ORIGIN sources the report names for each speaker's claims.
ORIGINS = {
    "Office of the President of Ukraine": {source_pb2.SOURCE_KIND_SOCIAL_MEDIA_POST},  # Telegram
    "Two unnamed sources (Reuters)": {source_pb2.SOURCE_KIND_NEWS_ARTICLE},
    "Marco Rubio": {source_pb2.SOURCE_KIND_SOCIAL_MEDIA_POST},
    "Russian Defense Ministry": {source_pb2.SOURCE_KIND_VIDEO},
}

# The words the report puts in quotation marks (the last one's comma or full stop aside).
REPORT_QUOTES = [
    "We are ready now, as before, to work constructively with the American side, as well as with"
    " our partners in Europe and around the world, so that the outcome is peace",
    "key points required to achieve peace",
    "Consultations are not currently under way",
    "There are contacts, of course, but there is no process that could be called consultations",
    "root causes of the conflict",
    "Ukrainians want peace \N{EN DASH} a just peace that respects sovereignty, a durable peace"
    " that cannot be called into question by future aggression",
    "But peace cannot be a capitulation",
    "close coordination with Germany and our European partners",
    "potential ideas for ending this war",
    "a durable peace will require both sides to agree to difficult but necessary concessions",
]


def test_every_speaker_is_described_as_the_report_has_them(seeded: claimstore.Client) -> None:
    described = {
        s.display_name: (speaker_pb2.SpeakerKind.Name(s.kind)[13:], s.title, s.affiliation)
        for s in seeded.list_speakers()
    }
    assert described == SPEAKERS


def test_each_claim_is_dated_to_its_day(seeded: claimstore.Client) -> None:
    claims = list(seeded.export_claims())
    assert {claim.speaker.display_name for claim in claims} == set(DAYS)
    for claim in claims:
        day = stamp(f"{DAYS[claim.speaker.display_name]}T00:00:00+00:00")
        assert claim.stated_at_precision == claim_pb2.DATE_PRECISION_DAY, claim.text
        assert claim.stated_at == day, claim.text
        for source in cited(claim, ORIGIN):
            assert source.published_at == day, claim.text


def test_origins_are_cited_only_where_the_report_names_them(seeded: claimstore.Client) -> None:
    for claim in seeded.export_claims():
        expected = ORIGINS.get(claim.speaker.display_name, set())
        if claim.channel == "statement":  # "his office said Thursday": it names no origin
            expected = set()
        assert {source.kind for source in cited(claim, ORIGIN)} == expected, claim.text
    telegram = [c for c in seeded.export_claims() if c.channel == "statement on Telegram"]
    assert len(telegram) == 2
    reuters = cited(by_speaker_kind(seeded, speaker_pb2.SPEAKER_KIND_ANONYMOUS), ORIGIN)
    assert [source.publisher for source in reuters] == ["Reuters"]


def test_quotes_are_the_reports_words(seeded: claimstore.Client) -> None:
    quoted = {quote.lower() for quote in REPORT_QUOTES}
    claims = list(seeded.export_claims())
    direct = [c for c in claims if c.attribution == claim_pb2.ATTRIBUTION_DIRECT_QUOTE]
    assert len(direct) == 6
    for claim in direct:
        assert claim.text.rstrip(".").lower() in quoted, claim.text
    for claim in claims:  # a paraphrase quotes only words the report quotes
        for fragment in re.findall(r"“([^”]*)”", claim.text):
            assert fragment.rstrip(".").lower() in quoted, claim.text


def test_rubio_cites_his_post_on_x_as_origin(seeded: claimstore.Client) -> None:
    claims = claims_of(seeded, "Marco Rubio")
    assert claims
    for claim in claims:
        assert claim.channel == "post on X"
        origins = cited(claim, ORIGIN)
        assert [source.kind for source in origins] == [source_pb2.SOURCE_KIND_SOCIAL_MEDIA_POST]


def test_the_unnamed_sources_are_an_anonymous_speaker_reported(
    seeded: claimstore.Client,
) -> None:
    anonymous = [s for s in seeded.list_speakers() if s.kind == speaker_pb2.SPEAKER_KIND_ANONYMOUS]
    assert len(anonymous) == 1
    claims = list(seeded.list_claims(speaker_ids=[anonymous[0].id]))
    assert claims
    assert {claim.attribution for claim in claims} == {claim_pb2.ATTRIBUTION_REPORTED}
    reported = seeded.list_claims(attributions=["reported"], view="full")
    assert {claim.speaker.kind for claim in reported} == {speaker_pb2.SPEAKER_KIND_ANONYMOUS}


def test_barrot_is_found_without_his_accent(seeded: claimstore.Client) -> None:
    claims = list(seeded.list_claims(speaker="jean-noel barrot", view="full"))
    assert claims
    assert {claim.speaker.display_name for claim in claims} == {"Jean-Noël Barrot"}
    assert "But peace cannot be a capitulation." in {claim.text for claim in claims}


def test_every_claim_cites_the_same_report(seeded: claimstore.Client) -> None:
    claims = list(seeded.export_claims())
    assert len(claims) == len(seed_lines())
    report_ids = set()
    for claim in claims:
        reports = [c for c in claim.citations if c.role == REPORT]
        assert [c.source.title for c in reports] == [REPORT_TITLE], claim.text
        assert reports[0].excerpt, claim.text
        report_ids.add(reports[0].source_id)
    assert len(report_ids) == 1
    (report_id,) = report_ids
    report = seeded.get_source(report_id)
    assert report.url == ""
    assert report.published_at == NOV_20
    assert [s.id for s in seeded.list_sources() if s.title == REPORT_TITLE] == [report_id]
    assert len(list(seeded.list_claims(source_id=report_id, page_size=1000))) == len(claims)


def test_barrots_capitulation_quote_has_its_topic(seeded: claimstore.Client) -> None:
    claim = by_text(seeded, "But peace cannot be a capitulation.")
    assert "capitulation" in claim.topics
    tagged = {c.id for c in seeded.list_claims(topics=["capitulation"])}
    assert claim.id in tagged


def test_the_defense_ministry_cites_its_video_as_origin(seeded: claimstore.Client) -> None:
    claims = claims_of(seeded, "Defense Ministry")
    assert claims
    for claim in claims:
        assert claim.speaker.kind == speaker_pb2.SPEAKER_KIND_ORGANIZATION
        kinds = [source.kind for source in cited(claim, ORIGIN)]
        assert kinds == [source_pb2.SOURCE_KIND_VIDEO]

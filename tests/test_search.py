"""SearchClaims against a real server: ranking, word matching, query syntax, snippets,
views, every ClaimFilter field, paging and its tokens, and freshness after writes."""

import base64
import functools
import json
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import claimstore
import pytest
from claimstore.v1 import (
    claim_filter_pb2,
    claim_pb2,
    claim_service_pb2,
    claim_service_pb2_grpc,
    speaker_pb2,
)
from helpers import call_error, invalid_fields, stamp, violations

Stub = claim_service_pb2_grpc.ClaimServiceStub
SearchResult = claim_service_pb2.SearchResult

BARROT = speaker_pb2.Speaker(display_name="Jean-Noël Barrot", aliases=["Barrot"])
PESKOV = speaker_pb2.Speaker(display_name="Dmitry Peskov", aliases=["Peskov"])
RUBIO = speaker_pb2.Speaker(display_name="Marco Rubio")
ZELENSKYY = speaker_pb2.Speaker(display_name="Volodymyr Zelenskyy", aliases=["Zelensky"])

REUTERS_A = {"url": "https://reuters.example/a", "publisher": "Reuters", "title": "A"}
REUTERS_C = {"url": "https://reuters.example/c", "publisher": "Reuters", "title": "C"}
LE_MONDE_B = {"url": "https://lemonde.example/b", "publisher": "Le Monde", "title": "B"}


@dataclass(frozen=True)
class Spec:
    """One claim of the corpus, as created."""

    text: str
    speaker: speaker_pb2.Speaker
    attribution: str = "reported"
    stated_at: str = "2025-11-20"
    language: str = "en"
    topics: tuple[str, ...] = ()
    channel: str = ""
    citations: tuple[dict[str, str], ...] = ()


CORPUS: dict[str, Spec] = {
    # Ranking: "ceasefire" in the text, in a topic only, in the channel only.
    "rank_text": Spec(
        "A ceasefire is the first step, the envoy said.", RUBIO, topics=("diplomacy",)
    ),
    "rank_topic": Spec(
        "The first step is a pause in the fighting, the envoy said.",
        RUBIO,
        topics=("ceasefire",),
    ),
    "rank_channel": Spec(
        "The fighting must pause soon, the envoy told reporters.",
        RUBIO,
        channel="ceasefire briefing",
    ),
    # "Peskov" in the text of a claim by someone else; Peskov's own claims match by speaker.
    "peskov_text": Spec("Peskov is wrong about the talks, the minister said.", BARROT),
    # More matches of a rare word, at the same length.
    "frost_many": Spec(
        "Frost, frost and more frost will slow every advance this winter.", ZELENSKYY
    ),
    "frost_once": Spec(
        "Early frost will slow every advance along the front this winter.", ZELENSKYY
    ),
    # Accents and case.
    "noel_text": Spec("Noël will come before any deal, the spokesman said.", PESKOV),
    "barrot_text": Spec("Barrot spoke with Rubio about the timetable.", ZELENSKYY),
    # Word forms.
    "concessions": Spec("There will be no territorial concessions.", ZELENSKYY),
    "concession": Spec("Each concession must be mutual.", PESKOV),
    "negotiations": Spec("Negotiations resume in Geneva on Monday.", RUBIO),
    "negotiating": Spec("We are negotiating in good faith.", BARROT),
    # Phrases: adjacent and in order, reversed, apart.
    "phrase_adjacent": Spec("Peace cannot be imposed from outside.", BARROT),
    "phrase_reversed": Spec("We cannot accept a peace on those terms.", PESKOV),
    "phrase_apart": Spec("A peace that the people reject cannot last.", ZELENSKYY),
    # Prefixes.
    "capitulation": Spec("This plan amounts to capitulation.", ZELENSKYY),
    "capitulate": Spec("Ukraine will never capitulate.", ZELENSKYY),
    "capitol": Spec("Talks on Capitol Hill continue.", RUBIO),
    # OR and exclusion.
    "sanctions": Spec("New sanctions target the energy sector.", RUBIO),
    "tariffs": Spec("Tariffs on steel will rise next month.", RUBIO),
    "peace_plan": Spec("The peace plan is a basis for talks.", PESKOV, topics=("peace plan",)),
    "peace_war": Spec("There is no peace while the war goes on.", ZELENSKYY),
    "peace_plan_russia": Spec("Russia has not seen the peace plan yet.", PESKOV),
    "war_only": Spec("The war has lasted too long.", ZELENSKYY),
    # Snippets: the text matches once, the topics twice.
    "truce": Spec("A truce is possible before winter.", RUBIO, topics=("truce", "truce talks")),
    # Filters: "summit" with every attribute varied, and one claim that fits the filters
    # but not the query.
    "summit_a": Spec(
        "The summit in Geneva was useful.",
        PESKOV,
        "direct_quote",
        "2025-11-10",
        "en",
        ("Geneva",),
        citations=(REUTERS_A,),
    ),
    "summit_b": Spec(
        "No summit will happen this year.",
        BARROT,
        "paraphrase",
        "2025-11-15",
        "fr",
        ("summit", "France"),
        citations=(LE_MONDE_B,),
    ),
    "summit_c": Spec(
        "A summit with the Americans is possible.",
        ZELENSKYY,
        "reported",
        "2025-11-20",
        "en-US",
        ("United States",),
        citations=(REUTERS_C,),
    ),
    "summit_d": Spec("The summit is off.", RUBIO, "direct_quote", "2025-11-25", "en-GB"),
    "summit_e": Spec(
        "We discussed the summit agenda.",
        PESKOV,
        "reported",
        "2025-11-30",
        "ru",
        ("Geneva",),
        citations=(REUTERS_A,),
    ),
    "geneva_talks": Spec(
        "Geneva talks went well.",
        PESKOV,
        "direct_quote",
        "2025-11-10",
        "en",
        ("Geneva",),
        citations=(REUTERS_A,),
    ),
}

PEACE = {
    "phrase_adjacent",
    "phrase_reversed",
    "phrase_apart",
    "peace_plan",
    "peace_war",
    "peace_plan_russia",
}


def claims_by(speaker: speaker_pb2.Speaker) -> set[str]:
    return {key for key, spec in CORPUS.items() if spec.speaker is speaker}


@dataclass
class Corpus:
    """The corpus as stored: claim id by key, and the other way round."""

    ids: dict[str, str]
    claims: dict[str, claim_pb2.Claim]
    keys: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.keys = {claim_id: key for key, claim_id in self.ids.items()}

    def of(self, results: list[SearchResult]) -> list[str]:
        """The corpus keys of ``results``, in order."""
        return [self.keys[result.claim.id] for result in results]


@pytest.fixture
def corpus(client: claimstore.Client) -> Corpus:
    claims = {}
    for key, spec in CORPUS.items():
        claims[key] = client.create_claim(
            spec.text,
            attribution=spec.attribution,
            stated_at=spec.stated_at,
            speaker=spec.speaker,
            language=spec.language,
            topics=spec.topics,
            channel=spec.channel,
            citations=[{**citation, "role": "report"} for citation in spec.citations],
        )
    return Corpus({key: claim.id for key, claim in claims.items()}, claims)


def search(stub: Stub, query: str, **fields: object) -> list[SearchResult]:
    """One page of up to 100 results, which must be the last page."""
    response = stub.SearchClaims(
        claim_service_pb2.SearchClaimsRequest(query=query, page_size=100, **fields)  # type: ignore[arg-type]
    )
    assert response.next_page_token == ""
    return list(response.results)


def found(stub: Stub, corpus: Corpus, query: str, **fields: object) -> set[str]:
    keys = corpus.of(search(stub, query, **fields))
    assert len(keys) == len(set(keys)), "no claim appears twice"
    return set(keys)


# Ranking


def test_a_match_in_the_text_outranks_one_in_a_topic_or_the_channel(
    stub: Stub, corpus: Corpus
) -> None:
    ranked = corpus.of(search(stub, "ceasefire"))
    assert ranked[0] == "rank_text"
    assert set(ranked) == {"rank_text", "rank_topic", "rank_channel"}


def test_a_match_in_the_text_outranks_one_in_the_speaker_name(stub: Stub, corpus: Corpus) -> None:
    ranked = corpus.of(search(stub, "peskov"))
    assert ranked[0] == "peskov_text"
    assert set(ranked) == {"peskov_text"} | claims_by(PESKOV)


def test_more_matches_of_a_rare_word_rank_higher(stub: Stub, corpus: Corpus) -> None:
    results = search(stub, "frost")
    assert corpus.of(results) == ["frost_many", "frost_once"]
    assert results[0].score > results[1].score


@pytest.mark.parametrize("query", ["ceasefire", "peace", "peskov", "summit", "war OR peace"])
def test_results_come_best_first_with_higher_scores_better(
    stub: Stub, corpus: Corpus, query: str
) -> None:
    results = search(stub, query)
    assert len(results) >= 3
    scores = [result.score for result in results]
    assert scores == sorted(scores, reverse=True)
    assert all(score > 0 for score in scores)


# Words: accents, case, word forms


@pytest.mark.parametrize("query", ["Noel", "NOËL", "noël", "nOeL"])
def test_accents_and_case_do_not_matter(stub: Stub, corpus: Corpus, query: str) -> None:
    ranked = corpus.of(search(stub, query))
    assert ranked[0] == "noel_text"
    # Jean-Noël Barrot's claims match by their speaker's name.
    assert set(ranked) == {"noel_text"} | claims_by(BARROT)


def test_a_lower_case_word_finds_a_capitalized_one_in_the_text(stub: Stub, corpus: Corpus) -> None:
    ranked = corpus.of(search(stub, "barrot"))
    assert ranked[0] == "barrot_text"
    assert set(ranked) == {"barrot_text"} | claims_by(BARROT)


@pytest.mark.parametrize(
    ("text", "query"),
    [
        ("Talks in İstanbul resume.", "İstanbul"),
        ("Talks in İstanbul resume.", "istanbul"),
        ("A naïve café owner spoke.", "naive cafe"),
        ("A naïve café owner spoke.", "NAÏVE"),
        # The very word typed as written finds the claim that holds it, whatever the script:
        # the query's terms go through the same tokenizer as the claims.
        ("Die Straße ist gesperrt.", "Straße"),
        ("The ﬁnal offer was refused.", "ﬁnal"),
        ("شروط السَّلَام واضحة", "السَّلَام"),
    ],
    ids=[
        "dotted capital I",
        "dotted capital I, lower case",
        "diaeresis and acute",
        "diaeresis, upper case",
        "sharp s",
        "fi ligature",
        "Arabic with vowel marks",
    ],
)
def test_a_word_typed_as_written_finds_its_claim_in_any_script(
    stub: Stub, client: claimstore.Client, text: str, query: str
) -> None:
    claim = client.create_claim(text, attribution="reported", stated_at="2025-11-20", speaker="X")
    assert [result.claim.id for result in search(stub, query)] == [claim.id]


@pytest.mark.parametrize("query", ["concessions", "concession", "CONCESSION"])
def test_singular_and_plural_find_each_other(stub: Stub, corpus: Corpus, query: str) -> None:
    assert found(stub, corpus, query) == {"concessions", "concession"}


@pytest.mark.parametrize("query", ["negotiating", "negotiations", "negotiation"])
def test_word_forms_porter_stems_alike_find_each_other(
    stub: Stub, corpus: Corpus, query: str
) -> None:
    # Porter stems "negotiating", "negotiations" and "negotiation" all to "negoti".
    assert found(stub, corpus, query) == {"negotiations", "negotiating"}


# Syntax: phrases, prefixes, OR, exclusion


def test_an_exact_phrase_matches_only_adjacent_words_in_order(stub: Stub, corpus: Corpus) -> None:
    assert found(stub, corpus, '"peace cannot"') == {"phrase_adjacent"}
    assert found(stub, corpus, '"cannot peace"') == set()
    assert found(stub, corpus, "peace cannot") == {
        "phrase_adjacent",
        "phrase_reversed",
        "phrase_apart",
    }


@pytest.mark.parametrize("query", ["capitul*", "CAPITUL*", "capitu*"])
def test_a_prefix_finds_every_word_that_starts_with_it(
    stub: Stub, corpus: Corpus, query: str
) -> None:
    assert found(stub, corpus, query) == {"capitulation", "capitulate"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # Both words start with these letters, but the index holds porter stems ("capitul",
        # "negoti"): a prefix typed past the stem finds them through the stem.
        ("capitulat*", {"capitulation", "capitulate"}),
        ("negotiat*", {"negotiations", "negotiating"}),
    ],
)
def test_a_prefix_longer_than_the_word_stem_still_matches(
    stub: Stub, corpus: Corpus, query: str, expected: set[str]
) -> None:
    assert found(stub, corpus, query) == expected


def test_a_prefix_wider_than_the_word_finds_more(stub: Stub, corpus: Corpus) -> None:
    assert found(stub, corpus, "capit*") == {"capitulation", "capitulate", "capitol"}
    assert found(stub, corpus, "capitol") == {"capitol"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("sanctions OR tariffs", {"sanctions", "tariffs"}),
        ("tariffs OR sanctions", {"sanctions", "tariffs"}),
        ("sanctions OR tariffs OR capitol", {"sanctions", "tariffs", "capitol"}),
        ("sanctions tariffs", set()),
        # A lower-case "or" is a word, not the operator.
        ("sanctions or tariffs", set()),
        ("peace -war", PEACE - {"peace_war"}),
        ("peace -WAR -russia", PEACE - {"peace_war", "peace_plan_russia"}),
        ('"peace plan"', {"peace_plan", "peace_plan_russia"}),
        ('"peace plan" -Russia', {"peace_plan"}),
        ('"peace plan" OR tariffs -Russia', {"peace_plan", "tariffs"}),
        (
            '"peace plan" OR sanctions OR tariffs',
            {"peace_plan", "peace_plan_russia"}
            | {
                "sanctions",
                "tariffs",
            },
        ),
        ("peace cannot -reject", {"phrase_adjacent", "phrase_reversed"}),
        ('war OR "peace cannot" -lasted', {"phrase_adjacent", "peace_war"}),
        ("capitul* -never", {"capitulation"}),
        ("peace -peace", set()),
    ],
)
def test_or_exclusion_and_their_combinations(
    stub: Stub, corpus: Corpus, query: str, expected: set[str]
) -> None:
    assert found(stub, corpus, query) == expected


# Snippets


def test_the_snippet_wraps_the_matching_words_in_brackets_by_default(
    stub: Stub, corpus: Corpus
) -> None:
    (result,) = search(stub, "sanctions")
    assert result.snippet == "New [sanctions] target the energy sector."
    frost = {corpus.keys[r.claim.id]: r.snippet for r in search(stub, "frost")}
    assert frost["frost_many"].count("[Frost]") + frost["frost_many"].count("[frost]") == 3
    assert "Early [frost] will slow" in frost["frost_once"]


def test_the_snippet_markers_can_be_chosen(stub: Stub, corpus: Corpus) -> None:
    (result,) = search(stub, "tariffs OR capitol -hill", snippet_start="<b>", snippet_end="</b>")
    assert result.snippet == "<b>Tariffs</b> on steel will rise next month."
    assert "[" not in result.snippet
    (phrase,) = search(stub, '"peace cannot"', snippet_start="«", snippet_end="»")
    # A phrase is wrapped whole.
    assert phrase.snippet == "«Peace cannot» be imposed from outside."


def test_the_snippet_comes_from_where_the_match_is_when_the_text_does_not_match(
    stub: Stub, corpus: Corpus
) -> None:
    by_key = {corpus.keys[r.claim.id]: r.snippet for r in search(stub, "ceasefire")}
    assert by_key["rank_topic"] == "[ceasefire]"
    assert "[ceasefire] briefing" in by_key["rank_channel"]
    assert "[ceasefire]" in by_key["rank_text"]


@pytest.mark.parametrize(("start", "end"), [("", ""), ("*", "*"), ("<b>", "</b>")])
def test_a_text_holding_the_markers_is_no_match_of_its_own(
    stub: Stub, client: claimstore.Client, start: str, end: str
) -> None:
    # Quotes carry editors' brackets ("[sic]"); a text with the markers in it but no match
    # is not the snippet: the match in the speaker's name is.
    client.create_claim(
        "They said [sic] *nothing* <b>new</b> about the talks.",
        attribution="direct_quote",
        stated_at="2025-11-20",
        speaker="Quillon Varga",
    )
    (result,) = search(stub, "quillon", snippet_start=start, snippet_end=end)
    assert result.snippet == f"{start or '['}Quillon{end or ']'} Varga"
    (in_text,) = search(stub, "talks", snippet_start=start, snippet_end=end)
    assert (
        in_text.snippet
        == f"They said [sic] *nothing* <b>new</b> about the {start or '['}talks{end or ']'}."
    )


@pytest.mark.parametrize(
    ("query", "key", "from_text"),
    [
        # The text says "truce" once, the topics ("truce", "truce talks") twice.
        ("truce", "truce", "[truce] is possible"),
        # The text names Peskov once, the speaker ("Dmitry Peskov", alias "Peskov") twice.
        ("peskov", "peskov_text", "[Peskov] is wrong"),
    ],
)
def test_the_snippet_comes_from_the_text_when_the_text_matches(
    stub: Stub, corpus: Corpus, query: str, key: str, from_text: str
) -> None:
    by_key = {corpus.keys[r.claim.id]: r.snippet for r in search(stub, query)}
    assert from_text in by_key[key]


@pytest.mark.parametrize(
    ("fields", "field_name"),
    [
        ({"snippet_start": "<" * 17}, "snippet_start"),
        ({"snippet_end": ">" * 17}, "snippet_end"),
        ({"snippet_start": "\x1b[1m"}, "snippet_start"),
    ],
)
def test_bad_snippet_markers_are_invalid(
    stub: Stub, corpus: Corpus, fields: dict[str, Any], field_name: str
) -> None:
    request = claim_service_pb2.SearchClaimsRequest(query="peace", **fields)
    assert invalid_fields(lambda: stub.SearchClaims(request)) == {field_name}


def test_snippet_markers_of_16_characters_are_allowed(stub: Stub, corpus: Corpus) -> None:
    (result,) = search(stub, "sanctions", snippet_start="<" * 16, snippet_end=">" * 16)
    assert f"{'<' * 16}sanctions{'>' * 16}" in result.snippet


# Views


def test_the_basic_view_leaves_out_the_speaker_and_the_full_view_has_it(
    stub: Stub, corpus: Corpus
) -> None:
    for view in (claim_service_pb2.CLAIM_VIEW_UNSPECIFIED, claim_service_pb2.CLAIM_VIEW_BASIC):
        (result,) = search(stub, "capitol", view=view)
        assert result.claim.id == corpus.ids["capitol"]
        assert result.claim.speaker_id.startswith("spk_")
        assert not result.claim.HasField("speaker")
        assert result.claim.text == CORPUS["capitol"].text
    (full,) = search(stub, "capitol", view=claim_service_pb2.CLAIM_VIEW_FULL)
    assert full.claim.speaker.display_name == "Marco Rubio"
    assert full.claim.speaker.id == full.claim.speaker_id
    (cited,) = search(stub, "useful", view=claim_service_pb2.CLAIM_VIEW_FULL)
    assert cited.claim.citations[0].source.publisher == "Reuters"
    unknown_view = claim_service_pb2.ClaimView.ValueType(7)
    request = claim_service_pb2.SearchClaimsRequest(query="peace", view=unknown_view)
    assert invalid_fields(lambda: stub.SearchClaims(request)) == {"view"}


# Filters

SUMMIT = {"summit_a", "summit_b", "summit_c", "summit_d", "summit_e"}
FilterBuilder = Callable[[Corpus], claim_filter_pb2.ClaimFilter]
Filter = claim_filter_pb2.ClaimFilter
QUOTE, PARAPHRASE, REPORTED = (
    claim_pb2.ATTRIBUTION_DIRECT_QUOTE,
    claim_pb2.ATTRIBUTION_PARAPHRASE,
    claim_pb2.ATTRIBUTION_REPORTED,
)


def _source_id(corpus: Corpus, key: str) -> str:
    return corpus.claims[key].citations[0].source_id


FILTERS: dict[str, tuple[FilterBuilder, set[str]]] = {
    "speaker_ids": (
        lambda c: Filter(speaker_ids=[c.claims["summit_a"].speaker_id]),
        {"summit_a", "summit_e"},
    ),
    "two speaker_ids": (
        lambda c: Filter(
            speaker_ids=[c.claims["summit_a"].speaker_id, c.claims["summit_d"].speaker_id]
        ),
        {"summit_a", "summit_e", "summit_d"},
    ),
    "speaker words": (lambda c: Filter(speaker="noel BARROT"), {"summit_b"}),
    "speaker alias": (lambda c: Filter(speaker="zelensky"), {"summit_c"}),
    "topics": (lambda c: Filter(topics=["GENEVA"]), {"summit_a", "summit_e"}),
    "two topics": (
        lambda c: Filter(topics=["geneva", "France"]),
        {"summit_a", "summit_b"} | {"summit_e"},
    ),
    "publisher": (lambda c: Filter(publisher="reuters"), {"summit_a", "summit_c", "summit_e"}),
    "publisher with an accent and case": (lambda c: Filter(publisher="LE MONDE"), {"summit_b"}),
    "source_id": (
        lambda c: Filter(source_id=_source_id(c, "summit_a")),
        {"summit_a", "summit_e"},
    ),
    "attributions": (lambda c: Filter(attributions=[QUOTE]), {"summit_a", "summit_d"}),
    "two attributions": (
        lambda c: Filter(attributions=[PARAPHRASE, REPORTED]),
        {"summit_b", "summit_c", "summit_e"},
    ),
    "stated_since (inclusive)": (
        lambda c: Filter(stated_since=stamp("2025-11-20T00:00:00+00:00")),
        {"summit_c", "summit_d", "summit_e"},
    ),
    "stated_before (exclusive)": (
        lambda c: Filter(stated_before=stamp("2025-11-20T00:00:00+00:00")),
        {"summit_a", "summit_b"},
    ),
    "since and before": (
        lambda c: Filter(
            stated_since=stamp("2025-11-15T00:00:00+00:00"),
            stated_before=stamp("2025-11-25T00:00:00+00:00"),
        ),
        {"summit_b", "summit_c"},
    ),
    "language en finds en-US and en-GB": (
        lambda c: Filter(language="en"),
        {"summit_a", "summit_c", "summit_d"},
    ),
    "language en-us": (lambda c: Filter(language="en-us"), {"summit_c"}),
    "language ru": (lambda c: Filter(language="ru"), {"summit_e"}),
    "everything at once": (
        lambda c: Filter(
            speaker_ids=[c.claims["summit_a"].speaker_id],
            speaker="peskov",
            topics=["geneva"],
            publisher="Reuters",
            source_id=_source_id(c, "summit_a"),
            attributions=[REPORTED],
            stated_since=stamp("2025-11-12T00:00:00+00:00"),
            stated_before=stamp("2025-12-01T00:00:00+00:00"),
            language="ru",
        ),
        {"summit_e"},
    ),
    "nothing fits": (lambda c: Filter(speaker="rubio", language="fr"), set()),
}


@pytest.mark.parametrize(("build", "expected"), list(FILTERS.values()), ids=list(FILTERS))
def test_each_filter_narrows_the_search(
    stub: Stub, corpus: Corpus, build: FilterBuilder, expected: set[str]
) -> None:
    claim_filter = build(corpus)
    assert found(stub, corpus, "summit") == SUMMIT
    assert found(stub, corpus, "summit", filter=claim_filter) == expected
    # The filter alone (ListClaims) also finds the claim without "summit": the query narrows too.
    listed = stub.ListClaims(claim_service_pb2.ListClaimsRequest(filter=claim_filter))
    assert {corpus.keys[claim.id] for claim in listed.claims} & SUMMIT == expected


def test_a_bad_filter_is_invalid_naming_its_field(stub: Stub, corpus: Corpus) -> None:
    request = claim_service_pb2.SearchClaimsRequest(
        query="summit", filter=Filter(speaker_ids=["nope"], language="not a tag")
    )
    assert invalid_fields(lambda: stub.SearchClaims(request)) == {
        "filter.speaker_ids[0]",
        "filter.language",
    }


# Paging


@pytest.fixture
def orchard(client: claimstore.Client) -> list[str]:
    """130 claims with "orchard" 1 to 4 times: scores of four values, many ties. Their ids."""
    requests = [
        claim_service_pb2.CreateClaimRequest(
            claim=claim_pb2.Claim(
                text=" ".join(["orchard"] * (1 + index % 4)) + f" harvest report {index}",
                attribution=claim_pb2.ATTRIBUTION_REPORTED,
                speaker=speaker_pb2.Speaker(display_name=f"Farmer {index % 3}"),
                stated_at=stamp(f"2025-{1 + index % 12:02}-01T00:00:00+00:00"),
                language="en" if index % 2 else "fr",
            )
        )
        for index in range(130)
    ]
    results = list(client.import_claims(requests, batch_size=50))
    assert all(r.outcome == claim_service_pb2.IMPORT_OUTCOME_CREATED for r in results)
    return [result.claim_id for result in results]


def pages(
    stub: Stub, query: str, page_size: int, claim_filter: Filter | None = None
) -> list[list[SearchResult]]:
    collected: list[list[SearchResult]] = []
    token = ""
    while True:
        response = stub.SearchClaims(
            claim_service_pb2.SearchClaimsRequest(
                query=query, page_size=page_size, page_token=token, filter=claim_filter
            )
        )
        collected.append(list(response.results))
        token = response.next_page_token
        if not token:
            return collected
        assert len(collected) < 200, "paging never ends"


def test_paging_neither_repeats_nor_skips_and_keeps_the_order(
    stub: Stub, orchard: list[str]
) -> None:
    big = pages(stub, "orchard", 100)
    assert [len(page) for page in big] == [100, 30]
    whole = [result.claim.id for page in big for result in page]
    assert sorted(whole) == sorted(orchard)
    scores = [result.score for page in big for result in page]
    assert scores == sorted(scores, reverse=True)
    assert len(set(scores)) == 4, "four distinct scores, so most results tie with others"
    for size, expected_pages in ((20, 7), (7, 19)):
        paged = pages(stub, "orchard", size)
        assert len(paged) == expected_pages
        assert all(len(page) == size for page in paged[:-1])
        assert [result.claim.id for page in paged for result in page] == whole
        assert [result.score for page in paged for result in page] == scores


def test_paging_while_claims_are_stored_neither_repeats_nor_skips(
    stub: Stub, client: claimstore.Client, orchard: list[str]
) -> None:
    # Every claim stored changes every bm25 score (each term weighs by how many claims hold
    # it): a page must go on from where its last claim ranks now, not from its old score.
    seen: list[str] = []
    token = ""
    for number in range(200):
        response = stub.SearchClaims(
            claim_service_pb2.SearchClaimsRequest(query="orchard", page_size=9, page_token=token)
        )
        seen.extend(result.claim.id for result in response.results)
        token = response.next_page_token
        if not token:
            break
        client.create_claim(
            f"Unrelated filler number {number}",
            attribution="reported",
            stated_at="2025-12-01",
            speaker="Filler",
        )
    assert len(seen) == len(set(seen)), "no claim comes twice"
    assert sorted(seen) == sorted(orchard)


def test_paging_with_a_filter(stub: Stub, orchard: list[str]) -> None:
    english = Filter(language="en")
    paged = pages(stub, "orchard report", 9, english)
    ids = [result.claim.id for page in paged for result in page]
    assert len(ids) == len(set(ids)) == 65
    assert set(ids) == {claim_id for index, claim_id in enumerate(orchard) if index % 2}


def test_page_size_defaults_to_20_and_is_capped_at_100(stub: Stub, orchard: list[str]) -> None:
    for size, expected in ((0, 20), (1, 1), (100, 100), (101, 100), (1000, 100), (2**31 - 1, 100)):
        response = stub.SearchClaims(
            claim_service_pb2.SearchClaimsRequest(query="orchard", page_size=size)
        )
        assert len(response.results) == expected, size
        assert response.next_page_token


def test_a_negative_page_size_is_invalid(stub: Stub, orchard: list[str]) -> None:
    for size in (-1, -(2**31)):
        request = claim_service_pb2.SearchClaimsRequest(query="orchard", page_size=size)
        assert invalid_fields(functools.partial(stub.SearchClaims, request)) == {"page_size"}


def _first_token(stub: Stub, query: str = "orchard", **fields: object) -> str:
    response = stub.SearchClaims(
        claim_service_pb2.SearchClaimsRequest(query=query, page_size=5, **fields)  # type: ignore[arg-type]
    )
    assert response.next_page_token
    return response.next_page_token


@pytest.mark.parametrize(
    "other",
    [
        {"query": "harvest"},
        {"query": "orchard -pear"},
        {"query": "orchard", "filter": Filter(language="en")},
        {"query": "orchard", "filter": Filter(speaker="farmer")},
    ],
    ids=["another query", "an added exclusion", "a filter added", "another filter"],
)
def test_a_token_used_with_another_query_or_filter_is_invalid(
    stub: Stub, orchard: list[str], other: dict[str, object]
) -> None:
    token = _first_token(stub)
    request = claim_service_pb2.SearchClaimsRequest(page_token=token, **other)  # type: ignore[arg-type]
    assert invalid_fields(lambda: stub.SearchClaims(request)) == {"page_token"}


def test_a_token_used_with_another_query_says_what_to_repeat(
    stub: Stub, orchard: list[str]
) -> None:
    request = claim_service_pb2.SearchClaimsRequest(query="harvest", page_token=_first_token(stub))
    assert violations(call_error(lambda: stub.SearchClaims(request))) == {
        "page_token": "was issued for a different query; repeat the query, filter and"
        " show_deleted of the request that returned it"
    }


def test_a_token_survives_a_query_written_differently_and_another_page_size(
    stub: Stub, orchard: list[str]
) -> None:
    token = _first_token(stub)
    # Case and spacing do not change the parsed query, nor does the page size belong to it.
    response = stub.SearchClaims(
        claim_service_pb2.SearchClaimsRequest(query="  ORCHARD ", page_token=token, page_size=7)
    )
    assert len(response.results) == 7


def test_a_list_claims_token_is_not_a_search_token(stub: Stub, orchard: list[str]) -> None:
    listed = stub.ListClaims(claim_service_pb2.ListClaimsRequest(page_size=3))
    assert listed.next_page_token
    request = claim_service_pb2.SearchClaimsRequest(
        query="orchard", page_token=listed.next_page_token
    )
    assert invalid_fields(lambda: stub.SearchClaims(request)) == {"page_token"}


def _retoken(token: str, change: Callable[[dict[str, object]], object]) -> str:
    payload = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    changed = change(payload)
    text = changed if isinstance(changed, str) else json.dumps(changed)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


TAMPERINGS: dict[str, Callable[[dict[str, Any]], object]] = {
    "another digest": lambda p: {**p, "q": "0" * 16},
    "position not a list": lambda p: {**p, "p": "x"},
    "empty position": lambda p: {**p, "p": []},
    "score a string": lambda p: {**p, "p": ["1.0", p["p"][1]]},
    "claim id malformed": lambda p: {**p, "p": [p["p"][0], "spk_nope"]},
    "score infinite": lambda p: json.dumps({**p, "p": [float("inf"), p["p"][1]]}),
    "score NaN": lambda p: json.dumps({**p, "p": [float("nan"), p["p"][1]]}),
    "three items": lambda p: {**p, "p": [*p["p"], 1]},
    "no digest": lambda p: {"p": p["p"]},
    "a list": lambda p: [p["q"], p["p"]],
    "a number": lambda p: 7,
    "not JSON": lambda p: "{not json",
}


@pytest.mark.parametrize("tamper", list(TAMPERINGS.values()), ids=list(TAMPERINGS))
def test_a_tampered_token_is_invalid(
    stub: Stub, orchard: list[str], tamper: Callable[[dict[str, object]], object]
) -> None:
    token = _retoken(_first_token(stub), tamper)
    request = claim_service_pb2.SearchClaimsRequest(query="orchard", page_token=token)
    assert invalid_fields(lambda: stub.SearchClaims(request)) == {"page_token"}


@pytest.mark.parametrize(
    "token", ["garbage", "!!!!", "é", "a" * 2000, base64.urlsafe_b64encode(b"\xff\xfe").decode()]
)
def test_a_garbage_token_is_invalid(stub: Stub, orchard: list[str], token: str) -> None:
    request = claim_service_pb2.SearchClaimsRequest(query="orchard", page_token=token)
    assert invalid_fields(lambda: stub.SearchClaims(request)) == {"page_token"}


def test_a_token_with_a_valid_position_of_our_own_making_continues_from_there(
    stub: Stub, orchard: list[str]
) -> None:
    whole = [r for page in pages(stub, "orchard", 100) for r in page]
    token = _first_token(stub)
    # Point the token at the 50th result: the next page starts right after it.
    middle = whole[49]
    moved = _retoken(token, lambda p: {**p, "p": [middle.score, middle.claim.id]})
    response = stub.SearchClaims(
        claim_service_pb2.SearchClaimsRequest(query="orchard", page_token=moved, page_size=10)
    )
    assert [r.claim.id for r in response.results] == [r.claim.id for r in whole[50:60]]


# Freshness after writes


def test_a_claim_is_searchable_as_soon_as_create_claim_returns(
    stub: Stub, client: claimstore.Client
) -> None:
    for index in range(5):
        claim = client.create_claim(
            f"Quokka sighting number {index}",
            attribution="reported",
            stated_at="2025-11-20",
            speaker="Ranger",
        )
        ids = {result.claim.id for result in search(stub, "quokka")}
        assert claim.id in ids
        assert len(ids) == index + 1


def test_a_claim_is_searchable_as_soon_as_import_claims_acknowledges_it(stub: Stub) -> None:
    batches: queue.Queue[claim_service_pb2.ImportClaimsRequest | None] = queue.Queue()

    def requests() -> Iterator[claim_service_pb2.ImportClaimsRequest]:
        while (batch := batches.get(timeout=30)) is not None:
            yield batch

    responses = stub.ImportClaims(requests(), timeout=60)
    try:
        for number in range(3):
            word = f"wombat{number}"
            batches.put(
                claim_service_pb2.ImportClaimsRequest(
                    claims=[
                        claim_service_pb2.CreateClaimRequest(
                            claim=claim_pb2.Claim(
                                text=f"A {word} crossed the road, claim {index}",
                                attribution=claim_pb2.ATTRIBUTION_REPORTED,
                                speaker=speaker_pb2.Speaker(display_name="Ranger"),
                                stated_at=stamp("2025-11-20T00:00:00+00:00"),
                            )
                        )
                        for index in range(3)
                    ]
                )
            )
            answer = next(responses)
            created = {result.claim_id for result in answer.results}
            assert len(created) == 3
            # The stream is still open, and the batch just acknowledged is searchable.
            assert {result.claim.id for result in search(stub, word)} == created
            assert len(search(stub, "crossed")) == 3 * (number + 1)
    finally:
        batches.put(None)
    assert list(responses) == []


def test_claims_with_new_inline_speakers_are_found_by_their_alias_words(
    stub: Stub, client: claimstore.Client
) -> None:
    first = client.create_claim(
        "Europe must be at the table.",
        attribution="direct_quote",
        stated_at="2025-11-21",
        speaker=speaker_pb2.Speaker(display_name="Kaja Kallas", aliases=["HRVP Kallas"]),
    )
    results = search(stub, "hrvp", view=claim_service_pb2.CLAIM_VIEW_FULL)
    assert [r.claim.id for r in results] == [first.id]
    assert "[HRVP]" in results[0].snippet
    # A second claim names the speaker by the alias alone: matched, not created again.
    second = client.create_claim(
        "No deal without Europe.",
        attribution="paraphrase",
        stated_at="2025-11-22",
        speaker="hrvp kallas",
    )
    assert second.speaker_id == first.speaker_id
    assert {r.claim.id for r in search(stub, "HRVP")} == {first.id, second.id}
    assert {r.claim.id for r in search(stub, "kallas -europe")} == set()
    assert {r.claim.id for r in search(stub, "kallas deal")} == {second.id}


def test_search_runs_while_an_import_writes(stub: Stub, client: claimstore.Client) -> None:
    errors: list[BaseException] = []
    stop = threading.Event()

    def searching() -> None:
        try:
            while not stop.is_set():
                for result in search(stub, "numbat"):
                    assert "numbat" in result.claim.text
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    worker = threading.Thread(target=searching)
    worker.start()
    try:
        requests = [
            claim_service_pb2.CreateClaimRequest(
                claim=claim_pb2.Claim(
                    text=f"numbat count {index}",
                    attribution=claim_pb2.ATTRIBUTION_REPORTED,
                    speaker=speaker_pb2.Speaker(display_name="Ranger"),
                    stated_at=stamp("2025-11-20T00:00:00+00:00"),
                )
            )
            for index in range(90)
        ]
        assert len(list(client.import_claims(requests, batch_size=10))) == 90
    finally:
        stop.set()
        worker.join(timeout=30)
    assert errors == []
    assert len(search(stub, "numbat")) == 90


def test_a_missing_query_is_invalid(stub: Stub) -> None:
    request = claim_service_pb2.SearchClaimsRequest()
    assert invalid_fields(lambda: stub.SearchClaims(request)) == {"query"}

"""Server-assigned ids: unique, well formed, and increasing in the order they are made, one at a
time or many at once."""

from claimstore_server import _ids

CROCKFORD = set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")


def test_ids_made_at_once_increase_and_follow_the_ones_before() -> None:
    ids = _ids.IdGenerator()
    first = ids.new(_ids.CLAIM_PREFIX)
    many = ids.new_many(_ids.CLAIM_PREFIX, 5_000)
    last = ids.new(_ids.CLAIM_PREFIX)
    made = [first, *many, last]
    assert made == sorted(made)
    assert len(set(made)) == len(made)
    assert all(_ids.is_well_formed(claim_id, _ids.CLAIM_PREFIX) for claim_id in made)
    assert all(set(claim_id[4:]) <= CROCKFORD for claim_id in made)


def test_a_millisecond_that_runs_out_of_ids_moves_on_to_the_next() -> None:
    ids = _ids.IdGenerator()
    before = ids.new(_ids.SOURCE_PREFIX)
    ids._last_ms += 10  # as if the clock had gone back: ids go on from the last millisecond
    ids._last_random = (1 << 80) - 2
    made = ids.new_many(_ids.SOURCE_PREFIX, 3)
    assert [before, *made] == sorted([before, *made])
    assert len(set(made)) == 3
    # The first digits hold the millisecond: the second id is the first of the next one.
    assert made[0][4:14] != made[1][4:14] == made[2][4:14]


def test_no_ids_is_an_empty_list() -> None:
    assert _ids.IdGenerator().new_many(_ids.SPEAKER_PREFIX, 0) == []

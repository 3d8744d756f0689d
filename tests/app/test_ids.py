"""Public ids: the 32 hex digits every table and API already uses, in the order they were made."""

import re

from app.store.tables import new_id


def test_ids_made_later_sort_later_so_inserts_append_to_their_index():
    ids = [new_id() for _ in range(10_000)]  # many within one millisecond

    assert all(re.fullmatch(r"[0-9a-f]{32}", one) for one in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)

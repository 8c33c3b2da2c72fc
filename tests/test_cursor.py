"""The cursor's rules on the real trigger specs, without I/O: the bound on the seen set, and
what the first poll does."""

from __future__ import annotations

from engine.polling import cursor
from engine.spec import registry


def contact(n: int, at: float) -> dict:
    from datetime import datetime, timezone

    stamp = datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return {"id": f"c{n:06d}", "dateAdded": stamp, "dateUpdated": stamp}


def test_first_poll_primes_and_delivers_nothing():
    op = registry.get("contacts.search_contacts")
    found = [contact(1, 1000.0), contact(2, 999.0)]
    new, adv = cursor.diff(op, cursor.State(), found, now=1001)
    assert new == [] and adv.hwm == 1000.0
    assert set(adv.add) == {f"{c['id']}@{c['dateUpdated']}" for c in found}  # id + updated time


def test_seen_set_is_bounded_and_what_it_forgets_does_not_fire_again():
    op = registry.get("contacts.search_contacts")
    total = cursor.MAX_SEEN + 500
    found = [contact(n, 10_000.0 + n * 0.1) for n in range(total)]  # all inside the overlap
    state = cursor.State(primed=True, hwm=9_000.0, version=3)
    new, adv = cursor.diff(op, state, list(reversed(found)), now=20_000)
    assert len(new) == total
    assert [f.item["id"] for f in new[:2]] == ["c000000", "c000001"]  # oldest first
    kept = {k: v for k, v in adv.add.items() if v >= adv.trim_below}
    assert len(kept) == cursor.MAX_SEEN and adv.floor == adv.trim_below

    after = cursor.State(primed=True, hwm=adv.hwm, floor=adv.floor, seen=kept, version=4)
    again, _ = cursor.diff(op, after, list(reversed(found)), now=20_001)
    assert again == []  # the forgotten oldest ones are known ground now, not new
    fresh = contact(total + 1, adv.hwm + 1)
    again, _ = cursor.diff(op, after, [fresh] + list(reversed(found)), now=20_002)
    assert [f.item["id"] for f in again] == [fresh["id"]]


def test_single_object_fires_on_every_change_even_back_to_an_old_state():
    op = registry.get("users.get_user")
    a, b = {"id": "u1", "name": "A"}, {"id": "u1", "name": "B"}
    _, adv = cursor.diff(op, cursor.State(), [a])
    state = cursor.State(primed=True, last=adv.last)
    assert cursor.diff(op, state, [a])[0] == []
    new, adv = cursor.diff(op, state, [b])
    assert len(new) == 1
    new, _ = cursor.diff(op, cursor.State(primed=True, last=adv.last), [a])
    assert len(new) == 1

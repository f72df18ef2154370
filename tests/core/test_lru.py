"""The one bounded LRU (detr_core.lru): eviction order, the two bounds, the last entry kept."""
from __future__ import annotations

import pytest

from detr_core.lru import LruCache


def test_the_least_recently_used_goes_first_and_get_refreshes_peek_does_not():
    cache = LruCache(max_items=3, max_bytes=10**9, size_of=len)
    for key in "abc":
        cache.put(key, key * 2)
    assert cache.get("a") == "aa"  # a is now the most recent
    assert cache.peek("b") == "bb"  # b stays the oldest
    assert cache.put("d", "dd") == ["b"]
    assert cache.keys() == ["c", "a", "d"] and "b" not in cache and cache.get("b") is None
    assert len(cache) == 3 and cache.total_bytes == 6


def test_the_byte_budget_evicts_several_but_keeps_the_entry_just_put():
    cache = LruCache(max_items=10, max_bytes=10, size_of=len)
    cache.put("a", "xxxx")
    cache.put("b", "xxxx")
    assert cache.put("c", "xxxxxxxx") == ["a", "b"]
    assert cache.put("huge", "x" * 50) == ["c"]  # alone over the budget: still kept
    assert cache.keys() == ["huge"] and cache.total_bytes == 50


def test_replacing_pop_and_clear_keep_the_byte_count_exact():
    cache = LruCache(max_items=4, max_bytes=100, size_of=len)
    cache.put("a", "xxx")
    cache.put("b", "xx")
    cache.put("a", "x")  # replaced: counted once, and now the most recent
    assert cache.keys() == ["b", "a"] and cache.total_bytes == 3
    assert cache.pop("b") == "xx" and cache.pop("b") is None and cache.total_bytes == 1
    cache.clear()
    assert len(cache) == 0 and cache.total_bytes == 0 and cache.values() == []


def test_a_cache_must_hold_at_least_one_entry():
    with pytest.raises(ValueError, match="max_items=0"):
        LruCache(max_items=0, max_bytes=1, size_of=len)

"""The embedding LRU: eviction order, one encoder run under concurrent asks, background precompute."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from packshot.core.images import Photo
from packshot.core.masking import EmbeddingCache
from packshot.core.masking.embedding import photo_key
from packshot.core.progress import CancelToken


def _photo(seed: int, size=(90, 120)) -> Photo:
    return Photo(pixels=np.random.default_rng(seed).integers(0, 255, (*size, 3), dtype=np.uint8))


def test_lru_evicts_the_least_recently_used(tiny_sam, encoder_calls):
    cache = EmbeddingCache(tiny_sam, capacity=2)
    a, b, c = _photo(1), _photo(2), _photo(3)
    cache.get(a)
    cache.get(b)
    cache.get(a)  # a is now the most recent
    cache.get(c)  # evicts b
    assert cache.keys() == [photo_key(a), photo_key(c)]
    assert len(encoder_calls) == 3 and cache.hits == 1 and cache.misses == 3
    assert a in cache and b not in cache
    cache.get(b)  # b comes back only by encoding again
    assert len(encoder_calls) == 4 and a not in cache


def test_same_photo_asked_from_two_threads_is_encoded_once(tiny_sam, encoder_calls):
    cache = EmbeddingCache(tiny_sam, capacity=4)
    photo = _photo(7)
    got = []
    threads = [threading.Thread(target=lambda: got.append(cache.get(photo))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(got) == 3 and all(g is got[0] for g in got)
    assert len(encoder_calls) == 1


def test_precompute_on_a_worker_thread_then_clicks_need_no_encoder(tiny_sam, encoder_calls, tmp_path):
    paths = []
    for i in range(2):
        paths.append(tmp_path / f"p{i}.png")
        Image.fromarray(_photo(10 + i).pixels).save(paths[-1])
    (tmp_path / "broken.png").write_bytes(b"\x89PNG broken")
    cache = EmbeddingCache(tiny_sam, capacity=4)
    done = []
    worker = threading.Thread(target=lambda: done.append(
        cache.precompute([paths[0], tmp_path / "broken.png", paths[1]])))
    worker.start()
    worker.join(timeout=120)
    assert done == [2], "the unreadable file is skipped, the others encoded"
    assert len(encoder_calls) == 2
    from packshot.core.images import load_photo

    cache.get(load_photo(paths[1]))
    assert len(encoder_calls) == 2 and cache.hits == 1
    assert cache.precompute(paths) == 0, "already cached: nothing to do"


def test_precompute_stops_when_cancelled(tiny_sam, encoder_calls):
    cache = EmbeddingCache(tiny_sam)
    token = CancelToken()
    token.cancel()
    assert cache.precompute([_photo(20), _photo(21)], cancel=token) == 0
    assert len(encoder_calls) == 0
    progress = []
    fresh = CancelToken()
    # cancel after the first photo reports progress: the second is never encoded
    count = cache.precompute([_photo(22), _photo(23)], cancel=fresh,
                             progress=lambda p: (progress.append(p), fresh.cancel()))
    assert count == 1 and len(encoder_calls) == 1 and progress[0].total == 2


def test_capacity_must_be_positive(tiny_sam):
    with pytest.raises(ValueError):
        EmbeddingCache(tiny_sam, capacity=0)


def test_photo_key_changes_with_content_and_not_with_copies():
    a = _photo(1, (400, 600))
    b = Photo(pixels=a.pixels.copy(), source=Path("/elsewhere/spelled/differently.jpg"))
    assert photo_key(a) == photo_key(b), "same pixels, same embedding, whatever the path"
    b.pixels[::2, ::2] ^= 1  # a subtle edit (every other pixel, one level) still changes the key
    assert photo_key(a) != photo_key(b)


def test_maskers_expose_precompute(tiny_runtime, encoder_calls):
    from packshot.core.masking import build_masker

    photos = [_photo(30), _photo(31)]
    assert build_masker("classic").precompute(photos) == 0
    sam = build_masker("sam", tiny_runtime, device="cpu")
    assert sam.precompute(photos) == 2 and len(encoder_calls) == 2
    sam.session(photos[1]).add_click(60, 45)
    assert len(encoder_calls) == 2, "the session used the precomputed embedding"

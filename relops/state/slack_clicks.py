"""Which Slack button clicks were acted on, shared by every intake process: a signed request replayed
within Slack's five-minute window finds its click taken and changes nothing a second time."""

from __future__ import annotations

import hashlib

import redis

from relops import redis_keys

#: Longer than the window a signed request is accepted in (relops.access.slack_signature.MAX_SKEW_S,
#: either side of now), so no replay the signature check lets through outlives its claim.
CLAIM_TTL_S = 15 * 60


def _key(replay_key: str) -> str:
    return redis_keys.slack_click(hashlib.sha256(replay_key.encode()).hexdigest())


def claim_click(client: redis.Redis, replay_key: str) -> bool:
    """True for the first request of a click, False for its replays (one atomic SET NX)."""
    return bool(client.set(_key(replay_key), "1", nx=True, ex=CLAIM_TTL_S))


def release_click(client: redis.Redis, replay_key: str) -> None:
    """Give a click back when acting on it failed, so that it can be sent again."""
    client.delete(_key(replay_key))

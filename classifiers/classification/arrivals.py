"""On-arrival classification in batches per version: new comments mark their version due, and the `inference`
workers drain due versions one at a time, each with every comment it has waiting.

A burst over hundreds of courses then costs a model load per version and drain, not per comment, and a worker
prefers versions whose model it already holds (CLASSIFY_AFFINITY_S). With several drainers at once, each version
has an owner among them (rendezvous hashing of the version id over the live drainers), which alone takes it
until it has waited CLASSIFY_STEAL_AFTER_S past its debounce: each worker process then holds its share of the
versions rather than all of them, and evicts and reloads less; a busy or dead owner's versions are still drained.
Redis (the shared cache's server) holds
only hints — which versions have arrivals since when, from which feedback id — and the database stays the truth
of what is unclassified: a drain classifies the version's pending comments from that id on, and predictions are
written once per (feedback, version) whatever runs twice.

Claims make a killed worker harmless: a drainer claims a version (atomically, one drainer per version), renews
the claim after each chunk, and releases it when done. A claim past its deadline (CLASSIFY_CLAIM_TTL_S) belonged
to a dead worker: the next drain puts the version back as due from the same id. A worker that starts queues a
recovering drain (classifiers.tasks). The beat sweep remains the safety net for everything else (a lost drain
message, Redis down at arrival): its runs classify what the database says is pending, whatever Redis holds.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass, field

from django.conf import settings

from classifiers.classification.services import chunk_size, classify_pending, loaded_models, predictor_key
from classifiers.models import ModelVersion
from eduplatform.errors import BROKER_ERRORS
from eduplatform.telemetry import client

logger = logging.getLogger(__name__)

DUE_KEY = "eduplatform:classify:due"  # version id → time of its first arrival not yet drained (epoch s)
FROM_KEY = "eduplatform:classify:from"  # version id → lowest feedback id among those arrivals
CLAIMS_KEY = "eduplatform:classify:claims"  # version id → "deadline|from id|token" while a drainer works on it
DRAIN_QUEUED_KEY = "eduplatform:classify:drain-queued"  # set while a drain message waits on the queue
DRAINERS_KEY = "eduplatform:classify:drainers"  # drainer (host:pid) → its last sign of life (epoch s), while draining
DRAINER_TTL_S = 15.0  # a drainer silent this long (killed, or between chunks of a huge batch) owns nothing
MAX_ID = 2**63 - 1

# Claim a due, ripe, unclaimed version: the due entry moves into the claim in one step, so two drainers never
# take the same version and no arrival is lost between them. Returns the lowest feedback id, or false.
_CLAIM = """
if redis.call('HEXISTS', KEYS[3], ARGV[1]) == 1 then return false end
local since = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not since or tonumber(since) > tonumber(ARGV[2]) then return false end
local from = redis.call('ZSCORE', KEYS[2], ARGV[1]) or '0'
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3] .. '|' .. from .. '|' .. ARGV[4])
return from
"""
# Renew (ARGV[2] = new deadline) or release (ARGV[2] = '') a claim, only while it is still ours.
_TOUCH = """
local claim = redis.call('HGET', KEYS[1], ARGV[1])
if not claim then return 0 end
local deadline, from, token = string.match(claim, '([^|]+)|([^|]+)|(.+)')
if token ~= ARGV[3] then return 0 end
if ARGV[2] == '' then redis.call('HDEL', KEYS[1], ARGV[1]) else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '|' .. from .. '|' .. token) end
return 1
"""
# Claims past their deadline go back to due (ripe at once), keeping the lowest id. Returns how many.
_RECLAIM = """
local n = 0
local claims = redis.call('HGETALL', KEYS[3])
for i = 1, #claims, 2 do
  local deadline, from = string.match(claims[i + 1], '([^|]+)|([^|]+)|')
  if tonumber(deadline) < tonumber(ARGV[1]) then
    redis.call('ZADD', KEYS[1], 'NX', ARGV[2], claims[i])
    redis.call('ZADD', KEYS[2], 'LT', from, claims[i])
    redis.call('HDEL', KEYS[3], claims[i])
    n = n + 1
  end
end
return n
"""


def note_arrivals(version_ids: list[int], feedback_ids: list[int]) -> None:
    """Mark versions due for these new comments (the earliest arrival and lowest id win), then make sure a
    drain is queued. Raises BROKER_ERRORS when Redis or the broker is down: the sweep classifies them later."""
    if not version_ids or not feedback_ids:
        return
    now, lowest = time.time(), min(feedback_ids)
    pipe = client().pipeline(transaction=False)
    for version_id in version_ids:
        pipe.zadd(DUE_KEY, {version_id: now}, nx=True)
        pipe.zadd(FROM_KEY, {version_id: lowest}, lt=True)
    # The drain mark in the same round trip (after the due marks, as a separate call would be): every survey
    # submission comes through here, and during a burst the mark is nearly always set already.
    _mark_drain_queued(pipe)
    if pipe.execute()[-1]:
        _queue_drain()


def _mark_drain_queued(redis_or_pipe) -> object:  # noqa: ANN001 - a client or a pipeline
    return redis_or_pipe.set(DRAIN_QUEUED_KEY, 1, nx=True, ex=settings.CLASSIFY_CLAIM_TTL_S)


def schedule_drain() -> bool:
    """Queue a drain unless one already waits on the queue (a burst queues one at a time, and every idle
    worker process takes the next: the first drain clears the mark when it starts)."""
    if not _mark_drain_queued(client()):
        return False
    _queue_drain()
    return True


def _queue_drain() -> None:
    """Publish the drain whose mark this process has just set (the mark goes again when the broker is down)."""
    from classifiers.tasks import drain_arrivals_task

    try:
        drain_arrivals_task.apply_async(retry=False)
    except BROKER_ERRORS:
        client().delete(DRAIN_QUEUED_KEY)
        raise


def pending_versions() -> int:
    """Versions with arrivals waiting or being drained (for /metrics)."""
    pipe = client().pipeline(transaction=False)
    pipe.zcard(DUE_KEY)
    pipe.hlen(CLAIMS_KEY)
    due, claimed = pipe.execute()
    return int(due) + int(claimed)


def reclaim_expired() -> int:
    """Put versions whose drainer died back as due (from the same feedback id)."""
    now = time.time()
    return int(client().eval(_RECLAIM, 3, DUE_KEY, FROM_KEY, CLAIMS_KEY, now, now - settings.CLASSIFY_DEBOUNCE_S))


@dataclass
class DrainResult:
    versions: int = 0
    classified: int = 0
    skipped: int = 0
    reclaimed: int = 0
    drained: list[int] = field(default_factory=list)


def drain_arrivals(*, budget_s: float | None = None, recover: bool = False) -> DrainResult:
    """Drain due versions, one at a time, until none is due or `budget_s` is spent (then queue a successor).

    Versions become ripe CLASSIFY_DEBOUNCE_S after their first arrival, so a course's comments of the last
    seconds share one batch. `recover` (a worker starting): also wait for other claims to expire, in case they
    were held by this machine's killed worker, so its batch is finished without waiting for the sweep.
    """
    budget_s = settings.CLASSIFY_DRAIN_BUDGET_S if budget_s is None else budget_s
    client().delete(DRAIN_QUEUED_KEY)
    result, deadline = DrainResult(), time.monotonic() + budget_s
    try:
        while time.monotonic() < deadline:
            result.reclaimed += reclaim_expired()
            drainers = _heartbeat()
            due = client().zrange(DUE_KEY, 0, -1, withscores=True)
            if not due:
                wait = _until_claims_expire() if recover else None
                if wait is None or time.monotonic() + wait > deadline:
                    return result
                time.sleep(min(wait, 1.0))
                continue
            now = time.time()
            claimed, ready_at = _claim_next(due, now, drainers)
            if claimed is None:  # nothing this drainer may take yet (or all claimed): wait for the earliest
                time.sleep(max(0.05, min(1.0, ready_at - now)))
                continue
            _drain_version(*claimed, result)
    finally:
        client().zrem(DRAINERS_KEY, _drainer())  # an idle worker owns nothing: the others take its versions
    if client().zcard(DUE_KEY):
        schedule_drain()
    return result


def _drainer() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _heartbeat() -> list[str]:
    """Mark this drainer alive; the live drainers (this one included), silent ones forgotten."""
    now = time.time()
    pipe = client().pipeline(transaction=False)
    pipe.zadd(DRAINERS_KEY, {_drainer(): now})
    pipe.zremrangebyscore(DRAINERS_KEY, "-inf", now - DRAINER_TTL_S)
    pipe.zrange(DRAINERS_KEY, 0, -1)
    return sorted(member.decode() for member in pipe.execute()[2])


def owner(version_id: int, drainers: list[str]) -> str | None:
    """The drainer that owns a version: the highest hash of (drainer, version) (rendezvous hashing: a drainer
    coming or going moves only its own share of the versions)."""
    if not drainers:
        return None
    return max(drainers, key=lambda name: hashlib.blake2b(f"{name}|{version_id}".encode(), digest_size=8).digest())


def _until_claims_expire() -> float | None:
    claims = client().hvals(CLAIMS_KEY)
    if not claims:
        return None
    return max(0.0, min(float(claim.split(b"|")[0]) for claim in claims) - time.time()) + 0.1


def _claim_next(
    due: list[tuple[bytes, float]], now: float, drainers: list[str]
) -> tuple[tuple[int, int, str] | None, float]:
    """Claim the ripe version waiting longest among those this drainer may take: its own (see `owner`), those
    whose model it holds, and others' once they have waited CLASSIFY_STEAL_AFTER_S past their debounce. A model
    this process holds counts as waiting CLASSIFY_AFFINITY_S longer: a load is skipped at the price of a
    bounded delay for the others. Returns the claim (or None) and, without one, when to look again (epoch s)."""
    held = {key[0] for key in loaded_models()}
    me, ripe_before = _drainer(), now - settings.CLASSIFY_DEBOUNCE_S
    ripe, later = [], []
    for member, since in due:
        version_id = int(member)
        own = version_id in held or len(drainers) < 2 or owner(version_id, drainers) == me
        ready = since + settings.CLASSIFY_DEBOUNCE_S + (0 if own else settings.CLASSIFY_STEAL_AFTER_S)
        (ripe if ready <= now else later).append((version_id, since) if ready <= now else ready)
    ripe.sort(key=lambda item: item[1] - (settings.CLASSIFY_AFFINITY_S if item[0] in held else 0))
    token = uuid.uuid4().hex
    for version_id, _ in ripe:
        lowest = client().eval(
            _CLAIM, 3, DUE_KEY, FROM_KEY, CLAIMS_KEY, version_id, ripe_before, _claim_deadline(), token
        )
        if lowest is not None:
            return (version_id, int(float(lowest)), token), now
    # Nothing claimable: look again when the next version becomes ours to take, or (all ripe ones claimed by
    # others) within a debounce.
    return None, min(later, default=now + max(settings.CLASSIFY_DEBOUNCE_S, 0.05))


def _claim_deadline() -> float:
    return time.time() + settings.CLASSIFY_CLAIM_TTL_S


def _drain_version(version_id: int, lowest: int, token: str, result: DrainResult) -> None:
    """Every pending comment of the version from `lowest` on, chunk by chunk, renewing the claim after each."""
    try:
        version = ModelVersion.objects.select_related("schema").filter(pk=version_id, is_active=True).first()
        # A version replaced meanwhile: the new version's run (or the sweep) covers its comments.
        if version is None:
            return
        while True:
            part = classify_pending(version, id_range=(lowest, MAX_ID))
            result.classified += part.classified
            result.skipped += part.skipped
            client().eval(_TOUCH, 1, CLAIMS_KEY, version_id, _claim_deadline(), token)
            _heartbeat()
            if part.read < chunk_size():
                break
        result.versions += 1
        result.drained.append(version_id)
    finally:  # an error (not a kill) releases the claim; the version's comments stay pending for the sweep
        client().eval(_TOUCH, 1, CLAIMS_KEY, version_id, "", token)


def holds(version: ModelVersion) -> bool:
    """Whether this process holds the version's model (tests and the benchmark)."""
    return predictor_key(version) in loaded_models()

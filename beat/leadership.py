"""One beat leads, standbys wait: a lock in Redis renewed together with the heartbeat, and a
per-run guard so that the same due run of an entry is sent once whoever leads."""

from __future__ import annotations

import enum
import logging
import os
import socket
import uuid

import redis
from django.conf import settings
from django.utils import timezone

from saas.health import BEAT_HEARTBEAT_KEY

logger = logging.getLogger(__name__)

LEADER_KEY = "saas:beat:leader"
SENT_KEY = "saas:beat:sent:{key}:{due}"

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
# Renew the lock and write the heartbeat in one command, only while we hold the lock.
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  redis.call('pexpire', KEYS[1], ARGV[2])
  redis.call('set', KEYS[2], ARGV[3], 'EX', 300)
  return 1
end
return 0
"""


class Hold(enum.Enum):
    """The outcome of one attempt to hold the lock."""

    LEADING = "leading"  # we held it and renewed it
    TOOK_OVER = "took_over"  # we just took it: load everything from the database
    STANDBY = "standby"  # another beat leads, or Redis is unreachable


class SendDecision(enum.Enum):
    """What to do with one due run."""

    SEND = "send"
    ALREADY_SENT = "already_sent"  # by us or a previous leader: record it as run, do not send
    NOT_LEADER = "not_leader"  # send nothing, record nothing


class Leadership:
    def __init__(self, redis_url: str) -> None:
        self.token = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.leader = False
        self._redis = redis.Redis.from_url(redis_url, socket_timeout=2)
        self._renew = self._redis.register_script(_RENEW)

    def hold(self) -> Hold:
        """Renew the lock (and write the heartbeat) if we hold it, else try to take it."""
        ttl_ms = settings.BEAT_LOCK_TTL_S * 1000
        try:
            if self.leader and self._renew_lock(ttl_ms):
                return Hold.LEADING
            if self.leader:
                logger.warning("beat: lost leadership; standing by")
                self.leader = False
            if self._redis.set(LEADER_KEY, self.token, nx=True, px=ttl_ms):
                logger.info("beat: %s is the leader", self.token)
                self.leader = True
                self._renew_lock(ttl_ms)  # the heartbeat, at once
                return Hold.TOOK_OVER
        except redis.RedisError:
            logger.warning("beat: Redis unreachable; not sending")
            self.leader = False
        return Hold.STANDBY

    def _renew_lock(self, ttl_ms: int) -> bool:
        """Extend the lock and write the heartbeat, in one command, if we still hold it."""
        return bool(
            self._renew(
                keys=[LEADER_KEY, BEAT_HEARTBEAT_KEY],
                args=[self.token, ttl_ms, timezone.now().isoformat()],
            )
        )

    def release(self) -> None:
        """A clean stop hands over at once instead of after the lock's lifetime."""
        if not self.leader:
            return
        try:
            self._redis.register_script(_RELEASE)(keys=[LEADER_KEY], args=[self.token])
        except redis.RedisError:
            pass
        self.leader = False

    def may_send(self, key: str, due: str) -> SendDecision:
        """Checked before each send: a leader that stalled past its lock must not send, and
        the same due run of an entry is sent once, whoever is the leader."""
        try:
            if self._redis.get(LEADER_KEY) != self.token.encode():
                self.leader = False
                return SendDecision.NOT_LEADER
            if not self._redis.set(
                SENT_KEY.format(key=key, due=due), self.token, nx=True, ex=86400
            ):
                logger.info("beat: %s due at %s was already sent", key, due)
                return SendDecision.ALREADY_SENT
        except redis.RedisError:
            logger.warning("beat: Redis unreachable; %s not sent", key)
            self.leader = False
            return SendDecision.NOT_LEADER
        return SendDecision.SEND

    def send_forget(self, key: str, due: str) -> None:
        """A due run that was not sent after all (the send failed, or it was skipped): free its
        guard so the next try can send it."""
        try:
            self._redis.delete(SENT_KEY.format(key=key, due=due))
        except redis.RedisError:
            logger.warning("beat: send guard of %s at %s not released", key, due)


def _redis_text(key: str) -> str | None:
    """A string kept in Redis, or None (no such key, or Redis unreachable)."""
    try:
        value = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1).get(key)
    except redis.RedisError:
        return None
    return value.decode() if isinstance(value, bytes) else value


def beat_leader() -> str | None:
    """Who leads beat now (host:pid:token), or None (no leader, or Redis unreachable)."""
    return _redis_text(LEADER_KEY)


def beat_heartbeat() -> str | None:
    """When the beat leader last renewed its lock (ISO time), or None."""
    return _redis_text(BEAT_HEARTBEAT_KEY)

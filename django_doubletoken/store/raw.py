"""The Redis client beneath the Django cache, for what its API cannot say in one round trip.

Found per backend (django-redis, django-valkey, Django's own RedisCache): the raw client that
writes to the primary, with the backend's value encoder and decoder, so that values written
or read here are the ones ``cache().get`` / ``set`` would see. Used to send several commands
in one write (a pipeline, or ``_send_together`` on one pooled connection) and to read back
from the primary where a replica could lag. Every helper returns None for a backend it does
not know; callers then take the Django cache's own (slower) calls.
"""

from __future__ import annotations

from typing import Any

from django.core.cache import BaseCache

from . import base
from .base import CACHE_ERRORS, REPLY_ERRORS, ShardClient


def _codec(backend: BaseCache) -> tuple[Any, Any, Any] | None:
    """The raw single-node client, the backend's value encoder and decoder."""
    client = getattr(backend, "client", None)  # django-redis, django-valkey
    if (client is not None and not isinstance(client, ShardClient)
            and hasattr(client, "get_client") and hasattr(client, "encode")
            and hasattr(client, "decode")):
        raw = client.get_client(write=True)
        return (None if hasattr(raw, "get_node_from_key") else
                (raw, client.encode, client.decode))
    inner = getattr(backend, "_cache", None)  # django.core.cache.backends.redis
    serializer = getattr(inner, "_serializer", None)
    if serializer is not None and hasattr(inner, "get_client"):
        return inner.get_client(write=True), serializer.dumps, serializer.loads
    return None


def _raw_client(backend: BaseCache) -> tuple[Any, Any] | None:
    client = getattr(backend, "client", None)  # django-redis, django-valkey
    if (client is not None and not isinstance(client, ShardClient)
            and hasattr(client, "get_client") and hasattr(client, "encode")):
        return client.get_client(write=True), client.encode
    inner = getattr(backend, "_cache", None)  # django.core.cache.backends.redis
    serializer = getattr(inner, "_serializer", None)
    if serializer is not None and hasattr(inner, "get_client"):
        return inner.get_client(write=True), serializer.dumps
    return None


def _decoder(backend: BaseCache) -> Any:
    client = getattr(backend, "client", None)  # django-redis, django-valkey
    if client is not None and hasattr(client, "decode"):
        return client.decode
    serializer = getattr(getattr(backend, "_cache", None), "_serializer", None)
    return None if serializer is None else serializer.loads


def _pipeline(backend: BaseCache) -> tuple[Any, Any] | None:
    """A pipeline (no MULTI) to the primary and the backend's value encoder, for backends
    known to expose them: the commands it queues are the backend's own SETs, sent at once."""
    writer = _raw_client(backend)
    if writer is None:
        return None
    client, encode = writer
    return client.pipeline(transaction=False), encode


def _connection(pool: Any) -> Any:
    try:  # redis-py 5.3+ deprecates the command's name, which valkey-py still requires
        return pool.get_connection()
    except TypeError:
        return pool.get_connection("SET")


def _send_together(client: Any, commands: list[tuple[Any, ...]]) -> list[Any]:
    """The replies of ``commands``, sent in one write on one connection of the client's
    pool: what a pipeline does, without its bookkeeping (which cost more CPU than the read
    itself). A connection that fails is dropped and the commands go again through a
    pipeline, with the client's retries."""
    pool = getattr(client, "connection_pool", None)
    if pool is not None:
        connection = _connection(pool)
        try:
            connection.send_packed_command(connection.pack_commands(commands))
            return _read_replies(connection, len(commands))
        except REPLY_ERRORS:
            raise  # the server refused a command; every reply was read
        except CACHE_ERRORS:
            connection.disconnect()
        finally:
            pool.release(connection)
    pipeline = client.pipeline(transaction=False)
    for command in commands:
        pipeline.execute_command(*command)
    return pipeline.execute()


def _read_replies(connection: Any, count: int) -> list[Any]:
    """``count`` replies; an error reply is raised after the others are read (as a pipeline
    raises it), so that the connection goes back to the pool with nothing left unread."""
    replies, refused = [], None
    for _ in range(count):
        try:
            replies.append(connection.read_response())
        except REPLY_ERRORS as exc:
            refused = refused or exc
            replies.append(exc)
    if refused is not None:
        raise refused
    return replies


def _read_from_primary(key: str) -> Any:
    """Read back what ``add`` just refused to overwrite. With a replicated django-redis
    client a plain get may hit a replica that has not seen the winner's write yet."""
    backend = base.cache()
    client = getattr(backend, "client", None)
    if isinstance(client, ShardClient) or not hasattr(client, "get_client"):
        return backend.get(key)  # a shard has no replicas to lag behind
    return backend.get(key, client=client.get_client(write=True))

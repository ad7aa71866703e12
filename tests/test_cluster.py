"""Redis Cluster (3 primaries + 3 replicas) through django-valkey's cluster cache, with a
gunicorn app server under steady load while the cluster fails over and moves a session's slot.
The core contract on the cluster runs in test_backends.py ("valkey-cluster")."""

import re
import threading
import time

import pytest
from redis.crc import key_slot

from django_doubletoken import services, store

from .helpers import access_token, bearer
from .load import OK, UNAVAILABLE, SessionLoad
from .servers import RedisClusterSet, app_server

pytestmark = pytest.mark.django_db(transaction=True)

ACKS = {"REVOCATION_REPLICA_ACKS": 1}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    servers = RedisClusterSet(tmp_path_factory.mktemp("cluster")).start()
    yield servers
    servers.stop()


@pytest.fixture
def on_cluster(cluster, settings):
    settings.CACHES = cluster.caches()
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, **ACKS}
    cluster.flush()
    return cluster


def slot_of(session_id: str) -> int:
    return key_slot(session_id.encode())  # the {hash tag} of every key of the session


def test_a_sessions_keys_share_one_slot_and_sessions_spread(on_cluster, api, user, login):
    pairs = [login(device=f"d{i}") for i in range(12)]
    for pair in pairs:
        response = api.get("/api/me/", **bearer(access_token(pair, remaining=60)))
        assert response.status_code == 200 and response["NEW_HTTP_AUTHORIZATION"]
    homes = {}
    for port in on_cluster.primary_ports():
        for key in on_cluster.node(port).keys("*doubletoken*"):
            sid = re.search(r"\{([0-9a-f-]{36})\}", key).group(1)
            assert on_cluster.node(port).cluster("keyslot", key) == slot_of(sid)
            assert homes.setdefault(sid, port) == port, f"{sid} is split over primaries"
    assert set(homes) == {pair["session_id"] for pair in pairs}
    assert len(set(homes.values())) >= 2  # 12 sessions over 3 primaries: all on one is 1 in 59k
    for pair in pairs:
        assert on_cluster.primary_for_slot(slot_of(pair["session_id"])) == homes[
            pair["session_id"]]


def test_the_login_throttle_counts_on_the_cluster_and_survives_a_script_flush(
    on_cluster, api, user, password, settings
):
    """On a cluster the throttle's history goes alone (a session's keys live in other slots),
    through the cluster client's own routing; a node that lost the script gets it again."""
    from django_doubletoken.endpoints import throttle

    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "LOGIN_THROTTLE_RATE": "3/min"}
    throttle._refused_until.clear()
    for port in on_cluster.primary_ports():
        on_cluster.node(port).script_flush()
        on_cluster.node(port).config_resetstat()
    body = {"username": "alice", "password": password}
    assert api.post("/api/auth/login/", body, format="json").status_code == 200
    for port in on_cluster.primary_ports():
        on_cluster.node(port).script_flush()
    assert api.post("/api/auth/login/", body, format="json").status_code == 200
    assert api.post("/api/auth/login/", body, format="json").status_code == 200
    refused = api.post("/api/auth/login/", body, format="json")
    throttle._refused_until.clear()
    assert refused.status_code == 429 and refused.json()["code"] == "throttled"
    histories = [key for port in on_cluster.primary_ports()
                 for key in on_cluster.node(port).keys("*throttle*")]
    assert len(histories) == 1
    calls = {}
    for port in on_cluster.primary_ports():
        for name, stats in on_cluster.node(port).info("commandstats").items():
            calls[name] = calls.get(name, 0) + stats["calls"]
    # By its SHA each time; whole where the node had not seen it: at first and after the flush.
    assert calls.get("cmdstat_evalsha", 0) >= 2 and calls.get("cmdstat_eval", 0) == 2


def _sessions(api, password):
    """A live session and a revoked one, opened in this process."""
    pairs = [api.post("/api/auth/login/", {"username": "alice", "password": password,
                                            "device": device}, format="json")
             for device in ("live", "revoked")]
    assert [pair.status_code for pair in pairs] == [200, 200]
    pairs = [pair.json() for pair in pairs]
    services.revoke_session(pairs[1]["session_id"], "admin")  # WAITs for the slot's replica
    return pairs


def test_moving_a_live_sessions_slot_under_load_gives_no_5xx(on_cluster, api, user, password):
    live, revoked = _sessions(api, password)
    with app_server("gunicorn", caches=on_cluster.caches(), doubletoken=ACKS) as base:
        slot = slot_of(live["session_id"])
        source = on_cluster.primary_for_slot(slot)
        target = next(p for p in on_cluster.primary_ports() if p != source)
        with SessionLoad(base, live, revoked) as load:
            for destination in (target, source) * 3:
                time.sleep(0.3)
                on_cluster.move_slot(slot, destination)
            time.sleep(0.5)
        assert on_cluster.primary_for_slot(slot) == source
        load.assert_safe({OK})


def test_a_revocation_waits_on_a_node_whose_client_was_dropped(on_cluster, user, login):
    """After a connection error valkey-py drops the node's client (``valkey_connection =
    None``) until the next one is needed: the replica WAIT of a revocation makes it anew."""
    pair = login()
    backend = store.cache()
    client = backend.client.get_client(write=True)
    node = client.get_node_from_key(backend.make_key(store.session_key(pair["session_id"])))
    node.valkey_connection = None
    services.revoke_session(pair["session_id"], "admin")
    assert node.valkey_connection is not None
    assert backend.get(store.session_key(pair["session_id"]))[1] == "admin"


@pytest.mark.parametrize("how", ["graceful", "crash"])  # crash last: it leaves a node dead
def test_failover_of_a_live_sessions_primary_under_load(on_cluster, api, user, password, how,
                                                         settings):
    live, revoked = _sessions(api, password)
    slot = slot_of(live["session_id"])
    old = on_cluster.primary_for_slot(slot)
    # The server's LOCATION is the node that fails: its threads open their cache clients on
    # first use, some after the crash, and still find the cluster through the other startup
    # nodes (system check W007).
    with app_server("gunicorn", caches=on_cluster.caches(location=old), doubletoken=ACKS
                    ) as base:
        with SessionLoad(base, live, revoked) as load:
            time.sleep(1)
            new = on_cluster.failover(slot, how)
            time.sleep(2)
            load.settle()
        assert new != old and on_cluster.primary_for_slot(slot) == new
        load.assert_safe({OK, UNAVAILABLE})
        # The revoked session's state survived on the promoted replica (WAIT at revocation).
        state = store.cache().get(store.session_key(revoked["session_id"]))
        assert state is not None and state[1] == "admin"
    if how == "crash":
        # A thread that opens its cache client now, its LOCATION dead for good, reaches the
        # cluster through the other startup nodes (Django makes a cache client per thread).
        settings.CACHES = on_cluster.caches(location=old)
        read = []
        reader = threading.Thread(target=lambda: read.append(
            store.cache().get(store.session_key(revoked["session_id"]))))
        reader.start()
        reader.join()
        assert read and read[0][1] == "admin"

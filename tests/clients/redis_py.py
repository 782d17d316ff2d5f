"""A real client library, unchanged: Debian's redis-py (python3-redis)
against a server on 127.0.0.1:<port> (argv[1]). Prints `ok` when every
check passed; an assertion names the one that did not."""

import os
import sys
import threading
import time

import redis

port = int(sys.argv[1])
r = redis.Redis(port=port, socket_timeout=30)
assert r.ping()
r.delete("py:k", "py:n", "py:h", "py:jobs", "py:s", "py:ev", "py:lock", "py:rate", "py:w")

# Strings, a transaction, a hash.
assert r.set("py:k", "v") and r.get("py:k") == b"v"
with r.pipeline() as p:
    p.incr("py:n")
    p.incr("py:n")
    assert p.execute() == [1, 2]
r.hset("py:h", mapping={"a": "1", "b": "2"})
assert r.hgetall("py:h") == {b"a": b"1", b"b": b"2"}

# A worker blocked in BRPOP gets the job another connection pushes.
got = []


def consume():
    c = redis.Redis(port=port, socket_timeout=30)
    got.append(c.brpop("py:jobs", timeout=20))


t = threading.Thread(target=consume)
t.start()
time.sleep(1)
r.lpush("py:jobs", "job1")
t.join(25)
assert got == [(b"py:jobs", b"job1")], got

# Pub/Sub and keyspace notifications.
ps = r.pubsub()
ps.subscribe("py:news")
ps.psubscribe("__keyevent@0__:*")
deadline = time.time() + 20
subscribed = 0
while subscribed < 2 and time.time() < deadline:
    m = ps.get_message(timeout=1)
    if m and m["type"] in ("subscribe", "psubscribe"):
        subscribed += 1
assert subscribed == 2
r.config_set("notify-keyspace-events", "KEA")
assert r.publish("py:news", "hi") == 1
r.set("py:ev", "1")
seen = set()
while len(seen) < 2 and time.time() < deadline:
    m = ps.get_message(timeout=1)
    if m and m["type"] == "message":
        assert (m["channel"], m["data"]) == (b"py:news", b"hi"), m
        seen.add("message")
    if m and m["type"] == "pmessage" and m["data"] == b"py:ev":
        assert m["channel"] == b"__keyevent@0__:set", m
        seen.add("event")
assert seen == {"message", "event"}, seen
r.config_set("notify-keyspace-events", "")
ps.close()

# A stream with a consumer group, and a blocked XREADGROUP.
assert r.xadd("py:s", {"f": "v"}, id="1-1") == b"1-1"
assert r.xgroup_create("py:s", "grp", id="0")
assert r.xreadgroup("grp", "c1", {"py:s": ">"}) == [[b"py:s", [(b"1-1", {b"f": b"v"})]]]
assert r.xpending("py:s", "grp")["pending"] == 1
assert r.xack("py:s", "grp", "1-1") == 1
read = []


def reader():
    c = redis.Redis(port=port, socket_timeout=30)
    read.append(c.xreadgroup("grp", "c2", {"py:s": ">"}, block=20000))


t = threading.Thread(target=reader)
t.start()
time.sleep(1)
r.xadd("py:s", {"g": "w"}, id="2-1")
t.join(25)
assert read == [[[b"py:s", [(b"2-1", {b"g": b"w"})]]]], read

# Scripts: redis-py's Lock runs its own Lua (EVALSHA, loading it on
# NOSCRIPT), and a rate limiter through register_script.
lock = r.lock("py:lock", timeout=10)
assert lock.acquire(blocking=False)
assert not r.lock("py:lock", timeout=10).acquire(blocking=False)
assert lock.extend(5) and lock.locked() and lock.owned()
lock.release()
assert not r.exists("py:lock")
# A holder whose lock expired cannot release the next holder's.
assert lock.acquire(blocking=False)
r.delete("py:lock")
other = r.lock("py:lock", timeout=10)
assert other.acquire(blocking=False)
try:
    lock.release()
    raise AssertionError("released a lock another holds")
except redis.exceptions.LockNotOwnedError:
    pass
other.release()

limiter = r.register_script(
    """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if n > tonumber(ARGV[1]) then return {0, n} end
return {1, n}
"""
)
calls = [limiter(keys=["py:rate"], args=[3, 60000]) for _ in range(5)]
assert calls == [[1, 1], [1, 2], [1, 3], [0, 4], [0, 5]], calls
assert 0 < r.pttl("py:rate") <= 60000
r.script_flush()
assert limiter(keys=["py:rate"], args=[3, 60000]) == [0, 6]

# A script past busy-reply-threshold: the others get BUSY, and SCRIPT
# KILL ends it unless it wrote.
r.config_set("busy-reply-threshold", 100)


def busy_error(e):
    return isinstance(e, redis.exceptions.ResponseError) and str(e).startswith("BUSY")


def while_busy(script, *args):
    """Runs `script` on another connection; returns once the others get
    BUSY, with the thread and where its outcome will be."""
    outcome = []

    def call():
        c = redis.Redis(port=port, socket_timeout=60)
        try:
            outcome.append(c.eval(script, *args))
        except redis.exceptions.ResponseError as e:
            outcome.append(e)

    t = threading.Thread(target=call)
    t.start()
    deadline = time.time() + 30
    while True:
        try:
            r.ping()
        except redis.exceptions.ResponseError as e:
            assert busy_error(e), e
            return t, outcome
        assert time.time() < deadline and not outcome, ("never busy", outcome)
        time.sleep(0.05)


t, outcome = while_busy("while true do end", 0)
try:
    r.get("py:k")
    raise AssertionError("GET answered during a script")
except redis.exceptions.ResponseError as e:
    assert busy_error(e) and "SCRIPT KILL" in str(e), e
assert r.script_kill()
t.join(30)
assert "Script killed by user with SCRIPT KILL" in str(outcome[0]), outcome
assert r.ping()
# About three seconds on Basalt under TCG (REDIS_PY_SPIN: more for a
# faster server).
spin = int(os.environ.get("REDIS_PY_SPIN", "3000000"))
writes = "redis.call('SET', KEYS[1], '1') local n = 0 while n < tonumber(ARGV[1]) do n = n + 1 end return n"
t, outcome = while_busy(writes, 1, "py:w", spin)
try:
    r.script_kill()
    raise AssertionError("killed a script that wrote")
except redis.exceptions.ResponseError as e:
    assert str(e).startswith("UNKILLABLE"), e
t.join(60)
assert outcome == [spin], outcome
assert r.get("py:w") == b"1"
r.config_set("busy-reply-threshold", 5000)

r.delete("py:k", "py:n", "py:h", "py:jobs", "py:s", "py:ev", "py:lock", "py:rate", "py:w")
print("ok")

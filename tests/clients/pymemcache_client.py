"""A real client library, unchanged: Debian's pymemcache
(python3-pymemcache) against a memcached on 127.0.0.1:<port> (argv[1]),
over the text protocol. Prints `ok` when every check passed."""

import sys

from pymemcache.client.base import Client

port = int(sys.argv[1])
c = Client(("127.0.0.1", port), timeout=20, connect_timeout=20)
assert c.version().startswith(b"1.6"), c.version()
assert c.set("pm:k", "v", noreply=False)
assert c.get("pm:k") == b"v"
assert c.add("pm:k", "x", noreply=False) is False
assert c.replace("pm:k", "w", noreply=False) is True
assert c.append("pm:k", "!", noreply=False) and c.get("pm:k") == b"w!"
value, cas = c.gets("pm:k")
assert value == b"w!"
assert c.cas("pm:k", "z", cas, noreply=False) is True
assert c.cas("pm:k", "y", cas, noreply=False) is False
assert c.set("pm:n", "10", noreply=False)
assert c.incr("pm:n", 5) == 15 and c.decr("pm:n", 20) == 0
assert c.set_many({"pm:a": "1", "pm:b": "2"}, noreply=False) == []
assert c.get_many(["pm:a", "pm:b", "pm:none"]) == {"pm:a": b"1", "pm:b": b"2"}
assert c.delete("pm:a", noreply=False) is True
assert c.touch("pm:b", 100, noreply=False) is True
assert c.get("pm:none") is None
stats = c.stats()
assert b"curr_connections" in stats and b"cmd_get" in stats, stats
c.delete_many(["pm:k", "pm:n", "pm:b"], noreply=False)
print("ok")

//! The differential test of the blocking pops: several clients at once
//! against a kvs-core [`Store`] (one session each, let block) and against
//! a real Redis 7.0 (one connection each). Every reply must be the same,
//! byte for byte, and must reach the same client: the reply of a command
//! that ran at once, and the replies of clients a command served, timed
//! out (CLIENT UNBLOCK … TIMEOUT stands for the clock) or unblocked.
//!
//! The oracle, after each step: the acting client's reply (if the store
//! did not block it) and each reply the store handed to a blocked client
//! ([`Store::take_answered`]) is read from that client's connection to
//! Redis and compared. A client Redis answered where the store did not
//! shows at the next reply read from it; at the end every blocked client
//! is unblocked, and every connection must answer a PING with `+PONG`
//! next, so that no reply is missing or extra.
//!
//! Commands: BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN,
//! BZPOPMAX and BZMPOP over lists, XREAD BLOCK over streams (served by
//! XADD), WAIT (which waits for replicas there are none of), sorted sets, a string and missing
//! keys, with their errors (junk and negative timeouts, bad counts); the
//! pushes and changes that serve them (LPUSH, RPUSH, LMOVE, ZADD, DEL,
//! SET, LPOP; DEL and SET of a stream end XREADGROUP's wait with an
//! error) alone or inside MULTI/EXEC, blocking commands inside MULTI,
//! and CLIENT UNBLOCK with TIMEOUT and ERROR. Timeouts are 0 (for ever)
//! or 1000 s: the clocks of the two differ, so none is let pass.
//!
//! Environment: as `redis_diff` (`KVS_DIFF_ADDR`, `KVS_DIFF_REQUIRED`,
//! `KVS_DIFF_SEED`), and `KVS_BLOCK_ROUNDS` (default 2000 steps). Keys
//! carry a prefix of the run's own.

mod common;

use common::{Events, Redis, Rng, count, key_prefix, redis_7_0, seed, store_events};
use kvs_core::{Reply, Session, Store};

/// Clients that may block; the last is the controller, which never
/// sends a blocking command (it unblocks the others).
const CLIENTS: usize = 6;
const LISTS: [&str; 3] = ["l1", "l2", "s"];
const ZSETS: [&str; 3] = ["z1", "z2", "s"];
const ANY: [&str; 6] = ["l1", "l2", "z1", "s", "none", "x1"];

/// One client: its store session and its Redis connection.
struct Client {
    session: Session,
    redis: Redis,
    /// Redis's CLIENT ID of the connection.
    redis_id: i64,
}

struct Gen {
    r: Rng,
    prefix: String,
    next_value: u64,
}

impl Gen {
    fn key(&mut self, from: &[&str]) -> String {
        format!("{}{}", self.prefix, self.r.pick(from))
    }

    fn keys(&mut self, from: &[&str]) -> Vec<String> {
        (0..self.r.range(1, 3)).map(|_| self.key(from)).collect()
    }

    fn value(&mut self) -> String {
        self.next_value += 1;
        format!("v{}", self.next_value)
    }

    fn timeout(&mut self) -> String {
        match self.r.below(20) {
            0 => "x".into(),
            1 => "-1".into(),
            2 => "1000".into(),
            3 => "inf".into(),
            _ => "0".into(),
        }
    }

    fn side(&mut self) -> String {
        self.r.pick(&["LEFT", "RIGHT", "left", "UP"]).to_string()
    }

    fn count_opt(&mut self, out: &mut Vec<String>) {
        if self.r.chance(2) {
            out.push("COUNT".into());
            out.push(self.r.pick(&["1", "2", "3", "0", "x"]).to_string());
        }
    }

    /// A blocking command.
    fn blocking(&mut self) -> Vec<String> {
        let mut c = Vec::new();
        match self.r.below(11) {
            10 => {
                c.extend(["XREADGROUP".into(), "GROUP".into()]);
                c.push(self.r.pick(&["g", "g", "nog"]).to_string());
                c.push(self.r.pick(&["c1", "c2"]).to_string());
                if self.r.chance(2) {
                    c.push("COUNT".into());
                    c.push(self.r.pick(&["1", "2"]).to_string());
                }
                if self.r.chance(4) {
                    c.push("NOACK".into());
                }
                c.extend(["BLOCK".into(), "0".into(), "STREAMS".into()]);
                c.push(self.key(&["x1", "x2"]));
                c.push(">".into());
            }
            9 => {
                c.push("XREAD".into());
                if self.r.chance(2) {
                    c.push("COUNT".into());
                    c.push(self.r.pick(&["1", "2", "0"]).to_string());
                }
                c.push("BLOCK".into());
                c.push(self.r.pick(&["0", "0", "100000", "-1"]).to_string());
                c.push("STREAMS".into());
                let keys: Vec<String> = (0..self.r.range(1, 2))
                    .map(|_| self.key(&["x1", "x2", "x1", "s"]))
                    .collect();
                let ids: Vec<String> = keys
                    .iter()
                    .map(|_| {
                        if self.r.chance(2) {
                            "$".to_string()
                        } else {
                            format!("{}-0", self.next_value.saturating_sub(self.r.below(5)))
                        }
                    })
                    .collect();
                c.extend(keys);
                c.extend(ids);
            }
            8 => {
                c.push("WAIT".into());
                c.push(self.r.pick(&["0", "1", "2", "-1", "x"]).to_string());
                c.push(self.r.pick(&["0", "0", "100000", "-1", "x"]).to_string());
            }
            0 | 1 => {
                c.push(if self.r.chance(2) { "BLPOP" } else { "BRPOP" }.into());
                c.extend(self.keys(&LISTS));
                c.push(self.timeout());
            }
            n @ (2 | 3) => {
                // BLMOVE with its ends, or BRPOPLPUSH (RIGHT, LEFT).
                let legacy = n == 3;
                c.push((if legacy { "BRPOPLPUSH" } else { "BLMOVE" }).into());
                c.push(self.key(&LISTS));
                c.push(self.key(&LISTS));
                if !legacy {
                    c.push(self.side());
                    c.push(self.side());
                }
                c.push(self.timeout());
            }
            4 => {
                c.push("BLMPOP".into());
                c.push(self.timeout());
                let keys = self.keys(&LISTS);
                c.push(keys.len().to_string());
                c.extend(keys);
                c.push(self.side());
                self.count_opt(&mut c);
            }
            5 | 6 => {
                c.push(
                    if self.r.chance(2) {
                        "BZPOPMIN"
                    } else {
                        "BZPOPMAX"
                    }
                    .into(),
                );
                c.extend(self.keys(&ZSETS));
                c.push(self.timeout());
            }
            _ => {
                c.push("BZMPOP".into());
                c.push(self.timeout());
                let keys = self.keys(&ZSETS);
                c.push(keys.len().to_string());
                c.extend(keys);
                c.push(self.r.pick(&["MIN", "MAX", "max", "MIDDLE"]).to_string());
                self.count_opt(&mut c);
            }
        }
        c
    }

    /// A command that may make keys ready (or change their type).
    fn change(&mut self) -> Vec<String> {
        let mut c = Vec::new();
        match self.r.below(13) {
            12 => {
                if self.r.chance(2) {
                    c.extend(["XGROUP".into(), "CREATE".into()]);
                    c.push(self.key(&["x1", "x2"]));
                    c.extend(["g".into(), "$".into(), "MKSTREAM".into()]);
                } else {
                    c.extend(["XGROUP".into(), "DESTROY".into()]);
                    c.push(self.key(&["x1", "x2"]));
                    c.push("g".into());
                }
            }
            10 | 11 => {
                c.push("XADD".into());
                c.push(self.key(&["x1", "x2", "x1", "s"]));
                self.next_value += 1;
                c.push(format!("{}-*", self.next_value));
                c.push("f".into());
                c.push(self.value());
            }
            0..=3 => {
                c.push(if self.r.chance(2) { "LPUSH" } else { "RPUSH" }.into());
                c.push(self.key(&["l1", "l2", "l1", "s", "z1"]));
                for _ in 0..self.r.range(1, 3) {
                    c.push(self.value());
                }
            }
            4 | 5 => {
                c.push("ZADD".into());
                c.push(self.key(&["z1", "z2", "z1", "l1", "s"]));
                for _ in 0..self.r.range(1, 3) {
                    c.push(self.r.range(-3, 3).to_string());
                    c.push(self.value());
                }
            }
            6 => {
                c.push("LMOVE".into());
                c.push(self.key(&LISTS));
                c.push(self.key(&LISTS));
                c.push(self.r.pick(&["LEFT", "RIGHT"]).to_string());
                c.push(self.r.pick(&["LEFT", "RIGHT"]).to_string());
            }
            7 => {
                c.push("DEL".into());
                c.push(self.key(&ANY));
            }
            8 => {
                c.push("SET".into());
                c.push(self.key(&["s", "s", "l2", "z2", "x2"]));
                c.push(self.value());
            }
            _ => {
                c.push(self.r.pick(&["LPOP", "ZPOPMIN"]).to_string());
                c.push(self.key(&ANY));
            }
        }
        c
    }
}

/// Waits until Redis shows connection `id` blocked (CLIENT LIST's flag
/// `b`), failing after 10 s: the store blocked it, and Redis must have
/// too before another connection acts.
fn wait_blocked(admin: &mut Redis, id: i64, seed: u64) {
    let ask = args(&["CLIENT".into(), "LIST".into(), "ID".into(), id.to_string()]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let list = admin.call(&ask);
        if String::from_utf8_lossy(&list).contains(" flags=b ") {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "seed {seed}: the store blocked a client Redis did not: {}",
            String::from_utf8_lossy(&list)
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

fn encode(r: &Reply) -> Vec<u8> {
    let mut out = Vec::new();
    r.encode_resp2(&mut out);
    out
}

fn args(words: &[String]) -> Vec<Vec<u8>> {
    words.iter().map(|w| w.as_bytes().to_vec()).collect()
}

#[test]
fn blocking_pops_match_redis_7_0() {
    let Some((mut admin, version, addr)) = redis_7_0("blocking_diff") else {
        return;
    };
    let seed = seed();
    let rounds = count("KVS_BLOCK_ROUNDS", 2000);
    let prefix = key_prefix("blockdiff");
    eprintln!(
        "blocking_diff: Redis {version} at {addr}, seed {seed} (KVS_DIFF_SEED={seed} repeats it), {rounds} steps, {CLIENTS} clients, keys {prefix}*"
    );
    let mut store = Store::new();
    // Keyspace events too: what serving a blocked client raises.
    admin.call(&args(&[
        "CONFIG".into(),
        "SET".into(),
        "notify-keyspace-events".into(),
        "KEAn".into(),
    ]));
    store.configure("notify-keyspace-events", "KEAn").unwrap();
    let mut events = Events::subscribe(&addr, &prefix);
    let mut clients: Vec<Client> = (0..CLIENTS)
        .map(|i| {
            let mut redis = Redis::connect(&addr).expect("a connection per client");
            let id = redis.call(&args(&["CLIENT".into(), "ID".into()]));
            let redis_id = std::str::from_utf8(&id[1..id.len() - 2])
                .unwrap()
                .parse()
                .unwrap();
            let mut session = Session::with_id(i as u64 + 1);
            session.set_may_block(true);
            Client {
                session,
                redis,
                redis_id,
            }
        })
        .collect();
    let controller = CLIENTS - 1;
    let mut g = Gen {
        r: Rng(seed),
        prefix: prefix.clone(),
        next_value: 0,
    };
    let mut history: Vec<String> = Vec::new();
    let mut compared = 0usize;
    let mut served = 0usize;
    let now = 1_700_000_000_000;

    // Compares the replies the store handed to blocked clients.
    let check_answered = |store: &mut Store,
                          clients: &mut [Client],
                          history: &[String],
                          compared: &mut usize,
                          served: &mut usize| {
        for (id, reply) in store.take_answered() {
            let c = &mut clients[id as usize - 1];
            let theirs = c.redis.reply();
            let ours = encode(&reply);
            assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&theirs),
                "seed {seed}: client {id}'s blocked command was answered differently; last steps:\n{}",
                history[history.len().saturating_sub(30)..].join("\n")
            );
            *compared += 1;
            *served += usize::from(!matches!(reply, Reply::Array(None)));
        }
    };

    for step in 0..rounds {
        let (theirs, ours) = (events.since(), store_events(&mut store, &prefix));
        assert_eq!(
            theirs,
            ours,
            "seed {seed}: the keyspace events of the last step differ; last steps:\n{}",
            history[history.len().saturating_sub(30)..].join("\n")
        );
        let free: Vec<usize> = (0..CLIENTS)
            .filter(|&i| !store.is_blocked(&clients[i].session))
            .collect();
        let who = *g.r.pick(&free);
        // The controller unblocks someone now and then, and when all
        // the others wait.
        let blocked: Vec<usize> = (0..controller)
            .filter(|&i| store.is_blocked(&clients[i].session))
            .collect();
        if who == controller
            && !blocked.is_empty()
            && g.r.chance(if free.len() == 1 { 3 } else { 8 })
        {
            let target = *g.r.pick(&blocked);
            let error = g.r.chance(2);
            let mut words = vec![
                "CLIENT".to_string(),
                "UNBLOCK".into(),
                clients[target].redis_id.to_string(),
            ];
            if error {
                words.push("ERROR".into());
            } else if g.r.chance(2) {
                words.push("TIMEOUT".into());
            }
            history.push(format!("{step}: client {}: {}", who + 1, words.join(" ")));
            let ours = Reply::Integer(i64::from(store.unblock(target as u64 + 1, error)));
            let theirs = clients[who].redis.call(&args(&words));
            assert_eq!(encode(&ours), theirs, "seed {seed}: {}", history.join("\n"));
            compared += 1;
            check_answered(
                &mut store,
                &mut clients,
                &history,
                &mut compared,
                &mut served,
            );
            continue;
        }
        let words: Vec<Vec<String>> = if who != controller && g.r.chance(2) {
            vec![g.blocking()]
        } else if g.r.chance(6) {
            // A transaction: changes, and maybe a blocking command.
            let mut t = vec![vec!["MULTI".to_string()]];
            for _ in 0..g.r.range(1, 3) {
                let c = if g.r.chance(3) {
                    g.blocking()
                } else {
                    g.change()
                };
                t.push(c);
            }
            t.push(vec!["EXEC".to_string()]);
            t
        } else {
            vec![g.change()]
        };
        for w in words {
            history.push(format!("{step}: client {}: {}", who + 1, w.join(" ")));
            let argv = args(&w);
            let refs: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
            let c = &mut clients[who];
            let reply = store.execute(&mut c.session, &refs, now);
            c.redis.send(&argv);
            if store.is_blocked(&c.session) {
                // Redis reads each connection when it gets to it: the
                // next step, on another connection, must find it blocked.
                wait_blocked(&mut admin, c.redis_id, seed);
            } else {
                let theirs = c.redis.reply();
                assert_eq!(
                    String::from_utf8_lossy(&encode(&reply)),
                    String::from_utf8_lossy(&theirs),
                    "seed {seed}: reply to client {}; last steps:\n{}",
                    who + 1,
                    history[history.len().saturating_sub(30)..].join("\n")
                );
                compared += 1;
            }
            check_answered(
                &mut store,
                &mut clients,
                &history,
                &mut compared,
                &mut served,
            );
        }
    }
    // Nobody may be left waiting, and nothing may be left unread.
    for target in 0..CLIENTS {
        if store.is_blocked(&clients[target].session) {
            let words = vec![
                "CLIENT".to_string(),
                "UNBLOCK".into(),
                clients[target].redis_id.to_string(),
            ];
            assert!(store.unblock(target as u64 + 1, false));
            assert_eq!(admin.call(&args(&words)), b":1\r\n");
            check_answered(
                &mut store,
                &mut clients,
                &history,
                &mut compared,
                &mut served,
            );
        }
    }
    for (i, c) in clients.iter_mut().enumerate() {
        assert_eq!(
            c.redis.call(&args(&["PING".into()])),
            b"+PONG\r\n",
            "seed {seed}: client {} has a reply the store did not give",
            i + 1
        );
    }
    admin.call(&args(&[
        "CONFIG".into(),
        "SET".into(),
        "notify-keyspace-events".into(),
        String::new(),
    ]));
    let mut del = vec!["DEL".to_string()];
    del.extend(
        ["l1", "l2", "z1", "z2", "s", "x1", "x2"]
            .iter()
            .map(|k| format!("{prefix}{k}")),
    );
    admin.call(&args(&del));
    eprintln!(
        "blocking_diff: all {compared} replies the same ({served} served to blocked clients)"
    );
}

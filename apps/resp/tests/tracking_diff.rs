//! Client-side caching against a real Redis 7.0: four connections on
//! each side (0 and 3 speak RESP3, 1 RESP2, 2 RESP2 subscribed to
//! `__redis__:invalidate`, a redirection target) run the same seeded
//! steps: `CLIENT TRACKING` on and off with random options (REDIRECT to
//! another connection, BCAST with prefixes, OPTIN, OPTOUT, NOLOOP, and
//! the mistakes Redis refuses), `CLIENT CACHING`, `GETREDIR`,
//! `TRACKINGINFO`, reads and writes of a few keys, transactions, and
//! expiry. After each step every connection's output must be what Redis
//! sent on the same connection, invalidation pushes and messages
//! included, byte for byte, once each side's client ids are named alike,
//! and in the same order but for one thing: Redis writes an invalidation
//! that another connection's tracking redirects to the connection whose
//! command caused it at once, before that command's reply or even inside
//! it (between the elements of EXEC's array, as RESP3 allows a push to
//! come), and the front end, which learns of it from the store's mail,
//! after the reply. So each step's pushes are taken out wherever they
//! are and compared as a multiset, and the rest byte for byte.
//!
//! Here the front end runs over the kvs server through the component's
//! own client (`kvs::Connection`), and its store mail is read
//! (`Frontend::woken`) after each step, as the component does when the
//! server wakes it.
//!
//! The server comes from the environment as for kvs-core's differential
//! test (`KVS_DIFF_ADDR`, `KVS_DIFF_REQUIRED`); `TRACKING_DIFF_SEED`
//! replays a run, `TRACKING_DIFF_STEPS` (default 600) sets its length.
//! Keys and prefixes carry a prefix of the run's own.

mod common;

use common::redis::{Remote, Rng, multibulk, reply_len, seed_and_length, server};
use common::served::{Fe, setup};
use common::{connect, drive};
use resp::Connection;

/// What a subscribed RESP2 connection's `PING <marker>` starts with.
const PONG: &[u8] = b"*2\r\n$4\r\npong\r\n";

/// Our output up to the answer to `PING marker`.
fn ours_until(mut out: Vec<u8>, marker: &[u8]) -> Vec<u8> {
    let end = [format!("${}\r\n", marker.len()).as_bytes(), marker, b"\r\n"].concat();
    assert!(
        out.ends_with(&end),
        "no marker: {:?}",
        String::from_utf8_lossy(&out)
    );
    out.truncate(out.len() - end.len());
    if out.ends_with(PONG) {
        out.truncate(out.len() - PONG.len());
    }
    out
}

/// `bytes` with the client ids in it (GETREDIR's reply when `getredir`,
/// TRACKINGINFO's `redirect`, `tracking-redir-broken`'s) written as the
/// connection's place in `ids` (the connections now, then those gone),
/// so that both sides' ids read alike.
fn name_ids(bytes: &[u8], ids: &[u64], getredir: bool) -> Vec<u8> {
    let mut text = String::from_utf8_lossy(bytes).into_owned();
    for (i, id) in ids.iter().enumerate() {
        for before in ["redirect\r\n", "tracking-redir-broken\r\n"] {
            text = text.replace(
                &format!("{before}:{id}\r\n"),
                &format!("{before}:conn{i}\r\n"),
            );
        }
        if getredir && text.starts_with(&format!(":{id}\r\n")) {
            text = text.replacen(&format!(":{id}\r\n"), &format!(":conn{i}\r\n"), 1);
        }
    }
    text.into_bytes()
}

/// `bytes` without its pushes (wherever they are, inside other replies
/// too, where they count as no element), and the pushes and RESP2
/// invalidation messages, sorted.
fn pushes_apart(bytes: &[u8]) -> (Vec<u8>, Vec<Vec<u8>>) {
    /// Copies the frame at `b` into `rest` (its pushes into `pushes`);
    /// the bytes it took.
    fn frame(b: &[u8], rest: &mut Vec<u8>, pushes: &mut Vec<Vec<u8>>) -> usize {
        if b[0] == b'>' || b.starts_with(b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate") {
            let n = reply_len(b).expect("a whole push");
            pushes.push(b[..n].to_vec());
            return n;
        }
        let line = b.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
        let count: i64 = match b[0] {
            b'*' | b'~' | b'%' => String::from_utf8_lossy(&b[1..line - 2]).parse().unwrap(),
            _ => {
                let n = reply_len(b).expect("a whole reply");
                rest.extend_from_slice(&b[..n]);
                return n;
            }
        };
        rest.extend_from_slice(&b[..line]);
        let mut at = line;
        let mut elements = if b[0] == b'%' { 2 * count } else { count };
        while elements > 0 {
            let pushed = pushes.len();
            at += frame(&b[at..], rest, pushes);
            if pushes.len() == pushed {
                elements -= 1;
            }
        }
        at
    }
    let (mut rest, mut pushes) = (Vec::new(), Vec::new());
    let mut at = 0;
    while at < bytes.len() {
        at += frame(&bytes[at..], &mut rest, &mut pushes);
    }
    pushes.sort();
    (rest, pushes)
}

/// A step's output, as [`pushes_apart`] parts it, for a person.
fn show((rest, pushes): &(Vec<u8>, Vec<Vec<u8>>)) -> String {
    let pushes: Vec<String> = pushes
        .iter()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    format!("{:?} and pushes {pushes:?}", String::from_utf8_lossy(rest))
}

/// One step's commands on connection `who` (never 2, the subscribed one):
/// one, or a transaction.
fn step(r: &mut Rng, key: &dyn Fn(&str) -> Vec<u8>, prefix: &[u8]) -> Vec<Vec<Vec<u8>>> {
    if r.below(12) == 0 {
        let mut t = vec![vec![b"MULTI".to_vec()]];
        for _ in 0..2 {
            t.push(loop {
                let c = command(r, key, prefix);
                if c[0] != b"CLIENT" {
                    break c;
                }
            });
        }
        t.push(vec![b"EXEC".to_vec()]);
        return t;
    }
    vec![command(r, key, prefix)]
}

/// One command.
fn command(r: &mut Rng, key: &dyn Fn(&str) -> Vec<u8>, prefix: &[u8]) -> Vec<Vec<u8>> {
    let w = |s: &str| s.as_bytes().to_vec();
    let k = |r: &mut Rng| key(r.pick(&["a", "b", "c", "ab"]));
    match r.below(20) {
        0..=2 => {
            let mut c = vec![
                w("CLIENT"),
                w("TRACKING"),
                w(r.pick(&["on", "on", "on", "off"])),
            ];
            if r.below(3) == 0 {
                c.extend([w("REDIRECT"), w(r.pick(&["#0", "#1", "#2", "#3"]))]);
            }
            if r.below(3) == 0 {
                c.push(w("BCAST"));
                for _ in 0..r.below(3) {
                    let p = [prefix, r.pick::<&[u8]>(&[b"a", b"b", b"", b"c"])].concat();
                    c.extend([w("PREFIX"), p]);
                }
            }
            for option in ["OPTIN", "OPTOUT", "NOLOOP"] {
                if r.below(5) == 0 {
                    c.push(w(option));
                }
            }
            if r.below(20) == 0 {
                c.push(w("NOPE"));
            }
            c
        }
        3 => vec![
            w("CLIENT"),
            w("CACHING"),
            w(r.pick(&["yes", "no", "maybe"])),
        ],
        4 => vec![w("CLIENT"), w(r.pick(&["GETREDIR", "TRACKINGINFO"]))],
        5..=8 => vec![w(r.pick(&["GET", "STRLEN", "EXISTS", "TTL"])), k(r)],
        9 => vec![w("MGET"), k(r), k(r)],
        10..=12 => vec![w("SET"), k(r), w(r.pick(&["1", "v"]))],
        13 => vec![w("MSET"), k(r), w("x"), k(r), w("y")],
        14 => vec![w(r.pick(&["DEL", "INCR", "PERSIST"])), k(r)],
        15 => vec![w("APPEND"), k(r), w("z")],
        16 => vec![w("EXPIRE"), k(r), w(r.pick(&["0", "100"]))],
        _ => vec![w("PING")],
    }
}

/// Connection `i` on both sides, set up for its part (0 and 3 RESP3, 2
/// subscribed to the invalidation channel), with both sides' ids.
fn open(
    addr: std::net::SocketAddr,
    fe: &mut Fe,
    i: usize,
    prefix: &str,
) -> (Remote, Connection, (u64, u64)) {
    let (mut remote, mut local) = (Remote::connect(addr), connect(fe));
    let marker = format!("{prefix}setup{i}").into_bytes();
    let mut run = |args: &[&[u8]]| {
        let request = [multibulk(args), multibulk(&[&b"PING"[..], &marker])].concat();
        remote.send(&request);
        (
            remote.until(&marker),
            ours_until(drive(&mut local, fe, &request).0, &marker),
        )
    };
    let number = |reply: &[u8]| {
        String::from_utf8_lossy(&reply[1..reply.len() - 2])
            .parse::<u64>()
            .unwrap()
    };
    let (theirs, ours) = run(&[b"CLIENT", b"ID"]);
    let id_pair = (number(&theirs), number(&ours));
    match i {
        0 | 3 => run(&[b"HELLO", b"3"]),
        2 => run(&[b"SUBSCRIBE", b"__redis__:invalidate"]),
        _ => run(&[b"PING"]),
    };
    (remote, local, id_pair)
}

#[test]
fn tracking_matches_redis() {
    let Some(addr) = server("tracking_diff") else {
        return;
    };
    let (seed, steps) = seed_and_length("TRACKING_DIFF", "STEPS", 600);
    eprintln!("tracking_diff: seed {seed} (TRACKING_DIFF_SEED={seed} replays it), {steps} steps");
    let prefix = format!("trdiff:{}:{seed}:", std::process::id());
    let key = |k: &str| format!("{prefix}{k}").into_bytes();
    let (mut fe, _, _) = setup();
    let mut remotes = Vec::new();
    let mut locals = Vec::new();
    let mut ids = Vec::new();
    for i in 0..4 {
        let (remote, local, id_pair) = open(addr, &mut fe, i, &prefix);
        remotes.push(remote);
        locals.push(local);
        ids.push(id_pair);
    }
    // Kills Redis's side of a connection that goes (CLIENT KILL answers
    // once it is gone, so that no step races its closing).
    let mut admin = Remote::connect(addr);
    let mut r = Rng(seed);
    let mut history = Vec::new();
    // Invalidations (and broken redirections) heard, on both sides.
    let mut heard = 0;
    // The ids of connections gone, both sides'.
    let mut gone = Vec::new();
    for n in 0..steps {
        let (theirs_ids, our_ids): (Vec<u64>, Vec<u64>) = ids.iter().chain(&gone).copied().unzip();
        let who = [0, 1, 3][r.below(3) as usize];
        if r.below(150) == 0 {
            // A connection goes and another comes in its place: whoever
            // redirects to it now has a broken redirection.
            history.push(format!("{who}: (reconnects)"));
            let marker = format!("{prefix}kill{n}").into_bytes();
            let kill = multibulk(&[
                &b"CLIENT"[..],
                b"KILL",
                b"ID",
                theirs_ids[who].to_string().as_bytes(),
            ]);
            admin.send(&[kill, multibulk(&[&b"PING"[..], &marker])].concat());
            assert_eq!(admin.until(&marker), b":1\r\n");
            let (remote, local, id_pair) = open(addr, &mut fe, who, &prefix);
            let closed = core::mem::replace(&mut locals[who], local);
            fe.disconnect(closed);
            remotes[who] = remote;
            gone.push(core::mem::replace(&mut ids[who], id_pair));
            continue;
        }
        let commands = step(&mut r, &key, prefix.as_bytes());
        let (mut theirs_req, mut ours_req) = (Vec::new(), Vec::new());
        for command in &commands {
            // REDIRECT #i names connection i by each side's id.
            let named = |ids: &[u64]| -> Vec<Vec<u8>> {
                command
                    .iter()
                    .map(|arg| match arg.strip_prefix(b"#") {
                        Some(c) => {
                            let c: usize = String::from_utf8_lossy(c).parse().unwrap();
                            ids[c].to_string().into_bytes()
                        }
                        None => arg.clone(),
                    })
                    .collect()
            };
            theirs_req.extend(multibulk(&named(&theirs_ids)));
            ours_req.extend(multibulk(&named(&our_ids)));
            history.push(format!(
                "{who}: {}",
                command
                    .iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            ));
        }
        remotes[who].send(&theirs_req);
        let (out, _) = drive(&mut locals[who], &mut fe, &ours_req);
        let getredir = commands[0].get(1).is_some_and(|a| a == b"GETREDIR");
        // The store's mail, as the component reads it when woken.
        let _woken: Vec<u64> = fe.woken().collect();
        let marker = format!("{prefix}m{n}").into_bytes();
        // Each connection's tracking as TRACKINGINFO tells it (not the
        // subscribed one's: RESP2's subscribed mode refuses it), then the
        // marker.
        let ping = multibulk(&[&b"PING"[..], &marker]);
        let info = [multibulk(&[&b"CLIENT"[..], b"TRACKINGINFO"]), ping.clone()].concat();
        // The connection that ran the step first: once Redis answered its
        // marker, the step's BCAST invalidations (sent before Redis writes
        // replies) are in the others' output before their markers.
        let others = (0..4).filter(|&i| i != who);
        for i in core::iter::once(who).chain(others) {
            let ping = if i == 2 { &ping } else { &info };
            remotes[i].send(ping);
            let theirs = name_ids(
                &remotes[i].until(&marker),
                &theirs_ids,
                getredir && i == who,
            );
            let mut ours = if i == who { out.clone() } else { Vec::new() };
            ours.extend(drive(&mut locals[i], &mut fe, ping).0);
            let ours = name_ids(&ours_until(ours, &marker), &our_ids, getredir && i == who);
            let (theirs, ours) = (pushes_apart(&theirs), pushes_apart(&ours));
            heard += theirs.1.len();
            assert!(
                theirs == ours,
                "step {n} (seed {seed}), connection {i} (replies, pushes)\n redis:  {:?}\n basalt: {:?}\nthe steps:\n  {}",
                show(&theirs),
                show(&ours),
                history[history.len().saturating_sub(
                    std::env::var("TRACKING_DIFF_HISTORY")
                        .ok()
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(15)
                )..]
                    .join("\n  ")
            );
        }
    }
    // Leave Redis as found: no keys.
    remotes[0].send(&multibulk(&[
        &b"DEL"[..],
        &key("a"),
        &key("b"),
        &key("c"),
        &key("ab"),
    ]));
    remotes[0].send(&multibulk(&[&b"PING"[..], b"end"]));
    remotes[0].until(b"end");
    eprintln!(
        "tracking_diff: {steps} steps the same on 4 connections, {heard} invalidations heard"
    );
}

//! Pub/Sub against a real Redis 7.0: three connections on each side run
//! the same seeded steps (SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE and their
//! UNSUBSCRIBEs by name, PUBLISH, SPUBLISH, PUBSUB NUMSUB / NUMPAT /
//! SHARDNUMSUB, PING, a command refused in subscribed mode, RESET), and
//! after each step every connection's output must be what Redis sent on
//! the same connection. A PUBLISH's messages to one subscriber that
//! matches several patterns come in Redis's hash-table order, so those
//! replies are compared as a multiset; everything else byte for byte.
//!
//! How a step's output is told complete: each connection then gets
//! `PING <marker>`, whose answer (`$…` in normal mode, `[pong, marker]`
//! subscribed) comes after everything the step sent it.
//!
//! The server comes from the environment as for kvs-core's differential
//! test (`KVS_DIFF_ADDR`, `KVS_DIFF_REQUIRED`); `PUBSUB_DIFF_SEED`
//! replays a run, `PUBSUB_DIFF_STEPS` (default 400) sets its length. The
//! channels carry a prefix of the run's own, so a shared server is fine.

mod common;

use common::redis::{Remote, Rng, multibulk, reply_len, seed_and_length, server};
use common::*;

/// The top-level replies in `bytes`.
fn replies(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let n = reply_len(&bytes[at..]).expect("whole replies");
        out.push(bytes[at..at + n].to_vec());
        at += n;
    }
    out
}

#[test]
fn pubsub_matches_redis() {
    run(false);
}

/// The same after `HELLO 3` on every connection: confirmations and
/// messages are pushes, and a subscribed connection runs any command.
#[test]
fn resp3_pubsub_matches_redis() {
    run(true);
}

/// Held by the run under way: PUBSUB NUMPAT counts every pattern on
/// the server.
static SERVER: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn run(resp3: bool) {
    let _alone = SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let Some(addr) = server("pubsub_diff") else {
        return;
    };
    let (seed, steps) = seed_and_length("PUBSUB_DIFF", "STEPS", 400);
    eprintln!("pubsub_diff: seed {seed} (PUBSUB_DIFF_SEED={seed} replays it), {steps} steps");
    let prefix = format!("psdiff:{}:{seed}:", std::process::id());
    let channels: Vec<Vec<u8>> = ["a", "b", "ab", "news.x", "news.y"]
        .iter()
        .map(|c| format!("{prefix}{c}").into_bytes())
        .collect();
    let patterns: Vec<Vec<u8>> = ["a*", "news.*", "*b", "news.[xz]", "?"]
        .iter()
        .map(|p| format!("{prefix}{p}").into_bytes())
        .collect();
    let mut remotes: Vec<Remote> = (0..3).map(|_| Remote::connect(addr)).collect();
    let (mut fe, _) = frontend();
    let mut locals: Vec<_> = (0..3).map(|_| connect(&mut fe)).collect();
    if resp3 {
        // HELLO's replies differ (ids, versions): not compared.
        let hello = multibulk(&[&b"HELLO"[..], b"3"]);
        let marker = format!("{prefix}hello").into_bytes();
        let ping = multibulk(&[&b"PING"[..], &marker]);
        for (remote, local) in remotes.iter_mut().zip(locals.iter_mut()) {
            remote.send(&[hello.clone(), ping.clone()].concat());
            remote.until(&marker);
            drive(local, &mut fe, &hello);
        }
    }
    let mut r = Rng(seed);
    for step in 0..steps {
        let who = r.below(3) as usize;
        let ch = channels[r.below(channels.len() as u64) as usize].as_slice();
        let pat = patterns[r.below(patterns.len() as u64) as usize].as_slice();
        let (command, publish): (Vec<&[u8]>, bool) = match r.below(14) {
            0 | 1 => (vec![b"SUBSCRIBE", ch], false),
            2 => (vec![b"PSUBSCRIBE", pat], false),
            3 => (vec![b"SSUBSCRIBE", ch], false),
            4 => (vec![b"UNSUBSCRIBE", ch], false),
            5 => (vec![b"PUNSUBSCRIBE", pat], false),
            6 => (vec![b"SUNSUBSCRIBE", ch], false),
            7..=9 => (vec![b"PUBLISH", ch, b"hello"], true),
            10 => (vec![b"SPUBLISH", ch, b"shard"], true),
            11 => match r.below(3) {
                0 => (
                    vec![b"PUBSUB", b"NUMSUB", ch, channels[0].as_slice()],
                    false,
                ),
                1 => (vec![b"PUBSUB", b"NUMPAT"], false),
                _ => (vec![b"PUBSUB", b"SHARDNUMSUB", ch], false),
            },
            12 => match r.below(3) {
                0 => (vec![b"PING"], false),
                1 => (vec![b"GET", ch], false),
                _ => (vec![b"ECHO", b"x"], false),
            },
            _ => (vec![b"RESET"], false),
        };
        let request = multibulk(&command);
        remotes[who].send(&request);
        let (out, flow) = drive(&mut locals[who], &mut fe, &request);
        assert_eq!(
            flow,
            resp::Flow::Continue,
            "step {step}: the connection closed"
        );
        let marker = format!("{prefix}m{step}").into_bytes();
        let ping = multibulk(&[&b"PING"[..], &marker]);
        for (i, (remote, local)) in remotes.iter_mut().zip(locals.iter_mut()).enumerate() {
            remote.send(&ping);
            let theirs = remote.until(&marker);
            let mut ours = if i == who { out.clone() } else { Vec::new() };
            let (rest, _) = drive(local, &mut fe, &ping);
            ours.extend(rest);
            // Our side's PING answer ends its output the same way.
            let ours_end = ours.len()
                - [
                    format!("${}\r\n", marker.len()).into_bytes(),
                    marker.clone(),
                    b"\r\n".to_vec(),
                ]
                .concat()
                .len();
            let ours_end = if ours[..ours_end].ends_with(b"*2\r\n$4\r\npong\r\n") {
                ours_end - b"*2\r\n$4\r\npong\r\n".len()
            } else {
                ours_end
            };
            let ours = &ours[..ours_end];
            let same = if publish {
                let (mut a, mut b) = (replies(&theirs), replies(ours));
                a.sort();
                b.sort();
                a == b
            } else {
                theirs == ours
            };
            assert!(
                same,
                "step {step} (seed {seed}), connection {i}, after {:?} on connection {who}\n redis:  {:?}\n basalt: {:?}",
                String::from_utf8_lossy(&request),
                String::from_utf8_lossy(&theirs),
                String::from_utf8_lossy(ours),
            );
        }
    }
    eprintln!("pubsub_diff (RESP3: {resp3}): {steps} steps the same on 3 connections");
}

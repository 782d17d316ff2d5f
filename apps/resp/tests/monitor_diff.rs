//! MONITOR against a real Redis 7.0: a monitoring connection and two
//! others on each side run the same script, and after each step every
//! connection's output must be what Redis sent on the same connection,
//! byte for byte once the monitor lines' times and client addresses are
//! taken out (they cannot be the same).
//!
//! The script covers what a monitor is shown and what not: commands that
//! ran, binary arguments quoted, the database after SELECT, admin commands
//! left out, commands refused before they run (unknown, wrong arity,
//! refused in subscribed mode) left out, a transaction's commands shown
//! when EXEC runs them (not when EXEC is aborted), AUTH's and HELLO's
//! secrets redacted; and the monitoring connection itself: its own PING
//! shown, keyspace commands refused, MONITOR again silent, MONITOR inside
//! a transaction refused, RESET ending it.
//!
//! A connection that may hear nothing cannot be asked to PING (its PING
//! would be shown too), so a step's output is what Redis sends before it
//! has been quiet a while; Basalt's is what the front end wrote once it
//! fed every connection it woke. The server's other clients would be
//! shown too, so this binary holds the test alone.

mod common;

use common::redis::{Remote, multibulk, server};
use common::*;
use std::time::Duration;

/// How long Redis must be silent for a step's output to be complete.
const QUIET: Duration = Duration::from_millis(40);

/// Connection `.0` sends these commands, pipelined (0 is the monitor).
type Step = (usize, &'static [&'static [&'static [u8]]]);

const SCRIPT: &[Step] = &[
    (0, &[&[b"MONITOR"]]),
    (1, &[&[b"SET", b"k", b"a\nb\x00c\"\\\xff"], &[b"get", b"k"]]),
    (
        1,
        &[
            &[b"MULTI"],
            &[b"SET", b"x", b"1"],
            &[b"INCR", b"x"],
            &[b"EXEC"],
        ],
    ),
    // Admin commands are not shown; CLIENT GETNAME is not one.
    (
        1,
        &[
            &[b"CONFIG", b"GET", b"maxmemory"],
            &[b"CLIENT", b"GETNAME"],
            &[b"CLIENT", b"KILL", b"ID", b"999999"],
        ],
    ),
    // Refused before they run.
    (1, &[&[b"NOSUCH", b"x"], &[b"GET"], &[b"CLIENT", b"NOPE"]]),
    // HELLO's reply (ids, versions) is not compared: CLIENT REPLY SKIP.
    (
        1,
        &[
            &[b"AUTH", b"default", b"pw"],
            &[b"CLIENT", b"REPLY", b"SKIP"],
            &[b"HELLO", b"2", b"AUTH", b"default", b"pw"],
        ],
    ),
    (
        1,
        &[
            &[b"SELECT", b"3"],
            &[b"SET", b"y", b"2"],
            &[b"PING"],
            &[b"ECHO", b"hi"],
        ],
    ),
    // EXECABORT: EXEC is shown, the queued commands are not.
    (
        1,
        &[&[b"MULTI"], &[b"GET"], &[b"SET", b"z", b"1"], &[b"EXEC"]],
    ),
    // A WATCH that aborts EXEC.
    (1, &[&[b"WATCH", b"w"]]),
    (2, &[&[b"SELECT", b"3"], &[b"SET", b"w", b"1"]]),
    (1, &[&[b"MULTI"], &[b"SET", b"q", b"1"], &[b"EXEC"]]),
    // A subscribed connection's refused command is not shown.
    (2, &[&[b"SUBSCRIBE", b"ch"], &[b"GET", b"k"], &[b"PING"]]),
    (1, &[&[b"PUBLISH", b"ch", b"hi"]]),
    (2, &[&[b"RESET"]]),
    // The monitor's own commands.
    (0, &[&[b"PING"], &[b"GET", b"k"], &[b"MONITOR"]]),
    (1, &[&[b"MULTI"], &[b"MONITOR"], &[b"PING"], &[b"EXEC"]]),
    (0, &[&[b"RESET"]]),
    (1, &[&[b"SET", b"k", b"2"]]),
    (1, &[&[b"QUIT"]]),
];

/// `bytes` with each monitor line's time and address taken out.
fn normalized(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes).into_owned();
    text.split("\r\n")
        .map(|line| {
            let timed = line.starts_with('+')
                && line[1..].split(' ').next().is_some_and(|t| {
                    t.split_once('.')
                        .is_some_and(|(s, us)| s.parse::<u64>().is_ok() && us.len() == 6)
                });
            match (timed, line.find('['), line.find(']')) {
                (true, Some(open), Some(close)) => {
                    let db = line[open + 1..close].split(' ').next().unwrap_or("");
                    format!("+T [{db}]{}", &line[close + 1..])
                }
                _ => line.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}

#[test]
fn monitor_matches_redis() {
    let Some(addr) = server("monitor_diff") else {
        return;
    };
    let prefix = format!("mdiff:{}:", std::process::id());
    // Keys and channels carry the run's prefix.
    let named = |args: &[&[u8]]| -> Vec<Vec<u8>> {
        args.iter()
            .enumerate()
            .map(|(i, a)| {
                let keyish = i > 0 && [&b"k"[..], b"x", b"y", b"z", b"w", b"q", b"ch"].contains(a);
                if keyish {
                    [prefix.as_bytes(), a].concat()
                } else {
                    a.to_vec()
                }
            })
            .collect()
    };
    let mut remotes: Vec<Remote> = (0..3).map(|_| Remote::connect(addr)).collect();
    let (mut fe, _) = frontend();
    let mut locals: Vec<_> = (0..3).map(|_| connect(&mut fe)).collect();
    for (n, (who, commands)) in SCRIPT.iter().enumerate() {
        let bytes: Vec<u8> = commands.iter().flat_map(|c| multibulk(&named(c))).collect();
        remotes[*who].send(&bytes);
        let mut ours = vec![Vec::new(); locals.len()];
        ours[*who] = drive(&mut locals[*who], &mut fe, &bytes).0;
        feed_woken(&mut fe, &mut locals, &mut ours);
        for (i, remote) in remotes.iter_mut().enumerate() {
            let theirs = normalized(&remote.quiet(QUIET));
            let ours = normalized(&ours[i]);
            assert!(
                theirs == ours,
                "step {n}, connection {i}\n redis:  {theirs:?}\n basalt: {ours:?}"
            );
        }
    }
    eprintln!(
        "monitor_diff: {} steps the same on 3 connections",
        SCRIPT.len()
    );
}

#[test]
fn times_and_addresses_are_taken_out() {
    assert_eq!(
        normalized(b"+1700000000.000042 [3 127.0.0.1:5000] \"GET\" \"k\"\r\n+OK\r\n"),
        "+T [3] \"GET\" \"k\"\r\n+OK\r\n"
    );
    assert_eq!(normalized(b"+PONG\r\n"), "+PONG\r\n");
}

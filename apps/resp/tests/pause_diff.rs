//! CLIENT PAUSE and UNPAUSE against a real Redis 7.0: four connections on
//! each side run the same script, and after each step every connection's
//! output must be what Redis sent on the same connection, byte for byte.
//!
//! The script covers what a pause holds and what it does not: WRITE holds
//! what Redis sends to replicas (commands that write, PUBLISH, PFCOUNT,
//! EXEC of a transaction that queued one, a write queued inside MULTI), ALL holds every command (QUIT, UNPAUSE and
//! the pausing connection's own too), neither holds a command that does
//! not exist, has the wrong arity, or is refused in subscribed mode; what
//! a held connection sends after runs after it; UNPAUSE, or the pause's
//! time, releases the held connections in order; a second pause keeps the
//! later end and the stricter mode; and CLIENT PAUSE's errors.
//!
//! A held connection cannot be asked to PING, so a step's output is what
//! Redis sends before it has been quiet a while (the script's pauses are
//! long enough for the steps inside them); Basalt's is what the
//! front end wrote once it fed every connection it woke. Redis resumes
//! clients whose pause ran out in its cron (ten times a second), so the
//! script waits longer than the pause there; the front end's clock is
//! moved instead.
//!
//! The pause is the whole server's: this binary holds the test alone, and
//! every pause it makes is ended (WRITE ones by UNPAUSE, ALL ones by
//! their time) before it returns.

mod common;

use common::redis::{Remote, multibulk, server};
use common::*;
use std::time::Duration;

/// How long Redis must be silent for a step's output to be complete.
const QUIET: Duration = Duration::from_millis(40);

/// One step of the script.
enum Step {
    /// Connection `.0` sends these commands, pipelined.
    Send(usize, &'static [&'static [&'static str]]),
    /// Time passes (milliseconds).
    Wait(u64),
}

use Step::{Send, Wait};

const SCRIPT: &[Step] = &[
    Send(
        0,
        &[&["SET", "k", "0"], &["CLIENT", "PAUSE", "60000", "WRITE"]],
    ),
    // Reads run; the write is held, and what follows it.
    Send(1, &[&["GET", "k"], &["SET", "k", "1"], &["GET", "k"]]),
    // A write queued in MULTI is held as it is queued.
    Send(
        2,
        &[&["MULTI"], &["GET", "k"], &["SET", "k", "2"], &["EXEC"]],
    ),
    // Not held: an unknown command, a wrong arity, a read, PING.
    Send(
        3,
        &[
            &["NOSUCH", "x"],
            &["GET"],
            &["CLIENT", "PAUSE"],
            &["GET", "k"],
            &["PING"],
        ],
    ),
    // The pausing connection is held too.
    Send(0, &[&["INCR", "n"]]),
    // A held connection's later commands wait behind its first.
    Send(1, &[&["NOSUCH"], &["PING", "after"]]),
    // UNPAUSE releases them in the order they were held.
    Send(3, &[&["CLIENT", "UNPAUSE"], &["GET", "k"]]),
    Send(3, &[&["MGET", "k", "n"]]),
    // EXEC of a transaction that queued a write before the pause.
    Send(2, &[&["MULTI"], &["INCR", "n"]]),
    Send(0, &[&["CLIENT", "PAUSE", "60000", "WRITE"]]),
    Send(2, &[&["EXEC"]]),
    Send(1, &[&["MULTI"], &["GET", "n"], &["EXEC"]]),
    Send(3, &[&["CLIENT", "UNPAUSE"]]),
    // A subscribed connection's refused command is answered at once.
    Send(1, &[&["SUBSCRIBE", "pause-diff"]]),
    Send(0, &[&["CLIENT", "PAUSE", "60000", "WRITE"]]),
    Send(1, &[&["GET", "k"], &["PING"]]),
    // PFCOUNT and PUBLISH go to replicas: WRITE holds them.
    Send(3, &[&["PFCOUNT", "h"], &["PUBLISH", "pause-diff", "hi"]]),
    Send(2, &[&["CLIENT", "UNPAUSE"]]),
    Send(1, &[&["UNSUBSCRIBE"]]),
    // ALL holds everything, UNPAUSE and QUIT included, until its time.
    Send(0, &[&["CLIENT", "PAUSE", "1500", "ALL"]]),
    Send(1, &[&["GET", "k"]]),
    Send(2, &[&["CLIENT", "UNPAUSE"]]),
    Send(3, &[&["GET"], &["QUIT"]]),
    Wait(1600),
    Send(0, &[&["GET", "k"]]),
    // A second pause keeps the later end and the stricter mode.
    Send(
        0,
        &[
            &["CLIENT", "PAUSE", "1500", "ALL"],
            &["CLIENT", "PAUSE", "10", "WRITE"],
        ],
    ),
    Send(1, &[&["GET", "k"]]),
    Wait(100),
    Send(2, &[&["PING"]]),
    Wait(1500),
    // CLIENT PAUSE's errors, in Redis's order of checks.
    Send(
        0,
        &[
            &["CLIENT", "PAUSE", "x", "FOO"],
            &["CLIENT", "PAUSE", "x", "y", "z"],
            &["CLIENT", "PAUSE", "-1"],
            &["CLIENT", "PAUSE", "1.5"],
            &["CLIENT", "PAUSE", "010"],
            &["CLIENT", "PAUSE", "99999999999999999999"],
            &["CLIENT", "PAUSE", "0", "write"],
            &["CLIENT", "UNPAUSE", "x"],
            &["CLIENT", "UNPAUSE"],
        ],
    ),
];

/// Ends a WRITE pause the script left on the server when it fails (an
/// ALL pause ends by its time).
struct Unpause(std::net::SocketAddr);

impl Drop for Unpause {
    fn drop(&mut self) {
        if let Ok(mut s) = std::net::TcpStream::connect(self.0) {
            let _ = std::io::Write::write_all(&mut s, b"CLIENT UNPAUSE\r\n");
        }
    }
}

#[test]
fn pause_matches_redis() {
    let Some(addr) = server("pause_diff") else {
        return;
    };
    let prefix = format!("pdiff:{}:", std::process::id());
    // Keys and channels carry the run's prefix.
    let named = |args: &[&str]| -> Vec<Vec<u8>> {
        args.iter()
            .enumerate()
            .map(|(i, a)| {
                let keyish = i > 0 && (["k", "n", "h", "pause-diff"].contains(a));
                if keyish {
                    format!("{prefix}{a}").into_bytes()
                } else {
                    a.as_bytes().to_vec()
                }
            })
            .collect()
    };
    let _unpause = Unpause(addr);
    let mut remotes: Vec<Remote> = (0..4).map(|_| Remote::connect(addr)).collect();
    let (mut fe, hand) = frontend();
    let mut locals: Vec<_> = (0..4).map(|_| connect(&mut fe)).collect();
    for (n, step) in SCRIPT.iter().enumerate() {
        let mut ours = vec![Vec::new(); locals.len()];
        match step {
            Send(who, commands) => {
                let bytes: Vec<u8> = commands.iter().flat_map(|c| multibulk(&named(c))).collect();
                remotes[*who].send(&bytes);
                ours[*who] = drive(&mut locals[*who], &mut fe, &bytes).0;
            }
            Wait(ms) => {
                // Redis's cron resumes the clients within a tenth of a
                // second after the end.
                std::thread::sleep(Duration::from_millis(ms + 150));
                hand.set(hand.get() + ms * 1000);
            }
        }
        // The connections the step woke (another's UNPAUSE, a pause's
        // end, a message) take what waits for them.
        feed_woken(&mut fe, &mut locals, &mut ours);
        for (i, remote) in remotes.iter_mut().enumerate() {
            let theirs = remote.quiet(QUIET);
            assert!(
                theirs == ours[i],
                "step {n}, connection {i}\n redis:  {:?}\n basalt: {:?}",
                String::from_utf8_lossy(&theirs),
                String::from_utf8_lossy(&ours[i]),
            );
        }
    }
    eprintln!(
        "pause_diff: {} steps the same on 4 connections",
        SCRIPT.len()
    );
}

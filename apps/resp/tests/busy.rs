//! A round whose script runs on past `busy-reply-threshold`, as the
//! front end sees it: the other connections get Redis's `-BUSY` (or their
//! unknown-command and arity errors), SCRIPT KILL and FUNCTION KILL are
//! answered from what the store says of the script, the commands Redis
//! allows while busy that need the store wait for the round's end, the
//! script's own connection reads nothing more until then, and the store
//! is called for nothing but the round's progress meanwhile. (The store
//! side, and the whole on Basalt, are tested in the kvs server's tests
//! and the default system's boot test.)

mod common;

use common::*;
use kvs_api::busy::Running;
use resp::{Command, Round, Store, StoreError};
use std::cell::Cell;
use std::rc::Rc;

/// The real store, except that a round with a command naming `spin`
/// runs on (as `running` says) until the test clears `running`; it then
/// answers with what the round came to.
struct Slow {
    kvs: Kvs,
    running: Rc<Cell<Option<Running>>>,
    /// The round's replies and their ends, kept for its end.
    answer: Option<(Vec<u8>, Vec<usize>)>,
    kills: Rc<Cell<u32>>,
    /// Calls other than the round's progress made while it ran on.
    calls_while_busy: Rc<Cell<u32>>,
    closed: Rc<Cell<u32>>,
}

impl Slow {
    fn called(&self) {
        if self.answer.is_some() {
            self.calls_while_busy.set(self.calls_while_busy.get() + 1);
        }
    }
}

impl Store for Slow {
    fn exec(
        &mut self,
        session: u64,
        command: Command<'_>,
        reply: &mut Vec<u8>,
    ) -> Result<(), StoreError> {
        self.called();
        self.kvs.exec(session, command, reply)
    }

    fn close(&mut self, session: u64) {
        self.called();
        self.closed.set(self.closed.get() + 1);
        self.kvs.close(session);
    }

    fn exec_round(
        &mut self,
        round: &Round,
        replies: &mut Vec<u8>,
        ends: &mut Vec<usize>,
    ) -> Result<(), StoreError> {
        self.called();
        let spins = round
            .commands()
            .any(|(_, c)| c.args().any(|a| a == b"spin"));
        let (mut r, mut e) = (Vec::new(), Vec::new());
        for (session, cmd) in round.commands() {
            self.kvs.exec(session, cmd, &mut r)?;
            e.push(r.len());
        }
        match self.running.get() {
            Some(running) if spins => {
                self.answer = Some((r, e));
                Err(StoreError::Running(running))
            }
            _ => {
                replies.extend(r);
                ends.extend(e);
                Ok(())
            }
        }
    }

    fn resume_round(
        &mut self,
        replies: &mut Vec<u8>,
        ends: &mut Vec<usize>,
    ) -> Result<Option<Running>, StoreError> {
        if let Some(running) = self.running.get() {
            return Ok(Some(running));
        }
        let (r, e) = self.answer.take().expect("a round ran on");
        replies.extend(r);
        ends.extend(e);
        Ok(None)
    }

    fn kill_script(&mut self) {
        self.kills.set(self.kills.get() + 1);
    }
}

const BUSY_SCRIPT: &str =
    "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n";
const BUSY_FUNCTION: &str =
    "-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n";
const UNKILLABLE: &str = "-UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.\r\n";

struct Test {
    fe: resp::Frontend<Slow, Box<dyn FnMut() -> u64>>,
    running: Rc<Cell<Option<Running>>>,
    kills: Rc<Cell<u32>>,
    calls_while_busy: Rc<Cell<u32>>,
    closed: Rc<Cell<u32>>,
}

fn test() -> Test {
    let running = Rc::new(Cell::new(None));
    let kills = Rc::new(Cell::new(0));
    let calls_while_busy = Rc::new(Cell::new(0));
    let closed = Rc::new(Cell::new(0));
    let store = Slow {
        kvs: Kvs::new(8),
        running: running.clone(),
        answer: None,
        kills: kills.clone(),
        calls_while_busy: calls_while_busy.clone(),
        closed: closed.clone(),
    };
    let fe = resp::Frontend::new(
        store,
        Box::new(|| 1_700_000_000_000_000u64) as Box<dyn FnMut() -> u64>,
    );
    Test {
        fe,
        running,
        kills,
        calls_while_busy,
        closed,
    }
}

fn script(wrote: bool) -> Running {
    Running {
        function: false,
        wrote,
        elapsed_ms: 5001,
    }
}

/// What `conn` has to send now, taken.
fn out(conn: &mut resp::Connection) -> String {
    let s = String::from_utf8(conn.output().to_vec()).unwrap();
    conn.consume(s.len());
    s
}

#[test]
fn others_get_busy_and_kill_while_a_script_runs_on() {
    let mut t = test();
    let fe = &mut t.fe;
    let mut a = connect(fe);
    let mut b = connect(fe);
    assert_eq!(run(&mut b, fe, "SET k v\r\n"), "+OK\r\n");
    t.running.set(Some(script(false)));
    // A's script runs on: the round is not over.
    let spin = "*4\r\n$4\r\nEVAL\r\n$14\r\nreturn ARGV[1]\r\n$1\r\n0\r\n$4\r\nspin\r\n";
    assert_eq!(a.feed(fe, spin.as_bytes()), resp::Flow::Wait);
    fe.flush();
    assert!(fe.is_busy());
    assert_eq!(a.feed(fe, b"PING\r\n"), resp::Flow::Wait, "its own: later");
    assert_eq!(out(&mut a), "");
    // Everyone else: refused, or their usual errors.
    assert_eq!(run(&mut b, fe, "GET k\r\n"), BUSY_SCRIPT);
    assert_eq!(run(&mut b, fe, "PING\r\n"), BUSY_SCRIPT);
    assert_eq!(run(&mut b, fe, "CLIENT LIST\r\n"), BUSY_SCRIPT);
    assert_eq!(
        run(&mut b, fe, "FOO bar\r\n"),
        "-ERR unknown command 'FOO', with args beginning with: 'bar' \r\n"
    );
    assert_eq!(
        run(&mut b, fe, "GET\r\n"),
        "-ERR wrong number of arguments for 'get' command\r\n"
    );
    assert_eq!(
        run(&mut b, fe, "FUNCTION KILL\r\n"),
        BUSY_SCRIPT,
        "not a function"
    );
    assert_eq!(t.kills.get(), 0);
    assert_eq!(run(&mut b, fe, "SCRIPT KILL\r\n"), "+OK\r\n");
    assert_eq!(t.kills.get(), 1, "passed on");
    // Once it wrote, it cannot be killed.
    t.running.set(Some(script(true)));
    fe.flush();
    assert!(fe.is_busy());
    assert_eq!(run(&mut b, fe, "SCRIPT KILL\r\n"), UNKILLABLE);
    assert_eq!(t.kills.get(), 1);
    assert_eq!(t.calls_while_busy.get(), 0, "nothing asked of the store");
    // Done: A's replies, then its pipelined PING.
    t.running.set(None);
    fe.flush();
    assert!(!fe.is_busy());
    assert_eq!(a.feed(fe, b""), resp::Flow::Continue);
    assert_eq!(out(&mut a), "$4\r\nspin\r\n+PONG\r\n");
}

#[test]
fn a_function_says_function_kill_and_quit_still_closes() {
    let mut t = test();
    let fe = &mut t.fe;
    let mut a = connect(fe);
    let mut b = connect(fe);
    t.running.set(Some(Running {
        function: true,
        ..script(false)
    }));
    let spin = "*3\r\n$5\r\nFCALL\r\n$4\r\nspin\r\n$1\r\n0\r\n";
    assert_eq!(a.feed(fe, spin.as_bytes()), resp::Flow::Wait);
    fe.flush();
    assert!(fe.is_busy());
    assert_eq!(run(&mut b, fe, "SCRIPT KILL\r\n"), BUSY_FUNCTION);
    assert_eq!(run(&mut b, fe, "FUNCTION KILL\r\n"), "+OK\r\n");
    assert_eq!(t.kills.get(), 1);
    let mut c = connect(fe);
    assert_eq!(run(&mut c, fe, "QUIT\r\n"), "+OK\r\n");
    assert!(c.is_closing());
    t.running.set(None);
    fe.flush();
    assert!(!fe.is_busy());
    a.feed(fe, b"");
    assert!(out(&mut a).starts_with("-ERR Function not found"));
}

#[test]
fn what_needs_the_store_waits_for_the_round_s_end() {
    let mut t = test();
    let fe = &mut t.fe;
    let mut a = connect(fe);
    let mut b = connect(fe);
    let mut c = connect(fe);
    let mut d = connect(fe);
    assert_eq!(run(&mut c, fe, "MULTI\r\n"), "+OK\r\n");
    assert_eq!(run(&mut d, fe, "SET d 1\r\n"), "+OK\r\n");
    t.running.set(Some(script(false)));
    let spin = "*4\r\n$4\r\nEVAL\r\n$14\r\nreturn ARGV[1]\r\n$1\r\n0\r\n$4\r\nspin\r\n";
    assert_eq!(a.feed(fe, spin.as_bytes()), resp::Flow::Wait);
    fe.flush();
    // MULTI (and what follows it) waits; a queued command is refused
    // and fails its transaction; EXEC waits.
    assert_eq!(run(&mut b, fe, "MULTI\r\nGET k\r\n"), "");
    assert_eq!(run(&mut c, fe, "SET x 1\r\n"), BUSY_SCRIPT);
    assert_eq!(run(&mut c, fe, "EXEC\r\n"), "");
    // A connection that goes is closed in the store after the round.
    fe.disconnect(d);
    assert_eq!(t.closed.get(), 0);
    assert_eq!(t.calls_while_busy.get(), 0);
    t.running.set(None);
    fe.flush();
    assert_eq!(t.closed.get(), 1);
    let woken: Vec<u64> = fe.woken().collect();
    assert!(
        woken.contains(&b.id()) && woken.contains(&c.id()),
        "{woken:?}"
    );
    assert_eq!(run(&mut b, fe, ""), "+OK\r\n+QUEUED\r\n");
    assert_eq!(
        run(&mut c, fe, ""),
        "-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    a.feed(fe, b"");
    assert_eq!(out(&mut a), "$4\r\nspin\r\n");
    assert_eq!(run(&mut c, fe, "GET x\r\n"), "$-1\r\n", "its SET never ran");
}

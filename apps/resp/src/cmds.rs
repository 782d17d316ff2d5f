//! Running one command: the front end's own, or forwarded to the store.

use crate::conn::{Replies, Session};
use crate::frontend::{ClientInfo, Frontend, REDIS_VERSION};
use crate::pause::Holds;
use crate::pubsub::Kind;
use crate::stats::Named;
use crate::table;
use crate::{Clock, Command, Store, StoreError, docs, info, reply, tracking};
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;
use kvs_api::busy::Running;
use kvs_core::command::{Flag, Spec};
use kvs_core::num::parse_i64;

/// The commands the front end answers itself.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Own {
    Auth,
    Client,
    Command,
    Config,
    Echo,
    Hello,
    Info,
    Ping,
    Quit,
    Time,
    Reset,
    Subscribe(Kind),
    Unsubscribe(Kind),
    Publish { shard: bool },
    Pubsub,
    Slowlog,
    Latency,
    Role,
    Monitor,
    Lolwut,
}

/// Which of the front end's commands `name` is.
fn own(name: &[u8]) -> Option<Own> {
    let mut buf = [0u8; 12];
    let lower = buf.get_mut(..name.len())?;
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    Some(match &*lower {
        b"auth" => Own::Auth,
        b"client" => Own::Client,
        b"command" => Own::Command,
        b"config" => Own::Config,
        b"echo" => Own::Echo,
        b"hello" => Own::Hello,
        b"info" => Own::Info,
        b"ping" => Own::Ping,
        b"quit" => Own::Quit,
        b"time" => Own::Time,
        b"reset" => Own::Reset,
        b"subscribe" => Own::Subscribe(Kind::Channel),
        b"psubscribe" => Own::Subscribe(Kind::Pattern),
        b"ssubscribe" => Own::Subscribe(Kind::Shard),
        b"unsubscribe" => Own::Unsubscribe(Kind::Channel),
        b"punsubscribe" => Own::Unsubscribe(Kind::Pattern),
        b"sunsubscribe" => Own::Unsubscribe(Kind::Shard),
        b"publish" => Own::Publish { shard: false },
        b"spublish" => Own::Publish { shard: true },
        b"pubsub" => Own::Pubsub,
        b"slowlog" => Own::Slowlog,
        b"latency" => Own::Latency,
        b"role" => Own::Role,
        b"monitor" => Own::Monitor,
        b"lolwut" => Own::Lolwut,
        _ => return None,
    })
}

/// Whether a subscribed connection may run `own` (RESP2's subscribed
/// mode).
fn allowed_subscribed(own: Option<Own>) -> bool {
    matches!(
        own,
        Some(Own::Subscribe(_) | Own::Unsubscribe(_) | Own::Ping | Own::Quit | Own::Reset)
    )
}

/// The store commands whose effect on the session the front end follows
/// (for CLIENT LIST, and to know when commands must be queued).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tracked {
    Multi,
    Exec,
    Discard,
    Select,
}

fn tracked(name: &[u8]) -> Option<Tracked> {
    let mut buf = [0u8; 7];
    let lower = buf.get_mut(..name.len())?;
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    Some(match &*lower {
        b"multi" => Tracked::Multi,
        b"exec" => Tracked::Exec,
        b"discard" => Tracked::Discard,
        b"select" => Tracked::Select,
        _ => return None,
    })
}

/// The error reply for [`StoreError::TooLarge`].
pub(crate) const TOO_LARGE: &[u8] =
    b"ERR the command or its reply is too large for the key-value store (the command may have run)";

/// Answers [`StoreError::Lost`]: an error reply, then the connection closes.
pub(crate) fn lost(s: &mut Session) {
    reply::error(
        &mut s.out,
        b"ERR the key-value store restarted or cannot be reached; this connection's state is lost",
    );
    s.closing = true;
}

/// Answers a command of a round the store's restart interrupted: whether
/// it took effect (the store's log shows it) or had none, then the
/// connection closes (its state in the store is gone).
pub(crate) fn interrupted(s: &mut Session, took_effect: bool) {
    let msg: &[u8] = if took_effect {
        b"ERR the key-value store restarted after this command took effect; its reply is lost, and so is this connection's state"
    } else {
        NO_EFFECT
    };
    reply::error(&mut s.out, msg);
    s.closing = true;
}

/// What a command that did not reach the store is answered once the
/// store restarted.
const NO_EFFECT: &[u8] = b"ERR the key-value store restarted before this command took effect; it had no effect, and this connection's state is lost";

/// Whether the connection's session in the store is gone (the store
/// restarted since it first used it): then the command is answered that it
/// had no effect and the connection closes. Otherwise the connection's
/// session is counted as the store's current one.
pub(crate) fn stale<S: Store, C: Clock>(s: &mut Session, fe: &Frontend<S, C>) -> bool {
    let now = fe.store.generation();
    match s.store_generation {
        Some(then) if then != now => {
            reply::error(&mut s.out, NO_EFFECT);
            s.closing = true;
            true
        }
        _ => {
            s.store_generation = Some(now);
            false
        }
    }
}

/// Whether `cmd` may wait for a round: a store command whose reply the
/// front end need not follow (not a transaction's, not SELECT).
pub(crate) fn deferrable(s: &Session, cmd: Command<'_>) -> bool {
    let name = cmd.name();
    !s.in_multi && !s.subs.active() && !s.monitor && own(name).is_none() && tracked(name).is_none()
}

/// Whether `cmd` may block its connection (BLPOP and its kin, WAIT):
/// nothing after it is queued until its reply is known.
pub(crate) fn may_block(cmd: Command<'_>) -> bool {
    kvs_core::may_block(cmd.name())
}

/// Counts a command that ran and whether its reply is an error.
pub(crate) fn count<S, C>(fe: &mut Frontend<S, C>, named: Named, reply: &[u8], usec: u64) {
    if reply.first() == Some(&b'-') {
        fe.stats.error_replies += 1;
    }
    // Counted once it ran, as Redis does (INFO does not count itself).
    fe.stats.commands_processed += 1;
    fe.calls.count(named, reply, usec);
}

/// Runs `cmd` for the connection `s`, appending the reply to its output.
pub(crate) fn execute<S: Store, C: Clock>(
    s: &mut Session,
    fe: &mut Frontend<S, C>,
    cmd: Command<'_>,
) {
    let name = cmd.name();
    let named = Named::of(cmd);
    let started = fe.clock.now_us();
    let replies = s.reply;
    let caching = fe
        .client(s.id)
        .and_then(|c| c.tracking.as_ref())
        .is_some_and(|t| t.caching);
    if let Some(info) = fe.client_mut(s) {
        info.set_cmd(name);
    }
    let start = s.out.len();
    let own = own(name);
    // A monitor is a replica to Redis: no command that reads or writes.
    if s.monitor
        && let Ok(spec) = resolve(cmd)
        && (spec.has(Flag::Readonly) || replicated(spec))
    {
        reply::error(&mut s.out, b"ERR Replica can't interact with the keyspace");
        count(fe, Named::default(), b"-ERR", 0);
        return;
    }
    // One of the front end's own commands uses up CLIENT CACHING (the
    // store's commands do in the store), as any command does in Redis.
    if caching
        && !s.in_multi
        && own.is_some_and(|o| o != Own::Client)
        && fe.store.caching(s.id, None).is_err()
    {
        return lost(s);
    }
    let was_multi = s.in_multi;
    let mut refused_here = false;
    match own {
        // QUIT closes even inside MULTI, as in Redis.
        Some(Own::Quit) => {
            reply::ok(&mut s.out);
            s.closing = true;
        }
        // So does RESET (it ends the transaction).
        Some(Own::Reset) if cmd.len() == 1 => reset(s, fe),
        // A subscribed connection (RESP2) runs only the subscription
        // commands, PING, QUIT and RESET; a command that does not exist
        // or has the wrong arity gets that error first, as in Redis.
        _ if s.subs.active() && !s.resp3 && !allowed_subscribed(own) => {
            refused_here = true;
            refuse_subscribed(s, fe, cmd)
        }
        Some(own) if !s.in_multi => run_own(own, s, fe, cmd),
        // Inside MULTI the front end queues its own commands, and the
        // store the rest; EXEC runs both.
        Some(_) => queue_own(s, fe, cmd),
        None if s.in_multi && tracked(name) == Some(Tracked::Exec) => exec(s, fe, cmd),
        None => forward(s, fe, cmd),
    }
    if !fe.monitors.is_empty() && !refused_here {
        let head = s.out[start..].iter().take(4).copied().collect::<Vec<u8>>();
        monitor_ran(s, fe, cmd, was_multi, &head);
    }
    // CLIENT REPLY OFF or SKIP said before: the reply goes (CLIENT REPLY
    // answers for itself, and RESET turns replies on).
    if replies != Replies::On && !matches!(named.name, Some("client|reply" | "reset")) {
        s.out.truncate(start);
        s.reply = s.reply.after_one();
    }
    let now = fe.clock.now_us();
    let usec = now.saturating_sub(started);
    let end = s.out[start..]
        .iter()
        .position(|&b| b == b'\r')
        .map_or(s.out.len(), |n| start + n);
    let reply = s.out[start..end].to_vec();
    count(fe, named, &reply, usec);
    // Refused commands (unknown, or of the wrong arity) are not logged,
    // nor queued ones: EXEC is, as itself.
    let refused = named.name.is_none() || named.rejected && reply.starts_with(b"-");
    if !refused && !s.in_multi {
        fe.record_slow(s.id, cmd, usec, now);
    }
}

/// Tells the monitors that `cmd` ran on connection `s` (its reply starts
/// with `head`; `was_multi`: the connection was in MULTI before it), as
/// [`crate::monitor`] says: not a command Redis refuses first, nor one it
/// marks admin; a command queued in MULTI once EXEC runs it, before EXEC.
fn monitor_ran<S: Store, C: Clock>(
    s: &mut Session,
    fe: &mut Frontend<S, C>,
    cmd: Command<'_>,
    was_multi: bool,
    head: &[u8],
) {
    let Ok(spec) = resolve(cmd) else {
        return;
    };
    let queued = core::mem::take(&mut s.monitored);
    if was_multi && s.in_multi && head.starts_with(b"+QUE") {
        s.monitored = queued;
        s.monitored.push(cmd.encoded().to_vec());
        return;
    }
    // An EXEC that ran its commands (not a nil or an error).
    if spec.name == "exec" && was_multi && head.starts_with(b"*") && !head.starts_with(b"*-1") {
        let mut buf = crate::CommandBuf::new();
        for encoded in queued {
            let args = kvs_api::proto::parse_command(&encoded).unwrap_or_default();
            if let Ok(spec) = resolve(buf.set(&args))
                && !spec.has(Flag::Admin)
            {
                show(s, fe, &args);
            }
        }
    }
    if !spec.has(Flag::Admin) {
        let args: Vec<&[u8]> = cmd.args().collect();
        show(s, fe, &args);
    }
}

/// Shows `args`, which connection `s` ran, to the monitors; a monitor's
/// own line joins its output at once, after the mail it has.
fn show<S: Store, C: Clock>(s: &mut Session, fe: &mut Frontend<S, C>, args: &[&[u8]]) {
    let Some(line) = fe.monitor(s.id, args) else {
        return;
    };
    match fe.pubsub.take(s.id) {
        Some(crate::pubsub::Mail::Overflowed) => s.closing = true,
        Some(crate::pubsub::Mail::Messages(mail)) => s.out.extend_from_slice(&mail),
        None => {}
    }
    s.out.extend_from_slice(&line);
}

/// Tells the monitors of `cmd`, queued in the round for connection `s`
/// (the store runs it in order, unless the store is lost).
pub(crate) fn monitor_queued<S: Store, C: Clock>(
    s: &Session,
    fe: &mut Frontend<S, C>,
    cmd: Command<'_>,
) {
    if fe.monitors.is_empty() {
        return;
    }
    if let Ok(spec) = resolve(cmd)
        && !spec.has(Flag::Admin)
    {
        // Not a monitor's: a monitor's commands are not queued.
        let args: Vec<&[u8]> = cmd.args().collect();
        fe.monitor(s.id, &args);
    }
}

/// Queues one of the front end's own commands inside MULTI, after the
/// checks Redis makes when it queues (the command's subcommand and
/// arity: a failure there fails the transaction).
fn queue_own<S: Store, C: Clock>(s: &mut Session, fe: &mut Frontend<S, C>, cmd: Command<'_>) {
    if checked_spec(cmd, &mut s.out).is_none() {
        s.multi.dirty = true;
        return;
    }
    s.multi.own.push((s.multi.queued, cmd.encoded().to_vec()));
    s.multi.queued += 1;
    if let Some(info) = fe.client_mut(s) {
        info.multi = Some(info.multi.unwrap_or(0) + 1);
    }
    reply::simple(&mut s.out, "QUEUED");
}

/// EXEC: the store runs its queued commands (as one, atomically), then
/// the front end runs its own, each reply in its place among theirs.
fn exec<S: Store, C: Clock>(s: &mut Session, fe: &mut Frontend<S, C>, cmd: Command<'_>) {
    let queued = core::mem::take(&mut s.multi);
    if queued.dirty {
        // The store's queue goes too; the transaction fails as in Redis.
        let mut buf = crate::CommandBuf::new();
        forward(s, fe, buf.set(&[b"DISCARD"]));
        if !s.closing {
            s.out.truncate(s.out.len() - b"+OK\r\n".len());
            reply::error(&mut s.out, kvs_core::EXECABORT.as_bytes());
        }
        return;
    }
    let start = s.out.len();
    forward(s, fe, cmd);
    let theirs = s.out.split_off(start);
    let Some(mut rest) = theirs
        .strip_prefix(b"*")
        .filter(|_| !queued.own.is_empty() && !theirs.starts_with(b"*-1"))
    else {
        // An error, a nil (WATCH), or nothing of the front end's.
        return s.out.extend_from_slice(&theirs);
    };
    let line = rest.iter().position(|&b| b == b'\r').unwrap_or(0);
    let count = parse_i64(&rest[..line]).unwrap_or(0).max(0) as usize;
    rest = &rest[line + 2..];
    reply::array(&mut s.out, count + queued.own.len());
    let mut queued = queued.own.into_iter().peekable();
    let mut buf = crate::CommandBuf::new();
    for i in 0..count + queued.len() {
        match queued.next_if(|(at, _)| *at == i) {
            Some((_, encoded)) => {
                let args = kvs_api::proto::parse_command(&encoded).unwrap_or_default();
                let cmd = buf.set(&args);
                // Queued, so one of the front end's own. A transaction
                // may not block, nor become a monitor (Redis's words).
                match own(cmd.name()) {
                    Some(Own::Monitor) => reply::error(
                        &mut s.out,
                        b"ERR MONITOR isn't allowed for DENY BLOCKING client",
                    ),
                    Some(o) => run_own(o, s, fe, cmd),
                    None => {}
                }
            }
            None => {
                let len = kvs_api::proto::reply_len(rest).unwrap_or(rest.len());
                s.out.extend_from_slice(&rest[..len]);
                rest = &rest[len..];
            }
        }
    }
}

/// Why a command has no spec to run by.
enum Unresolved<'a> {
    /// No such command.
    Unknown,
    /// The container has no such subcommand.
    Subcommand(&'static Spec, &'a [u8]),
    /// The arity is wrong.
    Arity(&'static Spec),
}

/// The spec `cmd` runs by (its subcommand's for a container), once it
/// exists and has its arity: what Redis checks before anything else.
fn resolve(cmd: Command<'_>) -> Result<&'static Spec, Unresolved<'_>> {
    let container = table::lookup(cmd.name()).ok_or(Unresolved::Unknown)?;
    let spec = match cmd.arg(1) {
        Some(sub) if !container.subcommands.is_empty() => container
            .subcommand(sub)
            .ok_or(Unresolved::Subcommand(container, sub))?,
        _ => container,
    };
    if !spec.arity_ok(cmd.len()) {
        return Err(Unresolved::Arity(spec));
    }
    Ok(spec)
}

/// The spec `cmd` runs by (its subcommand's for a container), or `None`
/// after writing Redis's error: an unknown subcommand, a wrong arity.
fn checked_spec(cmd: Command<'_>, out: &mut Vec<u8>) -> Option<&'static Spec> {
    match resolve(cmd) {
        Ok(spec) => Some(spec),
        Err(Unresolved::Unknown) => None,
        Err(Unresolved::Subcommand(container, sub)) => {
            let upper = container.name.to_ascii_uppercase();
            reply::unknown_subcommand(out, sub, &upper);
            None
        }
        Err(Unresolved::Arity(spec)) => {
            reply::arity(out, spec.name);
            None
        }
    }
}

/// Whether Redis would send the command to replicas: what `CLIENT PAUSE
/// WRITE` holds.
fn replicated(spec: &Spec) -> bool {
    spec.has(Flag::Write) || spec.has(Flag::MayReplicate)
}

/// Whether `cmd` waits for a `CLIENT PAUSE` to end (see [`crate::pause`]):
/// the pause holds it, and it would get past the checks Redis makes before
/// a pause holds a command (it exists, has its arity, and may run on a
/// subscribed RESP2 connection). The connection is then postponed.
pub(crate) fn held_by_pause<S: Store, C: Clock>(
    s: &Session,
    fe: &mut Frontend<S, C>,
    cmd: Command<'_>,
) -> bool {
    if !fe.pause.is_on() {
        return false;
    }
    let Ok(spec) = resolve(cmd) else {
        return false;
    };
    if s.subs.active() && !s.resp3 && !allowed_subscribed(own(cmd.name())) {
        return false;
    }
    // What Redis sends to replicas (a write, PUBLISH, PFCOUNT), and EXEC
    // of a transaction that queued one.
    let writes = replicated(spec) || (s.in_multi && spec.name == "exec" && s.multi.writes);
    let now = fe.clock.now_us();
    if !fe.pause.holds(now, writes) {
        return false;
    }
    fe.pause.postpone(s.id);
    if let Some(info) = fe.client_mut(s) {
        info.blocked = true;
        info.record_cmd(spec.name.as_bytes());
    }
    true
}

/// Redis's refusal while an EVAL's script runs on past
/// `busy-reply-threshold`.
const BUSY_SCRIPT: &[u8] =
    b"BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
/// The same while an FCALL's function does.
const BUSY_FUNCTION: &[u8] =
    b"BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";
/// SCRIPT KILL or FUNCTION KILL of a script that has written.
const UNKILLABLE: &[u8] = b"UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.";

/// Runs `cmd` of connection `s` (which has no command in the round)
/// while a script runs on past `busy-reply-threshold` (`running`), as
/// Redis does then: an unknown command or a wrong arity gets its usual
/// error, SCRIPT KILL or FUNCTION KILL (whichever fits the script) kills
/// a script that has not written, QUIT closes, and everything else gets
/// `-BUSY` (failing a transaction it was queued in). The commands Redis
/// allows while busy that need the store (AUTH, HELLO, MULTI, DISCARD,
/// RESET) and EXEC wait for the round's end instead; false then (the
/// connection is fed again when it ends).
pub(crate) fn while_busy<S: Store, C: Clock>(
    s: &mut Session,
    fe: &mut Frontend<S, C>,
    cmd: Command<'_>,
    running: Running,
) -> bool {
    let start = s.out.len();
    let busy = if running.function {
        BUSY_FUNCTION
    } else {
        BUSY_SCRIPT
    };
    match resolve(cmd).map(|spec| spec.name) {
        Err(_) => {
            if checked_spec(cmd, &mut s.out).is_none() && s.out.len() == start {
                let args: Vec<&[u8]> = cmd.args().skip(1).collect();
                kvs_core::unknown_command(cmd.name(), &args)
                    .encode(kvs_core::Protocol::Resp2, &mut s.out);
            }
        }
        Ok("quit") => {
            reply::ok(&mut s.out);
            s.closing = true;
        }
        Ok(kill @ ("script|kill" | "function|kill")) => {
            if (kill == "function|kill") != running.function {
                reply::error(&mut s.out, busy);
            } else if running.wrote {
                reply::error(&mut s.out, UNKILLABLE);
            } else {
                fe.store.kill_script();
                reply::ok(&mut s.out);
            }
        }
        Ok("auth" | "hello" | "multi" | "discard" | "reset" | "exec") => {
            if let Some(b) = fe.busy.as_mut() {
                b.held.push(s.id);
            }
            return false;
        }
        Ok(_) => reply::error(&mut s.out, busy),
    }
    if s.in_multi && s.out[start..].starts_with(b"-") {
        s.multi.dirty = true;
    }
    let end = s.out[start..]
        .iter()
        .position(|&b| b == b'\r')
        .map_or(s.out.len(), |n| start + n);
    let reply = s.out[start..end].to_vec();
    count(fe, Named::of(cmd), &reply, 0);
    true
}

/// Passes `cmd` to the store in the connection's session.
fn forward<S: Store, C: Clock>(s: &mut Session, fe: &mut Frontend<S, C>, cmd: Command<'_>) {
    if stale(s, fe) {
        return;
    }
    s.used_store = true;
    let start = s.out.len();
    match fe.store.exec(s.id, cmd, &mut s.out) {
        Ok(()) => {
            let Some(t) = tracked(cmd.name()) else {
                if s.in_multi && s.out[start..] == *b"+QUEUED\r\n" {
                    s.multi.queued += 1;
                    s.multi.writes |= table::lookup(cmd.name()).is_some_and(replicated);
                    if let Some(info) = fe.client_mut(s) {
                        info.multi = Some(info.multi.unwrap_or(0) + 1);
                    }
                }
                return;
            };
            let ok = s.out[start..] == *b"+OK\r\n";
            let info = fe.client_mut(s);
            match t {
                Tracked::Multi if ok => {
                    s.in_multi = true;
                    s.multi = Default::default();
                    if let Some(info) = info {
                        info.multi = Some(0);
                    }
                }
                Tracked::Exec | Tracked::Discard if s.in_multi => {
                    s.in_multi = false;
                    s.multi = Default::default();
                    if let Some(info) = info {
                        info.multi = None;
                    }
                }
                Tracked::Select if ok && !s.in_multi => {
                    let db = cmd
                        .arg(1)
                        .and_then(parse_i64)
                        .and_then(|n| u32::try_from(n).ok());
                    if let (Some(info), Some(db)) = (info, db) {
                        info.db = db;
                    }
                }
                _ => {}
            }
        }
        Err(StoreError::TooLarge) => {
            s.out.truncate(start);
            reply::error(&mut s.out, TOO_LARGE);
        }
        Err(StoreError::Interrupted { applied }) => {
            s.out.truncate(start);
            interrupted(s, applied > 0);
        }
        // A single command never runs on (a script in it past the
        // threshold is stopped); a store that says so is not to be trusted.
        Err(StoreError::Lost | StoreError::Running(_)) => {
            s.out.truncate(start);
            lost(s);
        }
    }
}

fn run_own<S: Store, C: Clock>(
    own: Own,
    s: &mut Session,
    fe: &mut Frontend<S, C>,
    cmd: Command<'_>,
) {
    // Every one of the front end's commands is in the table.
    let Some(spec) = table::lookup(cmd.name()) else {
        return reply::error(&mut s.out, b"ERR unknown command");
    };
    if !spec.arity_ok(cmd.len()) {
        return reply::arity(&mut s.out, spec.name);
    }
    match own {
        Own::Subscribe(kind) => {
            let names: Vec<&[u8]> = cmd.args().skip(1).collect();
            fe.pubsub
                .subscribe(kind, s.id, &mut s.subs, &names, &mut s.out);
            return subscribed(s, fe);
        }
        Own::Unsubscribe(kind) => {
            let names: Vec<&[u8]> = cmd.args().skip(1).collect();
            fe.pubsub
                .unsubscribe(kind, s.id, &mut s.subs, &names, &mut s.out);
            return subscribed(s, fe);
        }
        Own::Reset => return reset(s, fe),
        // Again: nothing, as in Redis.
        Own::Monitor if s.monitor => return,
        Own::Monitor => {
            s.monitor = true;
            fe.monitors.push(s.id);
            if let Some(info) = fe.client_mut(s) {
                info.monitor = true;
            }
            return reply::ok(&mut s.out);
        }
        _ => {}
    }
    let out = &mut s.out;
    match own {
        // A subscribed connection's PING answers as a message would
        // (in RESP2; RESP3 has no subscribed mode).
        Own::Ping if s.subs.active() && !s.resp3 => match cmd.arg(1) {
            _ if cmd.len() > 2 => reply::arity(out, spec.name),
            message => {
                reply::array(out, 2);
                reply::bulk(out, b"pong");
                reply::bulk(out, message.unwrap_or_default());
            }
        },
        Own::Ping => match cmd.arg(1) {
            _ if cmd.len() > 2 => reply::arity(out, spec.name),
            None => reply::simple(out, "PONG"),
            Some(message) => reply::bulk(out, message),
        },
        Own::Publish { shard } => {
            let (channel, message) = (
                cmd.arg(1).unwrap_or_default(),
                cmd.arg(2).unwrap_or_default(),
            );
            let n = fe.publish(shard, channel, message);
            reply::int(&mut s.out, n as i64);
        }
        Own::Pubsub => pubsub(fe, spec, cmd, out),
        Own::Slowlog => slowlog(fe, spec, cmd, out),
        // A master with no replicas and no replication offset.
        Own::Role => {
            reply::array(out, 3);
            reply::bulk(out, b"master");
            reply::int(out, 0);
            reply::array(out, 0);
        }
        Own::Latency => latency(fe, spec, cmd, out, s.resp3),
        Own::Echo => reply::bulk(out, cmd.arg(1).unwrap_or_default()),
        // Art is Redis's own (its versions 5 and 6 draw some): the line it
        // gives for the other versions, after its check of VERSION's
        // number.
        Own::Lolwut => {
            let version = match (cmd.arg(1), cmd.arg(2)) {
                (Some(word), Some(v)) if word.eq_ignore_ascii_case(b"version") => parse_i64(v),
                _ => Some(0),
            };
            match version {
                Some(_) => {
                    let line = alloc::format!("Redis ver. {REDIS_VERSION}\n");
                    reply::verbatim(out, line.as_bytes(), s.resp3);
                }
                None => reply::error(out, b"ERR value is not an integer or out of range"),
            }
        }
        Own::Time => {
            let now = fe.clock.now_us();
            reply::array(out, 2);
            reply::bulk_u64(out, now / 1_000_000);
            reply::bulk_u64(out, now % 1_000_000);
        }
        Own::Auth => {
            let args: Vec<&[u8]> = cmd.args().skip(1).collect();
            if let Err(e) = authenticate(&args) {
                reply::error(out, e);
            } else {
                reply::ok(out);
            }
        }
        Own::Hello => hello(s, fe, cmd),
        Own::Info => {
            let sections: Vec<&[u8]> = cmd.args().skip(1).collect();
            info::write(fe, &sections, out, s.resp3);
        }
        Own::Command => command(cmd, out, s.resp3),
        Own::Client => client(s, fe, spec, cmd),
        Own::Config => config(fe, spec, cmd, out, s.resp3),
        // `execute` answers QUIT itself (it closes even inside MULTI).
        Own::Quit => reply::ok(out),
        // Answered above.
        Own::Subscribe(_) | Own::Unsubscribe(_) | Own::Reset | Own::Monitor => {}
    }
}

/// A command a subscribed connection may not run: Redis's error naming
/// it (a subcommand by its full name), after the errors that come first
/// in Redis (an unknown command or subcommand, a wrong arity).
fn refuse_subscribed<S: Store, C: Clock>(
    s: &mut Session,
    fe: &mut Frontend<S, C>,
    cmd: Command<'_>,
) {
    if table::lookup(cmd.name()).is_none() {
        // The store's words for an unknown command.
        return forward(s, fe, cmd);
    }
    let Some(spec) = checked_spec(cmd, &mut s.out) else {
        return;
    };
    let mut msg = b"ERR Can't execute '".to_vec();
    msg.extend_from_slice(spec.name.as_bytes());
    msg.extend_from_slice(
        b"': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
    );
    reply::error(&mut s.out, &msg);
}

/// After a (un)subscription: the client list's counts.
fn subscribed<S: Store, C: Clock>(s: &mut Session, fe: &mut Frontend<S, C>) {
    let counts = s.subs.counts();
    if let Some(info) = fe.client_mut(s) {
        info.subs = counts;
    }
}

/// `RESET`: the connection as new (its store session ends: no MULTI, no
/// WATCH, database 0), no subscriptions, no name, RESP2.
fn reset<S: Store, C: Clock>(s: &mut Session, fe: &mut Frontend<S, C>) {
    if s.used_store {
        fe.store.close(s.id);
        s.used_store = false;
        s.store_generation = None;
    }
    s.in_multi = false;
    s.multi = Default::default();
    s.reply = Replies::On;
    if s.monitor {
        s.monitor = false;
        fe.monitors.retain(|&m| m != s.id);
    }
    fe.pubsub.leave(s.id, &mut s.subs);
    // Back to RESP2: the store's session went (the next is RESP2's),
    // and so did the subscriptions.
    s.resp3 = false;
    if let Some(info) = fe.client_mut(s) {
        info.db = 0;
        info.multi = None;
        info.name.clear();
        info.subs = (0, 0, 0);
        info.resp3 = false;
        info.no_evict = false;
        info.monitor = false;
    }
    // Tracking went with the store's session.
    if fe.client_mut(s).and_then(|c| c.tracking.take()).is_some() {
        fe.trackers -= 1;
    }
    reply::simple(&mut s.out, "RESET");
}

/// `SLOWLOG GET [count]|LEN|RESET|HELP`.
fn slowlog<S: Store, C: Clock>(
    fe: &mut Frontend<S, C>,
    container: &Spec,
    cmd: Command<'_>,
    out: &mut Vec<u8>,
) {
    let sub_name = cmd.arg(1).unwrap_or_default();
    let Some(sub) = container.subcommand(sub_name) else {
        return reply::unknown_subcommand(out, sub_name, "SLOWLOG");
    };
    if !sub_arity_ok(sub, cmd.len(), out) {
        return;
    }
    match sub.name {
        "slowlog|get" => {
            let count = match cmd.arg(2).map(|c| parse_i64(c).filter(|&n| n >= -1)) {
                None => None,
                Some(Some(n)) => Some(n),
                Some(None) => {
                    return reply::error(out, b"ERR count should be greater than or equal to -1");
                }
            };
            if cmd.len() > 3 {
                return reply::arity(out, sub.name);
            }
            fe.slow.get(count, out);
        }
        "slowlog|len" => reply::int(out, fe.slow.len() as i64),
        "slowlog|reset" => {
            fe.slow.reset();
            reply::ok(out);
        }
        _ => help(
            out,
            &[
                "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "GET [<count>]",
                "    Return the newest <count> entries (10 by default, all with -1): id,",
                "    Unix time, microseconds, arguments, client address and name.",
                "LEN",
                "    Return the number of entries.",
                "RESET",
                "    Empty the slow log.",
                "HELP",
                "    Print this help.",
            ],
        ),
    }
}

/// `LATENCY LATEST|HISTORY event|RESET [event …]|DOCTOR|HELP`.
fn latency<S: Store, C: Clock>(
    fe: &mut Frontend<S, C>,
    container: &Spec,
    cmd: Command<'_>,
    out: &mut Vec<u8>,
    resp3: bool,
) {
    let sub_name = cmd.arg(1).unwrap_or_default();
    let Some(sub) = container.subcommand(sub_name) else {
        return reply::unknown_subcommand(out, sub_name, "LATENCY");
    };
    if !sub_arity_ok(sub, cmd.len(), out) {
        return;
    }
    match sub.name {
        "latency|latest" => fe.slow.latest(out),
        "latency|history" => fe.slow.history(cmd.arg(2).unwrap_or_default(), out),
        "latency|graph" => match fe
            .slow
            .graph(cmd.arg(2).unwrap_or_default(), fe.clock.now_us())
        {
            Ok(text) => reply::verbatim(out, text.as_bytes(), resp3),
            Err(e) => reply::error(out, e.as_bytes()),
        },
        "latency|histogram" => {
            let names: Vec<&[u8]> = cmd.args().skip(2).collect();
            latency_histogram(fe, &names, out, resp3);
        }
        "latency|reset" => {
            let names: Vec<&[u8]> = cmd.args().skip(2).collect();
            reply::int(out, fe.slow.reset_events(&names) as i64);
        }
        "latency|doctor" => {
            let threshold = fe.config.slow().latency_threshold_ms;
            let text = match (threshold, fe.slow.has_events()) {
                (0, _) => String::from(
                    "The latency monitor is off: set latency-monitor-threshold (milliseconds) to record the commands that take that long or longer.\n",
                ),
                (ms, false) => alloc::format!(
                    "No command has taken {ms} ms or longer (latency-monitor-threshold) since the events were last reset.\n"
                ),
                (ms, true) => alloc::format!(
                    "Commands took {ms} ms or longer (latency-monitor-threshold): LATENCY LATEST and LATENCY HISTORY command tell when and how long; SLOWLOG GET tells which.\n"
                ),
            };
            reply::verbatim(out, text.as_bytes(), resp3);
        }
        _ => help(
            out,
            &[
                "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "LATEST",
                "    Return each event's latest sample (Unix time, milliseconds) and its longest.",
                "HISTORY <event>",
                "    Return an event's samples, oldest first.",
                "RESET [<event> ...]",
                "    Forget the events named, or all of them.",
                "DOCTOR",
                "    Describe what was recorded.",
                "GRAPH <event>",
                "    Draw an event's samples as a chart of text.",
                "HISTOGRAM [<command> ...]",
                "    Return how long the commands named (or all) took: their calls, and how",
                "    many took at most each power of two microseconds.",
                "HELP",
                "    Print this help.",
            ],
        ),
    }
}

/// `LATENCY HISTOGRAM [command …]`: for each command named (a
/// container's subcommands for a container; unknown names and commands
/// that never ran left out), or every command that ran, a map of its
/// calls and `histogram_usec`, a map from each power of two of
/// microseconds to the calls that took at most that long, where that
/// count grows (Redis's shape; its buckets are its HDR histogram's).
fn latency_histogram<S: Store, C: Clock>(
    fe: &Frontend<S, C>,
    names: &[&[u8]],
    out: &mut Vec<u8>,
    resp3: bool,
) {
    let mut chosen: Vec<&'static str> = Vec::new();
    if names.is_empty() {
        chosen.extend(fe.calls.commands.keys().copied());
    } else {
        for name in names {
            let Some(spec) = table::lookup(name) else {
                continue;
            };
            for s in core::iter::once(spec).chain(spec.subcommands) {
                if !chosen.contains(&s.name) {
                    chosen.push(s.name);
                }
            }
        }
    }
    let ran: Vec<(&str, &crate::stats::Calls)> = chosen
        .into_iter()
        .filter_map(|name| Some((name, fe.calls.commands.get(name)?)))
        .filter(|(_, c)| c.calls > 0)
        .collect();
    reply::map(out, ran.len(), resp3);
    for (name, calls) in ran {
        reply::bulk(out, name.as_bytes());
        reply::map(out, 2, resp3);
        reply::bulk(out, b"calls");
        reply::int(out, calls.calls as i64);
        reply::bulk(out, b"histogram_usec");
        let mut steps = Vec::new();
        let mut total = 0;
        for (k, &n) in calls.histogram.iter().enumerate() {
            if n > 0 {
                total += n;
                steps.push((1i64 << k, total));
            }
        }
        reply::map(out, steps.len(), resp3);
        for (usec, count) in steps {
            reply::int(out, usec);
            reply::int(out, count as i64);
        }
    }
}

/// `PUBSUB CHANNELS|NUMSUB|NUMPAT|SHARDCHANNELS|SHARDNUMSUB|HELP`.
fn pubsub<S: Store, C: Clock>(
    fe: &Frontend<S, C>,
    spec: &Spec,
    cmd: Command<'_>,
    out: &mut Vec<u8>,
) {
    let sub = cmd.arg(1).unwrap_or_default();
    let Some(sub_spec) = spec.subcommand(sub) else {
        return reply::unknown_subcommand(out, sub, "PUBSUB");
    };
    if !sub_arity_ok(sub_spec, cmd.len(), out) {
        return;
    }
    let args: Vec<&[u8]> = cmd.args().skip(2).collect();
    match sub_spec.name {
        "pubsub|channels" | "pubsub|shardchannels" => {
            if args.len() > 1 {
                return reply::arity(out, sub_spec.name);
            }
            let shard = sub_spec.name == "pubsub|shardchannels";
            let channels = fe.pubsub.active(shard, args.first().copied());
            reply::array(out, channels.len());
            for c in channels {
                reply::bulk(out, c);
            }
        }
        "pubsub|numsub" | "pubsub|shardnumsub" => {
            let shard = sub_spec.name == "pubsub|shardnumsub";
            reply::array(out, 2 * args.len());
            for c in args {
                reply::bulk(out, c);
                reply::int(out, fe.pubsub.listeners(shard, c) as i64);
            }
        }
        "pubsub|numpat" => reply::int(out, fe.pubsub.patterns() as i64),
        _ => help(
            out,
            &[
                "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "CHANNELS [<pattern>]",
                "    Return the currently active channels matching a <pattern> (default: '*').",
                "NUMPAT",
                "    Return number of subscriptions to patterns.",
                "NUMSUB [<channel> ...]",
                "    Return the number of subscribers for the specified channels, excluding",
                "    pattern subscriptions(default: no channels).",
                "SHARDCHANNELS [<pattern>]",
                "    Return the currently active shard level channels matching a <pattern> (default: '*').",
                "SHARDNUMSUB [<shardchannel> ...]",
                "    Return the number of subscribers for the specified shard level channel(s)",
                "HELP",
                "    Prints this help.",
            ],
        ),
    }
}

/// AUTH's check: Basalt has one user, `default`, without a password.
fn authenticate(args: &[&[u8]]) -> Result<(), &'static [u8]> {
    match args {
        [_password] => Err(
            b"ERR AUTH <password> called without any password configured for the default user. \
              Are you sure your configuration is correct?",
        ),
        [user, _password] if *user == b"default" => Ok(()),
        [_, _] => Err(b"WRONGPASS invalid username-password pair or user is disabled."),
        _ => Err(b"ERR syntax error"),
    }
}

/// Whether `name` may name a connection: printable, no spaces.
fn valid_name(name: &[u8]) -> bool {
    name.iter().all(|c| (b'!'..=b'~').contains(c))
}

const NOPROTO: &[u8] = b"NOPROTO unsupported protocol version";

const BAD_NAME: &[u8] = b"ERR Client names cannot contain spaces, newlines or special characters.";

/// `HELLO [protover [AUTH username password] [SETNAME name]]`.
fn hello<S: Store, C: Clock>(s: &mut Session, fe: &mut Frontend<S, C>, cmd: Command<'_>) {
    let out = &mut s.out;
    let args: Vec<&[u8]> = cmd.args().skip(1).collect();
    let mut resp3 = s.resp3;
    if let Some(version) = args.first() {
        match parse_i64(version) {
            None => {
                return reply::error(
                    out,
                    b"ERR Protocol version is not an integer or out of range",
                );
            }
            Some(2) => resp3 = false,
            Some(3) => resp3 = true,
            Some(_) => return reply::error(out, NOPROTO),
        }
    }
    let mut auth = None;
    let mut name = None;
    let mut i = 1;
    while i < args.len() {
        let option = args[i];
        if option.eq_ignore_ascii_case(b"AUTH") && i + 2 < args.len() {
            auth = Some([args[i + 1], args[i + 2]]);
            i += 3;
        } else if option.eq_ignore_ascii_case(b"SETNAME") && i + 1 < args.len() {
            name = Some(args[i + 1]);
            i += 2;
        } else {
            let mut msg = b"ERR Syntax error in HELLO option '".to_vec();
            msg.extend_from_slice(option);
            msg.push(b'\'');
            return reply::error(out, &msg);
        }
    }
    if let Some(pair) = auth
        && let Err(e) = authenticate(&pair)
    {
        return reply::error(out, e);
    }
    if name.is_some_and(|name| !valid_name(name)) {
        return reply::error(out, BAD_NAME);
    }
    if resp3 != s.resp3 {
        // The store writes the session's replies (and mail) in it too.
        if stale(s, fe) {
            return;
        }
        s.used_store = true;
        if fe.store.protocol(s.id, resp3).is_err() {
            return lost(s);
        }
        s.resp3 = resp3;
        fe.pubsub.set_resp3(s.id, resp3);
    }
    if let Some(info) = fe.client_mut(s) {
        info.resp3 = resp3;
        if let Some(name) = name {
            info.name = name.to_vec();
        }
    }
    let out = &mut s.out;
    reply::map(out, 7, resp3);
    reply::bulk(out, b"server");
    reply::bulk(out, b"redis");
    reply::bulk(out, b"version");
    reply::bulk(out, REDIS_VERSION.as_bytes());
    reply::bulk(out, b"proto");
    reply::int(out, if resp3 { 3 } else { 2 });
    reply::bulk(out, b"id");
    reply::int(out, s.id as i64);
    reply::bulk(out, b"mode");
    reply::bulk(out, b"standalone");
    reply::bulk(out, b"role");
    reply::bulk(out, b"master");
    reply::bulk(out, b"modules");
    reply::array(out, 0);
}

/// Appends the lines of a HELP reply, as simple strings.
fn help(out: &mut Vec<u8>, lines: &[&str]) {
    reply::array(out, lines.len());
    for line in lines {
        reply::simple(out, line);
    }
}

/// Checks a subcommand's arity; writes the error if it is wrong.
fn sub_arity_ok(sub: &Spec, argc: usize, out: &mut Vec<u8>) -> bool {
    let ok = sub.arity_ok(argc);
    if !ok {
        reply::arity(out, sub.name);
    }
    ok
}

/// `CLIENT PAUSE timeout [WRITE|ALL]`, with Redis's checks in its order:
/// the number of arguments, the mode, then the timeout (milliseconds, an
/// integer as Redis reads one, not negative).
fn client_pause<S: Store, C: Clock>(
    fe: &mut Frontend<S, C>,
    cmd: &Command<'_>,
    now: u64,
    out: &mut Vec<u8>,
) {
    if cmd.len() > 4 {
        let mut msg = b"ERR unknown subcommand or wrong number of arguments for '".to_vec();
        msg.extend_from_slice(cmd.arg(1).unwrap_or_default());
        msg.extend_from_slice(b"'. Try CLIENT HELP.");
        return reply::error(out, &msg);
    }
    let holds = match cmd.arg(3) {
        None => Holds::All,
        Some(m) if m.eq_ignore_ascii_case(b"all") => Holds::All,
        Some(m) if m.eq_ignore_ascii_case(b"write") => Holds::Writes,
        Some(_) => return reply::error(out, b"ERR CLIENT PAUSE mode must be WRITE or ALL"),
    };
    match cmd.arg(2).and_then(parse_i64) {
        None => reply::error(out, b"ERR timeout is not an integer or out of range"),
        Some(ms) if ms < 0 => reply::error(out, b"ERR timeout is negative"),
        Some(ms) => {
            fe.pause.start(now, ms, holds);
            reply::ok(out);
        }
    }
}

/// `COMMAND [COUNT|DOCS|INFO|LIST|HELP …]`.
fn command(cmd: Command<'_>, out: &mut Vec<u8>, resp3: bool) {
    let Some(container) = table::lookup(b"command") else {
        return;
    };
    let Some(sub_name) = cmd.arg(1) else {
        reply::array(out, table::count());
        for spec in table::all() {
            docs::write_info(spec, out, resp3);
        }
        return;
    };
    let Some(sub) = container.subcommand(sub_name) else {
        return reply::unknown_subcommand(out, sub_name, "COMMAND");
    };
    if !sub_arity_ok(sub, cmd.len(), out) {
        return;
    }
    let names: Vec<&[u8]> = cmd.args().skip(2).collect();
    match sub.name {
        "command|count" => reply::int(out, table::count() as i64),
        "command|info" if names.is_empty() => {
            reply::array(out, table::count());
            for spec in table::all() {
                docs::write_info(spec, out, resp3);
            }
        }
        "command|info" => {
            reply::array(out, names.len());
            for name in names {
                match table::lookup(name) {
                    Some(spec) => docs::write_info(spec, out, resp3),
                    None => reply::null(out, resp3),
                }
            }
        }
        "command|docs" => {
            let specs: Vec<&Spec> = if names.is_empty() {
                table::all().collect()
            } else {
                names.iter().filter_map(|n| table::lookup(n)).collect()
            };
            reply::map(out, specs.len(), resp3);
            for spec in specs {
                docs::write_docs(spec, out, resp3);
            }
        }
        "command|list" => {
            let all: Vec<&Spec> = table::all()
                .flat_map(|s| core::iter::once(s).chain(s.subcommands))
                .collect();
            reply::array(out, all.len());
            for spec in all {
                reply::bulk(out, spec.name.as_bytes());
            }
        }
        "command|getkeys" => getkeys(&names, out, None),
        "command|getkeysandflags" => getkeys(&names, out, Some(resp3)),
        _ => help(
            out,
            &[
                "COMMAND <subcommand> [<arg> ...]. Subcommands are:",
                "(no subcommand)",
                "    Describe every command, as COMMAND INFO does.",
                "COUNT",
                "    Return the number of commands.",
                "DOCS [<command-name> ...]",
                "    Describe the commands and their arguments (all of them by default).",
                "INFO [<command-name> ...]",
                "    Return arity, flags and key positions of the commands (all of them by default).",
                "LIST",
                "    Return the names of every command and subcommand.",
                "GETKEYS <full-command>",
                "    Return the keys from a full command.",
                "GETKEYSANDFLAGS <full-command>",
                "    Return the keys from a full command, each with what the command does with it.",
                "HELP",
                "    Print this help.",
            ],
        ),
    }
}

/// `COMMAND GETKEYS command arg...`: the keys the command table finds in
/// the arguments, with Redis's errors; with `flags` (whether the reply
/// is RESP3), `COMMAND GETKEYSANDFLAGS`: each key with its key spec's
/// flags.
fn getkeys(args: &[&[u8]], out: &mut Vec<u8>, flags: Option<bool>) {
    // A container's subcommand, when it has them and one is named.
    let spec = table::lookup(args[0]).and_then(|spec| match args.get(1) {
        Some(sub) if !spec.subcommands.is_empty() => spec.subcommand(sub),
        _ => Some(spec),
    });
    let Some(spec) = spec else {
        return reply::error(out, b"ERR Invalid command specified");
    };
    if !spec.has_keys() {
        return reply::error(out, b"ERR The command has no key arguments");
    }
    if !spec.arity_ok(args.len()) {
        return reply::error(
            out,
            b"ERR Invalid number of arguments specified for command",
        );
    }
    let keys = spec.keys.positions(args);
    if keys.is_empty() {
        return reply::error(out, b"ERR Invalid arguments specified for command");
    }
    reply::array(out, keys.len());
    for i in keys {
        let Some(resp3) = flags else {
            reply::bulk(out, args[i]);
            continue;
        };
        reply::array(out, 2);
        reply::bulk(out, args[i]);
        let flags = spec.key_flags(args, i);
        reply::set(out, flags.len(), resp3);
        for flag in flags {
            reply::simple(out, flag.name());
        }
    }
}

/// `CONFIG GET|SET|RESETSTAT|REWRITE|HELP …`.
fn config<S: Store, C: Clock>(
    fe: &mut Frontend<S, C>,
    container: &'static Spec,
    cmd: Command<'_>,
    out: &mut Vec<u8>,
    resp3: bool,
) {
    let sub_name = cmd.arg(1).unwrap_or_default();
    let Some(sub) = container.subcommand(sub_name) else {
        return reply::unknown_subcommand(out, sub_name, "CONFIG");
    };
    if !sub_arity_ok(sub, cmd.len(), out) {
        return;
    }
    let rest: Vec<&[u8]> = cmd.args().skip(2).collect();
    match sub.name {
        "config|get" => config_get(fe, &rest, out, resp3),
        "config|set" => config_set(fe, &rest, out),
        "config|resetstat" => {
            fe.stats.reset();
            fe.calls = Default::default();
            reply::ok(out);
        }
        "config|rewrite" => reply::error(out, b"ERR The server is running without a config file"),
        _ => help(
            out,
            &[
                "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "GET <pattern> [<pattern> ...]",
                "    Return the parameters matching the glob-like patterns, and their values.",
                "SET <directive> <value> [<directive> <value> ...]",
                "    Set parameters to values, all or none.",
                "RESETSTAT",
                "    Zero the counters INFO reports.",
                "REWRITE",
                "    Refused: there is no configuration file.",
                "HELP",
                "    Print this help.",
            ],
        ),
    }
}

/// Runs `args` in the store's internal session; its reply, if it could
/// be reached.
fn ask_store<S: Store, C: Clock>(fe: &mut Frontend<S, C>, args: &[&[u8]]) -> Option<Vec<u8>> {
    let mut buf = crate::CommandBuf::new();
    let mut answer = Vec::new();
    fe.store
        .exec(crate::INTERNAL_SESSION, buf.set(args), &mut answer)
        .ok()?;
    Some(answer)
}

/// `CONFIG GET pattern…`: the front end's parameters, then the store's
/// (which the store reports itself).
fn config_get<S: Store, C: Clock>(
    fe: &mut Frontend<S, C>,
    patterns: &[&[u8]],
    out: &mut Vec<u8>,
    resp3: bool,
) {
    let mut ask: Vec<&[u8]> = alloc::vec![b"CONFIG", b"GET"];
    ask.extend_from_slice(patterns);
    // The store's reply (in the front end's own session, RESP2) is an
    // array of name/value pairs: its count, then its elements after the
    // header line.
    let store = ask_store(fe, &ask).and_then(|reply| {
        let count = reply.strip_prefix(b"*")?;
        let end = count.iter().position(|&b| b == b'\r')?;
        let n = parse_i64(&count[..end]).and_then(|n| usize::try_from(n).ok())?;
        Some((n, reply[1 + end + 2..].to_vec()))
    });
    let own = fe.config.matching(patterns);
    let (store_count, store_body) = store.unwrap_or_default();
    reply::map(out, own.len() + store_count / 2, resp3);
    for (name, value) in own {
        reply::bulk(out, name.as_bytes());
        reply::bulk(out, value.as_bytes());
    }
    out.extend_from_slice(&store_body);
}

/// `CONFIG SET name value [name value …]`: the store's parameters go to
/// the store, which checks and sets them; the front end's are checked
/// first and set only if the store took its own, so that all or none
/// change.
fn config_set<S: Store, C: Clock>(fe: &mut Frontend<S, C>, pairs: &[&[u8]], out: &mut Vec<u8>) {
    let (mut own, mut theirs): (Vec<&[u8]>, Vec<&[u8]>) = (Vec::new(), Vec::new());
    for pair in pairs.chunks(2) {
        if pair.len() == 2 && !fe.config.knows(pair[0]) && kvs_core::config::is_store_param(pair[0])
        {
            theirs.extend_from_slice(pair);
        } else {
            own.extend_from_slice(pair);
        }
    }
    if let Err(e) = fe.config.check(&own) {
        return reply::error(out, &e.message());
    }
    if !theirs.is_empty() {
        let mut ask: Vec<&[u8]> = alloc::vec![b"CONFIG", b"SET"];
        ask.extend_from_slice(&theirs);
        match ask_store(fe, &ask) {
            Some(answer) if answer.starts_with(b"+") => {}
            Some(answer) => return out.extend_from_slice(&answer),
            None => {
                return reply::error(
                    out,
                    b"ERR the key-value store cannot be reached; nothing was set",
                );
            }
        }
    }
    match fe.config.set_all(&own) {
        Ok(()) => reply::ok(out),
        Err(e) => reply::error(out, &e.message()),
    }
}

/// `CLIENT ID|GETNAME|SETNAME|INFO|LIST|SETINFO|HELP …`.
fn client<S: Store, C: Clock>(
    s: &mut Session,
    fe: &mut Frontend<S, C>,
    container: &'static Spec,
    cmd: Command<'_>,
) {
    let out = &mut s.out;
    let sub_name = cmd.arg(1).unwrap_or_default();
    let Some(sub) = container.subcommand(sub_name) else {
        return reply::unknown_subcommand(out, sub_name, "CLIENT");
    };
    if !sub_arity_ok(sub, cmd.len(), out) {
        return;
    }
    if let Some(info) = fe.client_mut(s) {
        info.set_cmd(sub.name.as_bytes());
    }
    let now = fe.clock.now_us();
    let out = &mut s.out;
    let arg = |i: usize| cmd.arg(i).unwrap_or_default();
    match sub.name {
        "client|id" => reply::int(out, s.id as i64),
        "client|getname" => match fe.client_list().find(|c| c.id == s.id) {
            Some(info) if !info.name.is_empty() => reply::bulk(out, &info.name),
            _ => reply::null(out, s.resp3),
        },
        "client|setname" => {
            let name = arg(2);
            if !valid_name(name) {
                return reply::error(out, BAD_NAME);
            }
            if let Some(info) = fe.client_mut(s) {
                info.name = name.to_vec();
            }
            reply::ok(&mut s.out);
        }
        "client|setinfo" => {
            let (attr, value) = (arg(2), arg(3));
            let lib_name = attr.eq_ignore_ascii_case(b"lib-name");
            if !lib_name && !attr.eq_ignore_ascii_case(b"lib-ver") {
                let mut msg = b"ERR Unrecognized option '".to_vec();
                msg.extend_from_slice(attr);
                msg.push(b'\'');
                return reply::error(out, &msg);
            }
            if !valid_name(value) {
                let mut msg = attr.to_ascii_lowercase();
                msg.splice(0..0, b"ERR ".iter().copied());
                msg.extend_from_slice(b" cannot contain spaces, newlines or special characters.");
                return reply::error(out, &msg);
            }
            if let Some(info) = fe.client_mut(s) {
                if lib_name {
                    info.lib_name = value.to_vec();
                } else {
                    info.lib_ver = value.to_vec();
                }
            }
            reply::ok(&mut s.out);
        }
        "client|info" => {
            let mut line = String::new();
            if let Some(info) = fe.client_list().find(|c| c.id == s.id) {
                client_line(info, now, &mut line);
            }
            reply::verbatim(out, line.as_bytes(), s.resp3);
        }
        "client|list" => client_list(fe, &cmd, now, out, s.resp3),
        "client|unblock" => client_unblock(fe, &cmd, out),
        "client|pause" => client_pause(fe, &cmd, now, out),
        "client|unpause" => {
            fe.pause.stop();
            reply::ok(out);
        }
        "client|kill" => client_kill(s, fe, &cmd),
        "client|reply" => {
            let word = arg(2);
            s.reply = if word.eq_ignore_ascii_case(b"on") {
                reply::ok(out);
                Replies::On
            } else if word.eq_ignore_ascii_case(b"off") {
                Replies::Off
            } else if word.eq_ignore_ascii_case(b"skip") {
                Replies::Skip
            } else {
                return reply::syntax(out);
            };
        }
        "client|no-evict" => {
            let word = arg(2);
            let on = if word.eq_ignore_ascii_case(b"on") {
                true
            } else if word.eq_ignore_ascii_case(b"off") {
                false
            } else {
                return reply::syntax(out);
            };
            if let Some(info) = fe.client_mut(s) {
                info.no_evict = on;
            }
            reply::ok(&mut s.out);
        }
        "client|tracking" => client_tracking(s, fe, &cmd),
        "client|caching" => client_caching(s, fe, arg(2)),
        "client|getredir" => {
            let tracking = fe.client(s.id).and_then(|c| c.tracking.as_ref());
            reply::int(out, tracking.map_or(-1, |t| t.redirect as i64));
        }
        "client|trackinginfo" => {
            let tracking = fe.client(s.id).and_then(|c| c.tracking.as_ref());
            tracking::info(out, tracking, s.resp3);
        }
        _ => help(
            out,
            &[
                "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "GETNAME",
                "    Return the name of this connection.",
                "ID",
                "    Return the id of this connection.",
                "INFO",
                "    Describe this connection, as a line of CLIENT LIST.",
                "LIST [TYPE <type>] [ID <id> [<id> ...]]",
                "    Describe the open connections (type normal: all of them).",
                "SETINFO <LIB-NAME|LIB-VER> <value>",
                "    Record the client library's name or version.",
                "SETNAME <name>",
                "    Name this connection.",
                "UNBLOCK <clientid> [TIMEOUT|ERROR]",
                "    End the wait of a connection blocked in BLPOP or its kin.",
                "PAUSE <timeout> [WRITE|ALL]",
                "    Hold every command, or those that write, for <timeout> milliseconds.",
                "UNPAUSE",
                "    End the pause: the commands it held run.",
                "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
                "         [OPTIN] [OPTOUT] [NOLOOP]",
                "    Track the keys read (or, BCAST, every key under the prefixes) and",
                "    hear of their changes: client-side caching.",
                "CACHING (YES|NO)",
                "    Whether the next command's keys are tracked (OPTIN, OPTOUT).",
                "GETREDIR",
                "    Where the invalidations go: 0 here, -1 when not tracking.",
                "TRACKINGINFO",
                "    Describe this connection's tracking.",
                "HELP",
                "    Print this help.",
            ],
        ),
    }
}

/// `CLIENT UNBLOCK id [TIMEOUT|ERROR]`: 1 if connection `id` waited in a
/// blocking command (its reply then comes as a timeout's, or as the
/// UNBLOCKED error), 0 otherwise.
/// `CLIENT TRACKING on|off [REDIRECT id] [PREFIX p …] [BCAST] [OPTIN]
/// [OPTOUT] [NOLOOP]`: checked as Redis checks it, then set in the
/// store (which tracks the session's reads) and in the client list.
fn client_tracking<S: Store, C: Clock>(
    s: &mut Session,
    fe: &mut Frontend<S, C>,
    cmd: &Command<'_>,
) {
    let args: Vec<&[u8]> = cmd.args().skip(2).collect();
    let current = fe.client(s.id).and_then(|c| c.tracking.clone());
    let exists = |id: u64| fe.client(id).is_some();
    let request = match tracking::parse(&args, current.as_ref(), exists) {
        Ok(request) => request,
        Err(e) => return reply::error(&mut s.out, e.as_bytes()),
    };
    let next = match request {
        tracking::Request::Off => None,
        tracking::Request::On { redirect, mode, .. } => {
            Some(tracking::Tracking::enable(current.as_ref(), redirect, mode))
        }
    };
    if current.is_some() || next.is_some() {
        if stale(s, fe) {
            return;
        }
        s.used_store = true;
        if fe
            .store
            .track(s.id, next.as_ref().map(|t| &t.mode))
            .is_err()
        {
            return lost(s);
        }
    }
    fe.trackers = fe.trackers + usize::from(next.is_some()) - usize::from(current.is_some());
    if let Some(info) = fe.client_mut(s) {
        info.tracking = next;
    }
    reply::ok(&mut s.out);
}

/// `CLIENT CACHING yes|no`.
fn client_caching<S: Store, C: Clock>(s: &mut Session, fe: &mut Frontend<S, C>, word: &[u8]) {
    let Some(t) = fe.client(s.id).and_then(|c| c.tracking.as_ref()) else {
        return reply::error(
            &mut s.out,
            b"ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled",
        );
    };
    let yes = if word.eq_ignore_ascii_case(b"yes") {
        if !t.mode.optin {
            return reply::error(
                &mut s.out,
                b"ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.",
            );
        }
        true
    } else if word.eq_ignore_ascii_case(b"no") {
        if !t.mode.optout {
            return reply::error(
                &mut s.out,
                b"ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.",
            );
        }
        false
    } else {
        return reply::syntax(&mut s.out);
    };
    if fe.store.caching(s.id, Some(yes)).is_err() {
        return lost(s);
    }
    if let Some(t) = fe.client_mut(s).and_then(|c| c.tracking.as_mut()) {
        t.caching = true;
    }
    reply::ok(&mut s.out);
}

/// The kinds of client `CLIENT LIST TYPE` and `CLIENT KILL TYPE` name,
/// as Redis tells them: subscribed connections are `pubsub`, the others
/// `normal`; there are no replicas.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ClientType {
    Normal,
    Pubsub,
    Replica,
}

impl ClientType {
    /// The type named `word`, or Redis's error.
    fn parse(word: &[u8], out: &mut Vec<u8>) -> Option<ClientType> {
        Some(match word.to_ascii_lowercase().as_slice() {
            b"normal" => ClientType::Normal,
            b"pubsub" => ClientType::Pubsub,
            b"master" | b"replica" | b"slave" => ClientType::Replica,
            _ => {
                let mut msg = b"ERR Unknown client type '".to_vec();
                msg.extend_from_slice(word);
                msg.push(b'\'');
                reply::error(out, &msg);
                return None;
            }
        })
    }

    /// Whether connection `c` is of this type.
    fn of(self, c: &ClientInfo) -> bool {
        let subscribed = c.subs != (0, 0, 0);
        match self {
            ClientType::Normal => !subscribed,
            ClientType::Pubsub => subscribed,
            ClientType::Replica => false,
        }
    }
}

/// `CLIENT KILL ip:port`, or `CLIENT KILL [ID id] [TYPE type] [USER
/// name] [ADDR ip:port] [LADDR ip:port] [SKIPME yes|no]`: the
/// connections it names close (their pending replies dropped); this one
/// closes once it answered.
fn client_kill<S: Store, C: Clock>(s: &mut Session, fe: &mut Frontend<S, C>, cmd: &Command<'_>) {
    let args: Vec<&[u8]> = cmd.args().skip(2).collect();
    let out = &mut s.out;
    // What a connection must be to go.
    let mut id = None;
    let mut addr = None;
    let mut laddr = None;
    let mut kind = None;
    let mut skipme = true;
    let old = args.len() == 1;
    if old {
        addr = Some(args[0]);
    } else {
        if !args.len().is_multiple_of(2) {
            return reply::syntax(out);
        }
        for pair in args.chunks(2) {
            let (filter, value) = (pair[0], pair[1]);
            let is = |word: &[u8]| filter.eq_ignore_ascii_case(word);
            if is(b"id") {
                match parse_i64(value) {
                    Some(n) if n > 0 => id = Some(n as u64),
                    _ => return reply::error(out, b"ERR client-id should be greater than 0"),
                }
            } else if is(b"type") {
                let Some(k) = ClientType::parse(value, out) else {
                    return;
                };
                kind = Some(k);
            } else if is(b"user") {
                if value != b"default" {
                    let mut msg = b"ERR No such user '".to_vec();
                    msg.extend_from_slice(value);
                    msg.push(b'\'');
                    return reply::error(out, &msg);
                }
            } else if is(b"addr") {
                addr = Some(value);
            } else if is(b"laddr") {
                laddr = Some(value);
            } else if is(b"skipme") {
                skipme = if value.eq_ignore_ascii_case(b"yes") {
                    true
                } else if value.eq_ignore_ascii_case(b"no") {
                    false
                } else {
                    return reply::syntax(out);
                };
            } else {
                return reply::syntax(out);
            }
        }
    }
    let me = s.id;
    let targets: Vec<u64> = fe
        .client_list()
        .filter(|c| kind.is_none_or(|k| k.of(c)))
        .filter(|c| id.is_none_or(|id| c.id == id))
        .filter(|c| addr.is_none_or(|a| c.addr.as_bytes() == a))
        .filter(|c| laddr.is_none_or(|a| c.laddr.as_bytes() == a))
        .filter(|c| !(skipme && !old && c.id == me))
        .map(|c| c.id)
        .collect();
    for &target in &targets {
        if target == me {
            s.closing = true;
        } else {
            fe.killed.insert(target);
        }
    }
    match old {
        true if targets.is_empty() => reply::error(&mut s.out, b"ERR No such client"),
        true => reply::ok(&mut s.out),
        false => reply::int(&mut s.out, targets.len() as i64),
    }
}

fn client_unblock<S: Store, C: Clock>(
    fe: &mut Frontend<S, C>,
    cmd: &Command<'_>,
    out: &mut Vec<u8>,
) {
    if cmd.len() > 4 {
        return reply::error(
            out,
            b"ERR unknown subcommand or wrong number of arguments for 'unblock'. Try CLIENT HELP.",
        );
    }
    let Some(id) = cmd.arg(2).and_then(kvs_core::num::parse_i64) else {
        return reply::error(out, b"ERR value is not an integer or out of range");
    };
    let error = match cmd.arg(3) {
        None => false,
        Some(w) if w.eq_ignore_ascii_case(b"timeout") => false,
        Some(w) if w.eq_ignore_ascii_case(b"error") => true,
        Some(_) => {
            return reply::error(out, b"ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
        }
    };
    let unblocked = u64::try_from(id).is_ok_and(|id| {
        fe.blocked.contains_key(&id) && fe.store.unblock(id, error).unwrap_or(false)
    });
    reply::int(out, i64::from(unblocked));
}

/// `CLIENT LIST [TYPE type] [ID id …]`.
fn client_list<S: Store, C: Clock>(
    fe: &Frontend<S, C>,
    cmd: &Command<'_>,
    now: u64,
    out: &mut Vec<u8>,
    resp3: bool,
) {
    let args: Vec<&[u8]> = cmd.args().skip(2).collect();
    let mut ids: Option<Vec<u64>> = None;
    let mut kind = None;
    let mut i = 0;
    while i < args.len() {
        if args[i].eq_ignore_ascii_case(b"TYPE") && i + 1 < args.len() {
            let Some(k) = ClientType::parse(args[i + 1], out) else {
                return;
            };
            kind = Some(k);
            i += 2;
        } else if args[i].eq_ignore_ascii_case(b"ID") && i + 1 < args.len() {
            let mut list = Vec::new();
            for id in &args[i + 1..] {
                match parse_i64(id)
                    .and_then(|n| u64::try_from(n).ok())
                    .filter(|&n| n > 0)
                {
                    Some(n) => list.push(n),
                    None => return reply::error(out, b"ERR Invalid client ID"),
                }
            }
            ids = Some(list);
            i = args.len();
        } else {
            return reply::syntax(out);
        }
    }
    let mut clients: Vec<&ClientInfo> = fe
        .client_list()
        .filter(|c| kind.is_none_or(|k| k.of(c)))
        .filter(|c| ids.as_ref().is_none_or(|ids| ids.contains(&c.id)))
        .collect();
    clients.sort_by_key(|c| c.id);
    let mut text = String::new();
    for info in clients {
        client_line(info, now, &mut text);
    }
    reply::verbatim(out, text.as_bytes(), resp3);
}

/// One line of CLIENT LIST: Redis's fields that Basalt can tell.
fn client_line(c: &ClientInfo, now: u64, line: &mut String) {
    let name = String::from_utf8_lossy(&c.name);
    let cmd = String::from_utf8_lossy(&c.cmd[..c.cmd_len]);
    let (sub, psub, ssub) = c.subs;
    let subscribed = sub + psub + ssub > 0;
    let tracking = c.tracking.as_ref();
    let mut flags: String = [
        (c.monitor, 'O'),
        (subscribed, 'P'),
        (c.multi.is_some(), 'x'),
        (c.blocked, 'b'),
        (tracking.is_some(), 't'),
        (tracking.is_some_and(|t| t.broken), 'R'),
        (tracking.is_some_and(|t| t.mode.bcast), 'B'),
        (c.no_evict, 'e'),
    ]
    .into_iter()
    .filter_map(|(on, flag)| on.then_some(flag))
    .collect();
    if flags.is_empty() {
        flags.push('N');
    }
    let multi = c.multi.map_or(-1, |n| n as i64);
    let redirect = tracking.map_or(-1, |t| t.redirect as i64);
    // Writing to a String cannot fail.
    let _ = write!(
        line,
        "id={} addr={} laddr={} name={} age={} idle={} flags={} db={} sub={sub} psub={psub} \
         ssub={ssub} multi={} qbuf={} omem={} cmd={} user=default redir={redirect} resp={}",
        c.id,
        c.addr,
        c.laddr,
        name,
        now.saturating_sub(c.created_us) / 1_000_000,
        now.saturating_sub(c.last_us) / 1_000_000,
        flags,
        c.db,
        multi,
        c.qbuf,
        c.omem,
        cmd,
        if c.resp3 { 3 } else { 2 },
    );
    if !c.lib_name.is_empty() || !c.lib_ver.is_empty() {
        let _ = write!(
            line,
            " lib-name={} lib-ver={}",
            String::from_utf8_lossy(&c.lib_name),
            String::from_utf8_lossy(&c.lib_ver)
        );
    }
    line.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_commands_are_in_the_table() {
        // The front end's own rows, and the store's rows it answers too
        // outside MULTI (the table's documentation says which).
        let answered = table::OWN
            .iter()
            .map(|spec| spec.name)
            .chain(["config", "echo", "ping"]);
        for name in answered {
            assert!(own(name.as_bytes()).is_some(), "{name}");
            assert!(
                own(name.to_ascii_uppercase().as_bytes()).is_some(),
                "{name}"
            );
            assert!(table::lookup(name.as_bytes()).is_some(), "{name}");
        }
        assert_eq!(own(b"get"), None);
        assert_eq!(own(b"pingpong"), None);
        assert_eq!(own(b"unsubscribesx"), None);
        assert_eq!(tracked(b"Multi"), Some(Tracked::Multi));
        assert_eq!(tracked(b"selects"), None);
    }

    #[test]
    fn names_and_auth() {
        assert!(valid_name(b"worker-1"));
        assert!(valid_name(b""));
        assert!(!valid_name(b"a b"));
        assert!(!valid_name(b"a\x01"));
        assert!(!valid_name("é".as_bytes()));
        assert_eq!(authenticate(&[b"default", b"x"]), Ok(()));
        assert!(authenticate(&[b"x"]).is_err());
        assert_eq!(
            authenticate(&[b"bob", b"x"]),
            Err(&b"WRONGPASS invalid username-password pair or user is disabled."[..])
        );
        assert_eq!(
            authenticate(&[b"a", b"b", b"c"]),
            Err(&b"ERR syntax error"[..])
        );
    }
}

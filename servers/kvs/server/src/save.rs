//! `SAVE`, `BGSAVE`, `BGREWRITEAOF` and `LASTSAVE`. The store has no
//! snapshots: its log is its persistence (docs/kvs.md, Persistence), and
//! saving is compacting the log, so that it holds the data set and no
//! more: SAVE at once, BGSAVE and BGREWRITEAOF in the background, a few
//! keys with each change as the log's own compactions go. LASTSAVE is
//! when one last finished (the server's start before any). The server
//! answers them before the store sees them, outside MULTI; inside, the
//! store refuses SAVE as it is queued (Redis's `no_multi`), and queues the
//! others, which EXEC answers each with an error.

use crate::persist::{Persistence, SectorDevice, misconf};
use alloc::boxed::Box;
use kvs_core::{Reply, Store};

/// One of the commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LogCommand {
    Save,
    BgSave { schedule: bool },
    BgRewriteAof,
    LastSave,
}

/// The command `args` is, if one of these; `Err` with the error reply for
/// a wrong arity or option.
pub(crate) fn parse(args: &[&[u8]]) -> Option<Result<LogCommand, Reply>> {
    let name = args.first()?;
    let is = |word: &str| name.eq_ignore_ascii_case(word.as_bytes());
    let (save, arity_ok) = if is("save") {
        (LogCommand::Save, args.len() == 1)
    } else if is("bgsave") {
        let schedule = args.get(1).map(|a| a.eq_ignore_ascii_case(b"schedule"));
        if schedule == Some(false) {
            return Some(Err(Reply::error(kvs_core::SYNTAX)));
        }
        let schedule = schedule.unwrap_or(false);
        (LogCommand::BgSave { schedule }, args.len() <= 2)
    } else if is("bgrewriteaof") {
        (LogCommand::BgRewriteAof, args.len() == 1)
    } else if is("lastsave") {
        (LogCommand::LastSave, args.len() == 1)
    } else {
        return None;
    };
    if !arity_ok {
        let lower = alloc::string::String::from_utf8_lossy(name).to_ascii_lowercase();
        return Some(Err(Reply::arity(&lower)));
    }
    Some(Ok(save))
}

/// Answers `save`: on `persistence` (none without a disk), with the time
/// `now_ms`; `started_ms` is the server's start (LASTSAVE before any).
pub(crate) fn reply(
    save: LogCommand,
    persistence: Option<&mut Persistence<Box<dyn SectorDevice>>>,
    store: &Store,
    now_ms: u64,
    started_ms: u64,
) -> Reply {
    let Some(p) = persistence else {
        return match save {
            LogCommand::LastSave => Reply::Integer((started_ms / 1000) as i64),
            _ => Reply::error(
                "ERR the store keeps no log (it has no disk): there is nothing to save to",
            ),
        };
    };
    match save {
        LogCommand::LastSave => {
            Reply::Integer((p.last_compacted_ms().unwrap_or(started_ms) / 1000) as i64)
        }
        LogCommand::Save => match p.compact_now(store, now_ms) {
            Ok(()) => Reply::ok(),
            Err(e) => misconf(e),
        },
        LogCommand::BgSave { schedule } => match p.compact_in_background(store) {
            true => Reply::simple("Background saving started"),
            false if schedule => Reply::simple("Background saving scheduled"),
            false => Reply::error("ERR Background save already in progress"),
        },
        LogCommand::BgRewriteAof => match p.compact_in_background(store) {
            true => Reply::simple("Background append only file rewriting started"),
            false => Reply::error("ERR Background append only file rewriting already in progress"),
        },
    }
}

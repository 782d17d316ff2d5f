//! `DEBUG`: the one subcommand Basalt has, `DEBUG SEGFAULT` (the server
//! faults on purpose, to test its supervision), refused as Redis 7.0
//! refuses it unless the component enables it (argument
//! `enable-debug-command = "yes"`). The server answers it before the
//! store sees it.

use alloc::string::String;
use alloc::vec::Vec;
use kvs_core::Reply;

/// Redis's refusal while `enable-debug-command` is off.
pub const NOT_ALLOWED: &str = "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.";

/// Whether `args` is a `DEBUG` command.
pub(crate) fn is_debug(args: &[&[u8]]) -> bool {
    args.first()
        .is_some_and(|n| n.eq_ignore_ascii_case(b"DEBUG"))
}

/// Whether `args` (a `DEBUG` command) faults the server.
pub(crate) fn faults(args: &[&[u8]]) -> bool {
    args.get(1)
        .is_some_and(|sub| sub.eq_ignore_ascii_case(b"SEGFAULT"))
}

/// Answers `DEBUG …` into `reply`; `crash` (when the component enables the
/// command) is how the server faults for `DEBUG SEGFAULT`.
pub(crate) fn reply(args: &[&[u8]], crash: Option<fn() -> !>, reply: &mut Vec<u8>) {
    let Some(crash) = crash else {
        return Reply::error(NOT_ALLOWED).encode_resp2(reply);
    };
    let answer = match args.get(1) {
        None => Reply::arity("debug"),
        Some(sub) if sub.eq_ignore_ascii_case(b"SEGFAULT") => crash(),
        Some(sub) if sub.eq_ignore_ascii_case(b"HELP") => Reply::array(
            [
                "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "SEGFAULT",
                "    Fault the key-value store on purpose (init restarts it by its policy).",
                "HELP",
                "    Print this help.",
            ]
            .into_iter()
            .map(Reply::simple)
            .collect(),
        ),
        Some(sub) => {
            let mut msg = String::from("ERR unknown subcommand '");
            msg.push_str(&String::from_utf8_lossy(&sub[..sub.len().min(128)]));
            msg.push_str("'. Try DEBUG HELP.");
            Reply::Error(msg)
        }
    };
    answer.encode_resp2(reply);
}

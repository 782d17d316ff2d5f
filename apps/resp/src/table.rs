//! The command table `COMMAND` reports: every command Basalt answers, the
//! front end's own (here) and the store's (kvs-core's table, of the same
//! row type), with Redis's arity, flags, key positions, group and the
//! version that introduced it, a summary, and its syntax (from which
//! `COMMAND DOCS` builds the argument descriptions redis-cli turns into
//! hints; see [`crate::docs`]). PING, ECHO and CONFIG are the store's rows
//! though the front end answers them too: the store runs them inside
//! MULTI, and its CONFIG holds its own parameters.

use kvs_core::command::{COMMANDS, Spec};

/// The front end's own rows (in kvs-core, beside the store's, so that the
/// store knows them too).
pub(crate) use kvs_core::command::FRONT_END as OWN;

/// Every command, the front end's and the store's, sorted by name.
pub(crate) fn all() -> impl Iterator<Item = &'static Spec> {
    let mut own = OWN.iter().peekable();
    let mut store = COMMANDS.iter().peekable();
    core::iter::from_fn(move || match (own.peek(), store.peek()) {
        (Some(a), Some(b)) if a.name > b.name => store.next(),
        (Some(_), _) => own.next(),
        (None, _) => store.next(),
    })
}

/// The number of commands (subcommands not counted, as in Redis).
pub(crate) fn count() -> usize {
    OWN.len() + COMMANDS.len()
}

/// The command called `name` (case-insensitive; `container|sub` names a
/// subcommand).
pub(crate) fn lookup(name: &[u8]) -> Option<&'static Spec> {
    kvs_core::command::row(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use kvs_core::command::{Begin, Find, Flag};

    #[test]
    fn table_is_sorted_and_unique() {
        let all: Vec<&Spec> = all().collect();
        assert_eq!(all.len(), count());
        for w in all.windows(2) {
            assert!(w[0].name < w[1].name, "{} >= {}", w[0].name, w[1].name);
        }
        for spec in all {
            assert_eq!(
                lookup(spec.name.as_bytes()).map(|s| s.name),
                Some(spec.name)
            );
        }
        for spec in OWN {
            assert_eq!(spec.name, spec.name.to_ascii_lowercase());
            assert!(
                spec.run.is_none(),
                "{}: the store does not run it",
                spec.name
            );
            for sub in spec.subcommands {
                assert!(sub.name.starts_with(spec.name), "{}", sub.name);
                assert_eq!(sub.name.as_bytes()[spec.name.len()], b'|');
            }
            for w in spec.subcommands.windows(2) {
                assert!(w[0].name < w[1].name);
            }
        }
    }

    /// Redis's first key, last key and step as the key specs give them
    /// (shard channels included, as in Redis), and whether some keys only
    /// the arguments locate: the specs that find keys at fixed positions,
    /// which must follow one another.
    fn range_of(spec: &Spec) -> (i32, i32, i32, bool) {
        let keys = spec.key_specs;
        let movable = keys.iter().any(|k| !k.is_range());
        let mut range = (0, 0, 0);
        for k in keys.iter().filter(|k| k.is_range()) {
            let (Begin::Index { at }, Find::Range { last, step, .. }) = (k.begin, k.find) else {
                unreachable!("a range");
            };
            let end = if last < 0 { last } else { at + last };
            if range.0 == 0 {
                range = (at, end, step);
            } else {
                assert!(
                    range.1 >= 0 && range.1 + 1 == at && range.2 == 1 && step == 1,
                    "{}: key specs that leave gaps",
                    spec.name
                );
                range.1 = end;
            }
        }
        (range.0, range.1, range.2, movable)
    }

    #[test]
    fn key_specs_agree_with_the_key_finder() {
        let rows = all().flat_map(|s| core::iter::once(s).chain(s.subcommands));
        for spec in rows {
            let k = spec.keys;
            assert_eq!(
                range_of(spec),
                (k.first, k.last, k.step, k.is_movable()),
                "{}",
                spec.name
            );
        }
    }

    #[test]
    fn lookups() {
        assert_eq!(lookup(b"GeT").map(|s| s.name), Some("get"));
        assert_eq!(lookup(b"Hello").map(|s| s.name), Some("hello"));
        assert_eq!(lookup(b"client|LIST").map(|s| s.name), Some("client|list"));
        assert_eq!(lookup(b"config|Set").map(|s| s.name), Some("config|set"));
        assert!(lookup(b"client|nope").is_none());
        assert!(lookup(b"get|x").is_none());
        assert!(lookup(b"nope").is_none());
        assert!(lookup(&[b'a'; 40]).is_none());
        let client = lookup(b"client").unwrap();
        assert_eq!(
            client.subcommand(b"SetName").map(|s| s.name),
            Some("client|setname")
        );
        assert!(client.subcommand(b"nope").is_none());
    }

    #[test]
    fn arity() {
        let get = lookup(b"get").unwrap();
        assert!(get.arity_ok(2) && !get.arity_ok(1) && !get.arity_ok(3));
        let del = lookup(b"del").unwrap();
        assert!(del.arity_ok(2) && del.arity_ok(9) && !del.arity_ok(1));
        assert!(lookup(b"set").unwrap().has(Flag::Write));
        assert!(!lookup(b"get").unwrap().has(Flag::Write));
    }
}

//! `COMMAND INFO` of every command Basalt has, against a real Redis 7.0's,
//! byte for byte in RESP2 and RESP3: arity, flags, key range, ACL
//! categories, tips, key specs and subcommands; and `COMMAND GETKEYS` and
//! `COMMAND GETKEYSANDFLAGS` of commands that find their keys every way
//! there is (ranges, counts, keywords, SORT's and GEORADIUS's options,
//! flags that depend on the arguments) and of wrong ones.
//!
//! The differences docs/resp.md documents are allowed for: Redis's notes
//! on key specs (its prose) are taken out of its replies; Redis lists a
//! container's subcommands in its hash table's order, so they are compared
//! one by one by name; two things Redis 7.2 added are kept (CLIENT SETINFO,
//! and ZRANK's and ZREVRANK's WITHSCORE, which changes their arity); and
//! the subcommands Basalt lacks are listed, so that the list stays true.

mod common;

use common::redis::{Remote, multibulk, reply_len, server};
use common::{Fe, connect, drive, frontend, read_all};
use std::collections::BTreeMap;

/// Subcommands Basalt has that Redis 7.0 does not.
const NEWER: &[&str] = &["client|setinfo"];

/// Commands whose arity Redis 7.2 changed, as Basalt has it.
const NEWER_ARITY: &[&str] = &["zrank", "zrevrank"];

/// Subcommands Basalt does not have (docs/resp.md says why).
const MISSING: &[&str] = &[];

/// The elements of the aggregate at the start of `b` (a map's keys and
/// values in turn).
fn elements(b: &[u8]) -> Vec<&[u8]> {
    let line_end = b.windows(2).position(|w| w == b"\r\n").expect("a line");
    let n: usize = std::str::from_utf8(&b[1..line_end])
        .unwrap()
        .parse()
        .unwrap();
    let n = if b[0] == b'%' { 2 * n } else { n };
    let mut at = line_end + 2;
    (0..n)
        .map(|_| {
            let len = reply_len(&b[at..]).expect("a whole reply");
            at += len;
            &b[at - len..at]
        })
        .collect()
}

/// `b` without Redis's `notes` pairs (in a key spec's map, or its flat
/// RESP2 form).
fn without_notes(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < b.len() {
        let rest = &b[at..];
        let notes = [
            b"%4\r\n$5\r\nnotes\r\n".as_slice(),
            b"*8\r\n$5\r\nnotes\r\n",
        ]
        .into_iter()
        .find(|head| rest.starts_with(head));
        match notes {
            Some(head) => {
                out.extend_from_slice(if head[0] == b'%' {
                    b"%3\r\n"
                } else {
                    b"*6\r\n"
                });
                at += head.len();
                at += reply_len(&b[at..]).expect("the note");
            }
            None => {
                out.push(b[at]);
                at += 1;
            }
        }
    }
    out
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).replace("\r\n", " ")
}

/// The name in a COMMAND INFO entry.
fn name_of(entry: &[u8]) -> String {
    let name = elements(entry)[0];
    let start = name.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
    String::from_utf8(name[start..name.len() - 2].to_vec()).unwrap()
}

/// The differences between two COMMAND INFO entries.
fn compare(ours: &[u8], theirs: &[u8], diffs: &mut Vec<String>) {
    const FIELDS: [&str; 9] = [
        "name",
        "arity",
        "flags",
        "first key",
        "last key",
        "step",
        "ACL categories",
        "tips",
        "key specs",
    ];
    let (o, t) = (elements(ours), elements(theirs));
    let name = name_of(ours);
    for (i, field) in FIELDS.iter().enumerate() {
        if o[i] != t[i] && !(i == 1 && NEWER_ARITY.contains(&name.as_str())) {
            diffs.push(format!(
                "{name} {field}: Basalt {}, Redis {}",
                text(o[i]),
                text(t[i])
            ));
        }
    }
    let subs = |b: &[u8]| -> BTreeMap<String, Vec<u8>> {
        elements(b)
            .into_iter()
            .map(|e| (name_of(e), e.to_vec()))
            .collect()
    };
    let (mine, redis) = (subs(o[9]), subs(t[9]));
    for (sub, entry) in &mine {
        match redis.get(sub) {
            Some(theirs) => compare(entry, theirs, diffs),
            None if NEWER.contains(&sub.as_str()) => {}
            None => diffs.push(format!("{sub}: Redis 7.0 has no such subcommand")),
        }
    }
    for sub in redis.keys().filter(|s| !mine.contains_key(*s)) {
        if !MISSING.contains(&sub.as_str()) {
            diffs.push(format!("{name}: Basalt lacks {sub}"));
        }
    }
    for sub in mine.keys().filter(|s| MISSING.contains(&s.as_str())) {
        diffs.push(format!("{sub} is listed as missing but Basalt has it"));
    }
}

/// Both sides speak RESP `protocol` from now on.
fn hello(c: &mut resp::Connection, fe: &mut Fe, redis: &mut Remote, protocol: &str) {
    let hello = multibulk(&["HELLO", protocol]);
    drive(c, fe, &hello);
    redis.send(&[hello.as_slice(), &multibulk(&["PING", "hello"])].concat());
    redis.until(b"hello");
}

/// Fails with every difference found.
fn no_differences(diffs: &[String]) {
    assert!(
        diffs.is_empty(),
        "{} differences:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

#[test]
fn command_info_is_redis_7_0s() {
    let Some(addr) = server("command_diff") else {
        return;
    };
    let (mut fe, _) = frontend();
    let mut c = connect(&mut fe);
    let list = read_all(&drive(&mut c, &mut fe, &multibulk(&["COMMAND", "LIST"])).0);
    let names: Vec<String> = list[0]
        .items()
        .iter()
        .map(|v| v.text())
        .filter(|n| !n.contains('|'))
        .collect();
    assert!(names.len() > 200, "COMMAND LIST: {names:?}");
    let mut redis = Remote::connect(addr);
    let mut diffs = Vec::new();
    for protocol in ["2", "3"] {
        hello(&mut c, &mut fe, &mut redis, protocol);
        for name in &names {
            let request = multibulk(&["COMMAND", "INFO", name]);
            let ours = drive(&mut c, &mut fe, &request).0;
            redis.send(&[request.as_slice(), &multibulk(&["PING", "m"])].concat());
            let theirs = without_notes(&redis.until(b"m"));
            let (o, t) = (elements(&ours)[0], elements(&theirs)[0]);
            if t.starts_with(b"*-1") || t.starts_with(b"_") {
                diffs.push(format!("{name}: Redis 7.0 has no such command"));
                continue;
            }
            compare(o, t, &mut diffs);
        }
    }
    no_differences(&diffs);
}

/// Whole commands whose keys COMMAND GETKEYS and GETKEYSANDFLAGS find.
const WHOLE: &[&str] = &[
    "get k",
    "set k v",
    "set k v get",
    "set k v nx GeT",
    "set k get",
    "append k v",
    "getex k",
    "getdel k",
    "incr k",
    "mset a 1 b 2",
    "del a b",
    "rename a b",
    "copy a b",
    "lmove a b left right",
    "smove a b m",
    "blmpop 0 2 a b left",
    "blmpop 0 3 a b left",
    "zmpop 1 a min",
    "sintercard 2 a b",
    "zunionstore d 2 a b",
    "zunionstore d 0 a",
    "zunionstore d x a",
    "zrangestore d s 0 1",
    "bitop and d a b",
    "bitfield k get u8 0",
    "bitfield k set u8 0 1",
    "bitfield k incrby u8 0 1",
    "bitfield_ro k get u8 0",
    "sort k",
    "sort k store d",
    "sort k by w_* get o_* store d",
    "sort k store",
    "sort_ro k",
    "georadius k 0 0 1 km store d storedist e",
    "georadius k 0 0 1 km store",
    "georadiusbymember k m 1 km storedist e",
    "geosearchstore d s frommember m byradius 1 km",
    "xread count 1 streams a b 0 0",
    "xread streams a",
    "xreadgroup group g c streams a 0",
    "xgroup create k g $",
    "object encoding k",
    "memory usage k",
    "pfcount a b",
    "pfmerge d a b",
    "restore k 0 x",
    "lcs a b",
    "hset h f v",
    "blpop a b 0",
    "spublish ch m",
    "ssubscribe a b",
    "publish ch m",
    "ping",
    "get",
    "get k x",
    "lmove a",
    "nosuch k",
    "client list",
];

#[test]
fn getkeys_are_redis_7_0s() {
    let Some(addr) = server("command_diff") else {
        return;
    };
    let (mut fe, _) = frontend();
    let mut c = connect(&mut fe);
    let mut redis = Remote::connect(addr);
    let mut diffs = Vec::new();
    for protocol in ["2", "3"] {
        hello(&mut c, &mut fe, &mut redis, protocol);
        for line in WHOLE {
            for sub in ["GETKEYS", "GETKEYSANDFLAGS"] {
                let mut args = vec!["COMMAND", sub];
                args.extend(line.split(' '));
                let request = multibulk(&args);
                let ours = drive(&mut c, &mut fe, &request).0;
                redis.send(&[request.as_slice(), &multibulk(&["PING", "m"])].concat());
                let theirs = redis.until(b"m");
                if ours != theirs {
                    diffs.push(format!(
                        "RESP{protocol} COMMAND {sub} {line}: Basalt {}, Redis {}",
                        text(&ours),
                        text(&theirs)
                    ));
                }
            }
        }
    }
    no_differences(&diffs);
}

/// The notes are taken out whole, in both protocols, and nothing else.
#[test]
fn notes_are_cut_out() {
    let resp3 = b"%4\r\n$5\r\nnotes\r\n$3\r\nabc\r\n$5\r\nflags\r\n~0\r\n";
    assert_eq!(without_notes(resp3), b"%3\r\n$5\r\nflags\r\n~0\r\n");
    let resp2 = b"*8\r\n$5\r\nnotes\r\n$2\r\nxy\r\n$5\r\nflags\r\n*0\r\n";
    assert_eq!(without_notes(resp2), b"*6\r\n$5\r\nflags\r\n*0\r\n");
    assert_eq!(
        without_notes(b"*2\r\n$5\r\nnotes\r\n"),
        b"*2\r\n$5\r\nnotes\r\n"
    );
}

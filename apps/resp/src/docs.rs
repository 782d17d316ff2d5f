//! `COMMAND INFO` and `COMMAND DOCS` replies, built from the command
//! table.
//!
//! A command's arguments are written in a small notation, close to the
//! usage lines of Redis's documentation:
//!
//! - `name` an argument (type `key` if the name is `key`, `pattern` if it
//!   is `pattern`, else `string`); `name:type` gives the type (`key`,
//!   `integer`, `double`, `unix-time`, …);
//! - an upper-case word is a token; followed by an argument or a group, it
//!   introduces it (`EX seconds:integer`), else it stands alone (`NX`);
//! - `[…]` is optional, `(…)` groups, `a|b` inside either chooses one,
//!   `…...` repeats; `name=(…)` names a group (`=` alone is a token).
//!
//! `COMMAND DOCS` describes each argument as redis-cli 7 expects: name,
//! type, token and flags (`optional`, `multiple`) as simple strings, and
//! nested `arguments` for `oneof` and `block`. redis-cli prints them back
//! as the hint after the command name.

use crate::reply;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use kvs_core::command::{Begin, Find, Flag, KeySpec, Spec};

/// What kind of argument.
#[derive(Debug, PartialEq)]
enum Kind {
    /// A plain value of this type (`key`, `string`, `integer`, …).
    Value(&'static str),
    /// A token alone.
    PureToken,
    /// One of the alternatives.
    OneOf(Vec<Arg>),
    /// All of these, in order.
    Block(Vec<Arg>),
}

/// One argument in `COMMAND DOCS`.
#[derive(Debug, PartialEq)]
struct Arg {
    name: String,
    kind: Kind,
    token: Option<&'static str>,
    optional: bool,
    multiple: bool,
}

/// A syntax string that does not follow the notation (a table bug; the
/// tests parse every one).
#[derive(Debug, PartialEq)]
struct BadSyntax;

/// One parsed item of a sequence, before tokens attach to what follows.
enum Item {
    Token(&'static str),
    Arg(Arg),
}

/// Parses a syntax string into its arguments.
fn parse(syntax: &'static str) -> Result<Vec<Arg>, BadSyntax> {
    let mut p = Cursor { s: syntax, at: 0 };
    let alternatives = p.alternatives()?;
    if p.at != syntax.len() || alternatives.len() != 1 {
        return Err(BadSyntax);
    }
    let mut alternatives = alternatives;
    Ok(alternatives.pop().unwrap_or_default())
}

struct Cursor {
    s: &'static str,
    at: usize,
}

impl Cursor {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.at).copied()
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.at += 1;
        }
    }

    /// Sequences separated by `|`, up to a closing bracket or the end.
    fn alternatives(&mut self) -> Result<Vec<Vec<Arg>>, BadSyntax> {
        let mut alternatives = Vec::new();
        loop {
            alternatives.push(self.sequence()?);
            if self.peek() == Some(b'|') {
                self.at += 1;
            } else {
                return Ok(alternatives);
            }
        }
    }

    /// Items up to `|`, a closing bracket or the end, tokens attached.
    fn sequence(&mut self) -> Result<Vec<Arg>, BadSyntax> {
        let mut items = Vec::new();
        loop {
            self.skip_spaces();
            match self.peek() {
                None | Some(b'|' | b']' | b')') => break,
                _ => items.push(self.item()?),
            }
        }
        let mut args = Vec::new();
        let mut pending: Option<&'static str> = None;
        for item in items {
            match item {
                Item::Token(t) => {
                    if let Some(alone) = pending.replace(t) {
                        args.push(pure_token(alone));
                    }
                }
                Item::Arg(mut arg) => {
                    // A group that starts with its own token keeps it.
                    if let Some(t) = pending.take() {
                        if arg.token.is_some() {
                            args.push(pure_token(t));
                        } else {
                            arg.token = Some(t);
                        }
                    }
                    args.push(arg);
                }
            }
        }
        if let Some(alone) = pending {
            args.push(pure_token(alone));
        }
        Ok(args)
    }

    /// One word or group, with its `name=` and `...`.
    fn item(&mut self) -> Result<Item, BadSyntax> {
        let start = self.at;
        while let Some(c) = self.peek() {
            // `=` names a group after a word; at a word's start it is the
            // token `=` (XADD's `MAXLEN = n`).
            let naming = c == b'=' && self.at > start;
            if matches!(c, b' ' | b'|' | b'[' | b']' | b'(' | b')')
                || naming
                || self.s[self.at..].starts_with("...")
            {
                break;
            }
            self.at += 1;
        }
        let word = &self.s[start..self.at];
        let mut item = match self.peek() {
            Some(b'=') if !word.is_empty() => {
                self.at += 1;
                let mut arg = self.group()?;
                arg.name = word.to_string();
                Item::Arg(arg)
            }
            Some(b'[' | b'(') if word.is_empty() => Item::Arg(self.group()?),
            _ if word.is_empty() => return Err(BadSyntax),
            _ => word_item(word)?,
        };
        if self.s[self.at..].starts_with("...") {
            self.at += 3;
            match &mut item {
                Item::Arg(arg) => arg.multiple = true,
                Item::Token(_) => return Err(BadSyntax),
            }
        }
        Ok(item)
    }

    /// `[…]` or `(…)`.
    fn group(&mut self) -> Result<Arg, BadSyntax> {
        let (optional, close) = match self.peek() {
            Some(b'[') => (true, b']'),
            Some(b'(') => (false, b')'),
            _ => return Err(BadSyntax),
        };
        self.at += 1;
        let mut alternatives = self.alternatives()?;
        if self.peek() != Some(close) {
            return Err(BadSyntax);
        }
        self.at += 1;
        let mut arg = if alternatives.len() == 1 {
            let args = alternatives.pop().unwrap_or_default();
            one_or_block(args)?
        } else {
            let choices = alternatives
                .into_iter()
                .map(one_or_block)
                .collect::<Result<Vec<_>, _>>()?;
            Arg {
                name: choices.first().map(|a| a.name.clone()).unwrap_or_default(),
                kind: Kind::OneOf(choices),
                token: None,
                optional: false,
                multiple: false,
            }
        };
        arg.optional |= optional;
        Ok(arg)
    }
}

/// A token alone, named by its lower-case spelling (as Redis does).
fn pure_token(token: &'static str) -> Arg {
    Arg {
        name: token.to_ascii_lowercase(),
        kind: Kind::PureToken,
        token: Some(token),
        optional: false,
        multiple: false,
    }
}

/// A single argument as it is, several as a block named by the first.
fn one_or_block(mut args: Vec<Arg>) -> Result<Arg, BadSyntax> {
    match args.len() {
        0 => Err(BadSyntax),
        1 => args.pop().ok_or(BadSyntax),
        _ => Ok(Arg {
            name: args[0].name.clone(),
            kind: Kind::Block(args),
            token: None,
            optional: false,
            multiple: false,
        }),
    }
}

/// A word: a token if it has no lower-case letter, else `name[:type]`.
fn word_item(word: &'static str) -> Result<Item, BadSyntax> {
    if !word.bytes().any(|b| b.is_ascii_lowercase()) {
        return Ok(Item::Token(word));
    }
    let (name, kind) = match word.split_once(':') {
        Some((name, ty)) => {
            let ty = ["key", "string", "integer", "double", "pattern", "unix-time"]
                .into_iter()
                .find(|t| *t == ty)
                .ok_or(BadSyntax)?;
            (name, ty)
        }
        None if word == "key" => (word, "key"),
        None if word == "pattern" => (word, "pattern"),
        None => (word, "string"),
    };
    Ok(Item::Arg(Arg {
        name: name.to_string(),
        kind: Kind::Value(kind),
        token: None,
        optional: false,
        multiple: false,
    }))
}

/// Appends one argument's description (a map; flat in RESP2).
fn write_arg(arg: &Arg, out: &mut Vec<u8>, resp3: bool) {
    let flags: Vec<&str> = [(arg.optional, "optional"), (arg.multiple, "multiple")]
        .into_iter()
        .filter_map(|(on, f)| on.then_some(f))
        .collect();
    let children = match &arg.kind {
        Kind::OneOf(args) | Kind::Block(args) => Some(args),
        _ => None,
    };
    let pairs = 2
        + usize::from(arg.token.is_some())
        + usize::from(!flags.is_empty())
        + usize::from(children.is_some());
    reply::map(out, pairs, resp3);
    reply::bulk(out, b"name");
    reply::bulk(out, arg.name.as_bytes());
    reply::bulk(out, b"type");
    reply::bulk(
        out,
        match &arg.kind {
            Kind::Value(ty) => ty.as_bytes(),
            Kind::PureToken => b"pure-token",
            Kind::OneOf(_) => b"oneof",
            Kind::Block(_) => b"block",
        },
    );
    if let Some(token) = arg.token {
        reply::bulk(out, b"token");
        reply::bulk(out, token.as_bytes());
    }
    if !flags.is_empty() {
        reply::bulk(out, b"flags");
        reply::set(out, flags.len(), resp3);
        for flag in flags {
            reply::simple(out, flag);
        }
    }
    if let Some(args) = children {
        reply::bulk(out, b"arguments");
        write_args(args, out, resp3);
    }
}

fn write_args(args: &[Arg], out: &mut Vec<u8>, resp3: bool) {
    reply::array(out, args.len());
    for arg in args {
        write_arg(arg, out, resp3);
    }
}

/// Appends a command's documentation: its name, then a map (flat in
/// RESP2) of summary, since, group, arguments and subcommands.
pub(crate) fn write_docs(spec: &Spec, out: &mut Vec<u8>, resp3: bool) {
    reply::bulk(out, spec.name.as_bytes());
    write_doc_map(spec, out, resp3);
}

fn write_doc_map(spec: &Spec, out: &mut Vec<u8>, resp3: bool) {
    // The table's syntax strings all parse (a test checks); a broken one
    // would only lose its argument list.
    let args = parse(spec.syntax).unwrap_or_default();
    let pairs = 3 + usize::from(!args.is_empty()) + usize::from(!spec.subcommands.is_empty());
    reply::map(out, pairs, resp3);
    reply::bulk(out, b"summary");
    reply::bulk(out, spec.summary.as_bytes());
    reply::bulk(out, b"since");
    reply::bulk(out, spec.since.as_bytes());
    reply::bulk(out, b"group");
    reply::bulk(out, spec.group.doc_name().as_bytes());
    if !args.is_empty() {
        reply::bulk(out, b"arguments");
        write_args(&args, out, resp3);
    }
    if !spec.subcommands.is_empty() {
        reply::bulk(out, b"subcommands");
        reply::map(out, spec.subcommands.len(), resp3);
        for sub in spec.subcommands {
            reply::bulk(out, sub.name.as_bytes());
            write_doc_map(sub, out, resp3);
        }
    }
}

/// Appends a command's `COMMAND INFO` entry: name, arity, flags, first
/// key, last key, step, ACL categories, tips, key specifications and
/// subcommands; the lists are sets in RESP3. Redis's notes on key specs
/// are its own prose and are left out.
pub(crate) fn write_info(spec: &Spec, out: &mut Vec<u8>, resp3: bool) {
    reply::array(out, 10);
    reply::bulk(out, spec.name.as_bytes());
    reply::int(out, i64::from(spec.arity));
    // Redis lists `movablekeys` after the command's own flags, and 7.0
    // leaves `may_replicate` out.
    let movable = spec.keys.is_movable();
    let flags = || spec.flags.iter().filter(|&&f| f != Flag::MayReplicate);
    reply::set(out, flags().count() + usize::from(movable), resp3);
    for flag in flags() {
        reply::simple(out, flag.name());
    }
    if movable {
        reply::simple(out, "movablekeys");
    }
    reply::int(out, i64::from(spec.keys.first));
    reply::int(out, i64::from(spec.keys.last));
    reply::int(out, i64::from(spec.keys.step));
    let categories = spec.categories();
    reply::set(out, categories.len(), resp3);
    for category in categories {
        reply::simple(out, category.name());
    }
    reply::set(out, spec.tips.len(), resp3);
    for tip in spec.tips {
        reply::bulk(out, tip.as_bytes());
    }
    reply::set(out, spec.key_specs.len(), resp3);
    for key_spec in spec.key_specs {
        write_key_spec(key_spec, out, resp3);
    }
    reply::set(out, spec.subcommands.len(), resp3);
    for sub in spec.subcommands {
        write_info(sub, out, resp3);
    }
}

/// One key spec: a map (flat in RESP2) of flags, begin_search and
/// find_keys, each search a map of its type and its parameters.
fn write_key_spec(key_spec: &KeySpec, out: &mut Vec<u8>, resp3: bool) {
    reply::map(out, 3, resp3);
    reply::bulk(out, b"flags");
    reply::set(out, key_spec.flags.len(), resp3);
    for flag in key_spec.flags {
        reply::simple(out, flag.name());
    }
    let (kind, params): (&str, &[(&str, Param)]) = match key_spec.begin {
        Begin::Index { at } => ("index", &[("index", Param::Int(at))]),
        Begin::Keyword { keyword, from } => (
            "keyword",
            &[
                ("keyword", Param::Text(keyword)),
                ("startfrom", Param::Int(from)),
            ],
        ),
        Begin::Unknown => ("unknown", &[]),
    };
    reply::bulk(out, b"begin_search");
    write_search(kind, params, out, resp3);
    let (kind, params): (&str, &[(&str, Param)]) = match key_spec.find {
        Find::Range { last, step, limit } => (
            "range",
            &[
                ("lastkey", Param::Int(last)),
                ("keystep", Param::Int(step)),
                ("limit", Param::Int(limit)),
            ],
        ),
        Find::Keynum { at, first, step } => (
            "keynum",
            &[
                ("keynumidx", Param::Int(at)),
                ("firstkey", Param::Int(first)),
                ("keystep", Param::Int(step)),
            ],
        ),
        Find::Unknown => ("unknown", &[]),
    };
    reply::bulk(out, b"find_keys");
    write_search(kind, params, out, resp3);
}

/// A parameter of a key search.
enum Param {
    Int(i32),
    Text(&'static str),
}

fn write_search(kind: &str, params: &[(&str, Param)], out: &mut Vec<u8>, resp3: bool) {
    reply::map(out, 2, resp3);
    reply::bulk(out, b"type");
    reply::bulk(out, kind.as_bytes());
    reply::bulk(out, b"spec");
    reply::map(out, params.len(), resp3);
    for (name, param) in params {
        reply::bulk(out, name.as_bytes());
        match param {
            Param::Int(n) => reply::int(out, i64::from(*n)),
            Param::Text(t) => reply::bulk(out, t.as_bytes()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{all, lookup};

    /// The hint redis-cli 7 prints for these arguments (its rules, from
    /// the COMMAND DOCS fields).
    fn render(args: &[Arg], sep: &str) -> String {
        let mut out = String::new();
        for (i, arg) in args.iter().enumerate() {
            if i > 0 {
                out.push_str(sep);
            }
            let token = arg.token.unwrap_or("");
            let repeat = match &arg.kind {
                Kind::Value(_) => arg.name.clone(),
                Kind::PureToken => String::new(),
                Kind::OneOf(a) => render(a, "|"),
                Kind::Block(a) => render(a, " "),
            };
            let token_part = if !token.is_empty() && arg.kind != Kind::PureToken {
                alloc::format!("{token} ")
            } else {
                token.to_string()
            };
            if arg.optional {
                out.push('[');
            }
            out.push_str(&token_part);
            out.push_str(&repeat);
            if arg.multiple {
                out.push_str(&alloc::format!(" [{repeat} ...]"));
            }
            if arg.optional {
                out.push(']');
            }
        }
        out
    }

    fn hint(name: &str) -> String {
        render(
            &parse(lookup(name.as_bytes()).unwrap().syntax).unwrap(),
            " ",
        )
    }

    #[test]
    fn every_syntax_parses() {
        for spec in all().chain(all().flat_map(|s| s.subcommands)) {
            assert!(parse(spec.syntax).is_ok(), "{}: {}", spec.name, spec.syntax);
        }
    }

    #[test]
    fn hints_read_as_redis_usage_lines() {
        assert_eq!(hint("get"), "key");
        assert_eq!(hint("ping"), "[message]");
        assert_eq!(hint("del"), "key [key ...]");
        assert_eq!(hint("mset"), "key value [key value ...]");
        assert_eq!(
            hint("set"),
            "key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|\
             PXAT unix-time-milliseconds|KEEPTTL]"
        );
        assert_eq!(
            hint("zadd"),
            "key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]"
        );
        assert_eq!(
            hint("zrangebyscore"),
            "key min max [WITHSCORES] [LIMIT offset count]"
        );
        assert_eq!(hint("linsert"), "key BEFORE|AFTER pivot element");
        assert_eq!(
            hint("hello"),
            "[protover [AUTH username password] [SETNAME clientname]]"
        );
        assert_eq!(
            hint("client|list"),
            "[TYPE NORMAL|MASTER|REPLICA|PUBSUB] [ID client-id [client-id ...]]"
        );
        assert_eq!(hint("config|set"), "parameter value [parameter value ...]");
        assert_eq!(
            hint("scan"),
            "cursor [MATCH pattern] [COUNT count] [TYPE type]"
        );
    }

    #[test]
    fn arguments_carry_types_tokens_and_flags() {
        let args = parse("key [EX seconds:integer|KEEPTTL] source:key where=(LEFT|RIGHT) pattern")
            .unwrap();
        assert_eq!(args.len(), 5);
        assert_eq!(args[0].kind, Kind::Value("key"));
        let Kind::OneOf(choices) = &args[1].kind else {
            panic!("{:?}", args[1]);
        };
        assert!(args[1].optional);
        assert_eq!(choices[0].name, "seconds");
        assert_eq!(choices[0].token, Some("EX"));
        assert_eq!(choices[0].kind, Kind::Value("integer"));
        assert_eq!(choices[1].kind, Kind::PureToken);
        assert_eq!(choices[1].name, "keepttl");
        assert_eq!(args[2].name, "source");
        assert_eq!(args[2].kind, Kind::Value("key"));
        assert_eq!(args[3].name, "where");
        assert!(!args[3].optional);
        assert_eq!(args[4].kind, Kind::Value("pattern"));
        for bad in ["[a", "a]", "(a|)", "x:float", "A...", "a=b", "a|b"] {
            assert_eq!(parse(bad), Err(BadSyntax), "{bad}");
        }
        // `=` alone is a token (XADD's `MAXLEN = n`).
        let op = parse("[op=(=|~)]").unwrap();
        let Kind::OneOf(choices) = &op[0].kind else {
            panic!("{op:?}");
        };
        assert_eq!(choices[0].kind, Kind::PureToken);
        assert_eq!(choices[0].token, Some("="));
        assert_eq!(parse(""), Ok(Vec::new()));
    }

    #[test]
    fn docs_reply_shape() {
        let mut out = Vec::new();
        write_docs(lookup(b"get").unwrap(), &mut out, false);
        assert_eq!(
            core::str::from_utf8(&out).unwrap(),
            "$3\r\nget\r\n*8\r\n$7\r\nsummary\r\n$29\r\nReturns a key's string value.\r\n\
             $5\r\nsince\r\n$5\r\n1.0.0\r\n$5\r\ngroup\r\n$6\r\nstring\r\n\
             $9\r\narguments\r\n*1\r\n*4\r\n$4\r\nname\r\n$3\r\nkey\r\n$4\r\ntype\r\n$3\r\nkey\r\n"
        );
        out.clear();
        write_docs(lookup(b"ping").unwrap(), &mut out, false);
        assert!(
            core::str::from_utf8(&out)
                .unwrap()
                .ends_with("$5\r\nflags\r\n*1\r\n+optional\r\n"),
            "flags are simple strings, as redis-cli asserts"
        );
    }

    #[test]
    fn info_reply_shape() {
        let mut out = Vec::new();
        write_info(lookup(b"get").unwrap(), &mut out, false);
        assert_eq!(
            core::str::from_utf8(&out).unwrap(),
            "*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n\
             *3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n\
             *1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+RO\r\n+access\r\n\
             $12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n\
             $4\r\nspec\r\n*2\r\n$5\r\nindex\r\n:1\r\n\
             $9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n\
             $4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n$7\r\nkeystep\r\n:1\r\n\
             $5\r\nlimit\r\n:0\r\n*0\r\n"
        );
        out.clear();
        write_info(lookup(b"client").unwrap(), &mut out, false);
        let text = core::str::from_utf8(&out).unwrap();
        assert!(text.starts_with("*10\r\n$6\r\nclient\r\n:-2\r\n*0\r\n"));
        assert!(text.contains("$11\r\nclient|list\r\n"));
    }
}

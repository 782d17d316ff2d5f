//! The front end's commands, transactions through the store, the client
//! list, and what redis-cli and redis-benchmark send when they start.

mod common;

use common::*;
use resp::{Command, Flow, Frontend, REDIS_VERSION, Store, StoreError};

#[test]
fn ping_echo_time_quit() {
    let (mut fe, now) = frontend();
    let mut c = connect(&mut fe);
    assert_eq!(run(&mut c, &mut fe, "PING\r\n"), "+PONG\r\n");
    assert_eq!(run(&mut c, &mut fe, "ping hi\r\n"), "$2\r\nhi\r\n");
    assert_eq!(
        run(&mut c, &mut fe, "PING a b\r\n"),
        "-ERR wrong number of arguments for 'ping' command\r\n"
    );
    assert_eq!(run(&mut c, &mut fe, "ECHO x\r\n"), "$1\r\nx\r\n");
    assert_eq!(
        run(&mut c, &mut fe, "ECHO\r\n"),
        "-ERR wrong number of arguments for 'echo' command\r\n"
    );
    now.set(1_795_805_425_000_005);
    assert_eq!(
        run(&mut c, &mut fe, "TIME\r\n"),
        "*2\r\n$10\r\n1795805425\r\n$1\r\n5\r\n"
    );
    assert_eq!(
        run(&mut c, &mut fe, "TIME x\r\n"),
        "-ERR wrong number of arguments for 'time' command\r\n"
    );
    assert_eq!(
        drive(&mut c, &mut fe, b"QUIT extra\r\nPING\r\n"),
        (b"+OK\r\n".to_vec(), Flow::Close)
    );
    assert!(c.is_closing());
    fe.disconnect(c);
    assert_eq!(fe.store().sessions(), 0, "never used the store");
}

#[test]
fn hello_and_auth() {
    let (mut fe, _) = frontend();
    let mut c = connect(&mut fe);
    let id = c.id();
    let expect = format!(
        "*14\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n${}\r\n{REDIS_VERSION}\r\n\
         $5\r\nproto\r\n:2\r\n$2\r\nid\r\n:{id}\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n\
         $4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n",
        REDIS_VERSION.len()
    );
    assert_eq!(run(&mut c, &mut fe, "HELLO\r\n"), expect);
    assert_eq!(run(&mut c, &mut fe, "HELLO 2\r\n"), expect);
    assert_eq!(
        run(&mut c, &mut fe, "HELLO 3 FOO\r\nCLIENT GETNAME\r\n"),
        "-ERR Syntax error in HELLO option 'FOO'\r\n$-1\r\n",
        "refused, so nothing is applied (still RESP2)"
    );
    assert_eq!(
        run(&mut c, &mut fe, "HELLO 4 FOO\r\n"),
        "-NOPROTO unsupported protocol version\r\n"
    );
    assert_eq!(
        run(&mut c, &mut fe, "HELLO x\r\n"),
        "-ERR Protocol version is not an integer or out of range\r\n"
    );
    assert_eq!(
        run(&mut c, &mut fe, "HELLO 2 FOO\r\n"),
        "-ERR Syntax error in HELLO option 'FOO'\r\n"
    );
    assert_eq!(
        run(&mut c, &mut fe, "HELLO 2 AUTH x\r\n"),
        "-ERR Syntax error in HELLO option 'AUTH'\r\n"
    );
    assert_eq!(
        run(&mut c, &mut fe, "HELLO 2 AUTH bob pw\r\n"),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(
        run(&mut c, &mut fe, "HELLO 2 SETNAME \"a b\"\r\n"),
        "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
    );
    assert_eq!(
        run(&mut c, &mut fe, "HELLO 2 AUTH default pw SETNAME app\r\n"),
        expect
    );
    assert_eq!(run(&mut c, &mut fe, "CLIENT GETNAME\r\n"), "$3\r\napp\r\n");
    // RESP3: HELLO answers a map, and the replies, the front end's and
    // the store's, take RESP3's types until RESET.
    let resp3 = expect
        .replacen("*14", "%7", 1)
        .replacen(":2\r\n", ":3\r\n", 1);
    assert_eq!(run(&mut c, &mut fe, "HELLO 3\r\n"), resp3);
    assert_eq!(run(&mut c, &mut fe, "HELLO\r\n"), resp3);
    assert_eq!(
        run(
            &mut c,
            &mut fe,
            "CLIENT SETNAME \"\"\r\nCLIENT GETNAME\r\nGET nokey\r\nZADD hz 1.5 m\r\nZSCORE hz m\r\n\
             HSET hh f v\r\nHGETALL hh\r\nMULTI\r\nZSCORE hz m\r\nEXEC\r\n\
             CONFIG GET maxclients\r\nCOMMAND INFO nosuch\r\nDEL hz hh\r\n"
        ),
        "+OK\r\n_\r\n_\r\n:1\r\n,1.5\r\n:1\r\n%1\r\n$1\r\nf\r\n$1\r\nv\r\n+OK\r\n+QUEUED\r\n\
         *1\r\n,1.5\r\n%1\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n*1\r\n_\r\n:2\r\n"
    );
    let info = run(&mut c, &mut fe, "CLIENT INFO\r\n");
    assert!(
        info.starts_with('=') && info.contains("\r\ntxt:id=") && info.contains(" resp=3"),
        "{info}"
    );
    assert!(run(&mut c, &mut fe, "INFO keyspace\r\n").starts_with('='));
    assert_eq!(
        run(&mut c, &mut fe, "RESET\r\nGET nokey\r\n"),
        "+RESET\r\n$-1\r\n"
    );
    assert_eq!(run(&mut c, &mut fe, "HELLO 2 AUTH default pw\r\n"), expect);
    assert_eq!(run(&mut c, &mut fe, "AUTH default secret\r\n"), "+OK\r\n");
    assert_eq!(
        run(&mut c, &mut fe, "AUTH secret\r\n"),
        "-ERR AUTH <password> called without any password configured for the default user. \
         Are you sure your configuration is correct?\r\n"
    );
    assert_eq!(
        run(&mut c, &mut fe, "AUTH a b c\r\n"),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        run(&mut c, &mut fe, "AUTH\r\n"),
        "-ERR wrong number of arguments for 'auth' command\r\n"
    );
}

#[test]
fn client_subcommands() {
    let (mut fe, now) = frontend();
    let mut a = connect(&mut fe);
    let mut b = connect(&mut fe);
    assert_eq!(
        run(&mut a, &mut fe, "CLIENT ID\r\n"),
        format!(":{}\r\n", a.id())
    );
    assert_eq!(
        run(&mut b, &mut fe, "client id\r\n"),
        format!(":{}\r\n", b.id())
    );
    assert_eq!(run(&mut a, &mut fe, "CLIENT GETNAME\r\n"), "$-1\r\n");
    assert_eq!(
        run(&mut a, &mut fe, "CLIENT SETNAME worker-1\r\n"),
        "+OK\r\n"
    );
    assert_eq!(
        run(&mut a, &mut fe, "CLIENT GETNAME\r\n"),
        "$8\r\nworker-1\r\n"
    );
    assert_eq!(
        run(&mut a, &mut fe, "CLIENT SETNAME \"a b\"\r\n"),
        "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
    );
    assert_eq!(
        run(&mut a, &mut fe, "CLIENT SETNAME\r\n"),
        "-ERR wrong number of arguments for 'client|setname' command\r\n"
    );
    assert_eq!(
        run(&mut a, &mut fe, "CLIENT SETINFO lib-name redis-py\r\n"),
        "+OK\r\n"
    );
    assert_eq!(
        run(&mut a, &mut fe, "CLIENT SETINFO LIB-VER 5.0\r\n"),
        "+OK\r\n"
    );
    assert_eq!(
        run(&mut a, &mut fe, "CLIENT SETINFO x y\r\n"),
        "-ERR Unrecognized option 'x'\r\n"
    );
    assert_eq!(
        run(&mut a, &mut fe, "CLIENT FOO\r\n"),
        "-ERR unknown subcommand 'FOO'. Try CLIENT HELP.\r\n"
    );
    assert_eq!(
        run(&mut a, &mut fe, "CLIENT\r\n"),
        "-ERR wrong number of arguments for 'client' command\r\n"
    );
    assert!(run(&mut a, &mut fe, "CLIENT HELP\r\n").starts_with("*31\r\n+CLIENT <subcommand>"));

    assert_eq!(run(&mut b, &mut fe, "SELECT 3\r\n"), "+OK\r\n");
    now.set(now.get() + 5_000_000);
    assert_eq!(run(&mut a, &mut fe, "PING\r\n"), "+PONG\r\n");
    let list = read_all(run(&mut a, &mut fe, "CLIENT LIST\r\n").as_bytes())[0].text();
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "{list}");
    assert_eq!(
        lines[0],
        format!(
            "id={} addr=127.0.0.1:50000 laddr=127.0.0.1:6379 name=worker-1 age=5 idle=0 flags=N db=0 \
             sub=0 psub=0 ssub=0 multi=-1 qbuf=0 omem=0 cmd=client|list user=default redir=-1 resp=2 \
             lib-name=redis-py lib-ver=5.0",
            a.id()
        )
    );
    assert!(
        lines[1].contains(" name= age=5 idle=5 flags=N db=3 "),
        "{}",
        lines[1]
    );
    assert!(lines[1].contains(" cmd=select "), "{}", lines[1]);
    let info = read_all(run(&mut b, &mut fe, "CLIENT INFO\r\n").as_bytes())[0].text();
    assert!(
        info.starts_with(&format!("id={} ", b.id())) && info.ends_with("resp=2\n"),
        "{info}"
    );
    let only_b = read_all(
        run(
            &mut a,
            &mut fe,
            &format!("CLIENT LIST ID {} 999\r\n", b.id()),
        )
        .as_bytes(),
    )[0]
    .text();
    assert_eq!(only_b.lines().count(), 1);
    assert!(only_b.starts_with(&format!("id={} ", b.id())));
    assert_eq!(
        read_all(run(&mut a, &mut fe, "CLIENT LIST TYPE normal\r\n").as_bytes())[0]
            .text()
            .lines()
            .count(),
        2
    );
    assert_eq!(
        run(&mut a, &mut fe, "CLIENT LIST TYPE pubsub\r\n"),
        "$0\r\n\r\n"
    );
    assert_eq!(
        run(&mut a, &mut fe, "CLIENT LIST TYPE foo\r\n"),
        "-ERR Unknown client type 'foo'\r\n"
    );
    assert_eq!(
        run(&mut a, &mut fe, "CLIENT LIST ID x\r\n"),
        "-ERR Invalid client ID\r\n"
    );
    assert_eq!(
        run(&mut a, &mut fe, "CLIENT LIST FOO\r\n"),
        "-ERR syntax error\r\n"
    );

    fe.disconnect(b);
    let list = read_all(run(&mut a, &mut fe, "CLIENT LIST\r\n").as_bytes())[0].text();
    assert_eq!(list.lines().count(), 1);
    assert_eq!(fe.stats().connected, 1);
}

#[test]
fn config_get_and_set() {
    let (mut fe, _) = frontend();
    let mut c = connect(&mut fe);
    assert_eq!(
        run(&mut c, &mut fe, "CONFIG GET maxmemory\r\n"),
        "*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n"
    );
    assert_eq!(
        run(&mut c, &mut fe, "CONFIG SET maxmemory 10mb\r\n"),
        "+OK\r\n"
    );
    assert_eq!(
        run(&mut c, &mut fe, "CONFIG GET maxmemory\r\n"),
        "*2\r\n$9\r\nmaxmemory\r\n$8\r\n10485760\r\n"
    );
    // The store's parameters and the front end's, in one command: all or
    // nothing, whichever refuses.
    assert_eq!(
        run(&mut c, &mut fe, "CONFIG SET maxmemory 20mb timeout x\r\n"),
        "-ERR CONFIG SET failed (possibly related to argument 'timeout') - \
         argument couldn't be parsed into an integer\r\n"
    );
    assert_eq!(
        run(
            &mut c,
            &mut fe,
            "CONFIG SET timeout 5 maxmemory-samples 0\r\n"
        ),
        "-ERR CONFIG SET failed (possibly related to argument 'maxmemory-samples') - \
         argument must be between 1 and 2147483647 inclusive\r\n"
    );
    assert_eq!(
        run(&mut c, &mut fe, "CONFIG GET timeout maxmemory\r\n"),
        "*4\r\n$7\r\ntimeout\r\n$1\r\n0\r\n$9\r\nmaxmemory\r\n$8\r\n10485760\r\n",
        "neither changed"
    );
    assert_eq!(
        run(
            &mut c,
            &mut fe,
            "CONFIG SET timeout 5 maxmemory-policy allkeys-lru\r\n"
        ),
        "+OK\r\n"
    );
    assert_eq!(
        run(&mut c, &mut fe, "CONFIG GET timeout maxmemory-policy\r\n"),
        "*4\r\n$7\r\ntimeout\r\n$1\r\n5\r\n\
         $16\r\nmaxmemory-policy\r\n$11\r\nallkeys-lru\r\n"
    );
    assert!(
        run(&mut c, &mut fe, "INFO memory\r\n").contains("maxmemory_policy:allkeys-lru\r\n"),
        "INFO shows the store's policy"
    );
    assert_eq!(
        run(
            &mut c,
            &mut fe,
            "CONFIG SET hash-max-listpack-entries 1000 zset-max-ziplist-value 32\r\n"
        ),
        "+OK\r\n"
    );
    // The encodings' thresholds are the store's.
    assert_eq!(fe.config().get("zset-max-listpack-value"), None);
    assert_eq!(
        run(&mut c, &mut fe, "CONFIG GET zset-max-listpack-value\r\n"),
        "*2\r\n$23\r\nzset-max-listpack-value\r\n$2\r\n32\r\n"
    );
    assert_eq!(
        run(&mut c, &mut fe, "CONFIG SET save\r\n"),
        "-ERR wrong number of arguments for 'config|set' command\r\n"
    );
    assert_eq!(
        run(&mut c, &mut fe, "CONFIG GET\r\n"),
        "-ERR wrong number of arguments for 'config|get' command\r\n"
    );
    assert_eq!(
        run(&mut c, &mut fe, "CONFIG\r\n"),
        "-ERR wrong number of arguments for 'config' command\r\n"
    );
    assert_eq!(
        run(&mut c, &mut fe, "CONFIG FOO\r\n"),
        "-ERR unknown subcommand 'FOO'. Try CONFIG HELP.\r\n"
    );
    assert_eq!(
        run(&mut c, &mut fe, "CONFIG REWRITE\r\n"),
        "-ERR The server is running without a config file\r\n"
    );
    assert!(run(&mut c, &mut fe, "CONFIG HELP\r\n").starts_with("*11\r\n+CONFIG <subcommand>"));
    assert!(fe.stats().commands_processed > 5);
    assert_eq!(run(&mut c, &mut fe, "CONFIG RESETSTAT\r\n"), "+OK\r\n");
    assert_eq!(
        fe.stats().commands_processed,
        1,
        "RESETSTAT itself, as in Redis"
    );
    assert_eq!(fe.stats().connected, 1, "gauges survive");
}

#[test]
fn redis_benchmark_startup() {
    // What redis-benchmark 7.0 sends first, pipelined in one write.
    let (mut fe, _) = frontend();
    let mut c = connect(&mut fe);
    let mut input = cmd(&[b"CONFIG", b"GET", b"save"]);
    input.extend(cmd(&[b"CONFIG", b"GET", b"appendonly"]));
    assert_eq!(
        drive(&mut c, &mut fe, &input).0,
        b"*2\r\n$4\r\nsave\r\n$0\r\n\r\n*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n"
    );
    // The component says how it persists.
    fe.config_mut().set("appendonly", "yes").unwrap();
    assert_eq!(
        run(&mut c, &mut fe, "CONFIG GET appendonly\r\n"),
        "*2\r\n$10\r\nappendonly\r\n$3\r\nyes\r\n"
    );
}

#[test]
fn redis_cli_startup_command_docs() {
    // redis-cli 7 sends COMMAND DOCS when it starts interactively and
    // turns the reply into its hints; it asserts on the reply's shape.
    let (mut fe, _) = frontend();
    let mut c = connect(&mut fe);
    let (out, flow) = drive(&mut c, &mut fe, &cmd(&[b"COMMAND", b"DOCS"]));
    assert_eq!(flow, Flow::Continue);
    let replies = read_all(&out);
    assert_eq!(replies.len(), 1);
    let table = replies[0].items();
    assert_eq!(table.len() % 2, 0);
    let count = read_all(run(&mut c, &mut fe, "COMMAND COUNT\r\n").as_bytes())[0].clone();
    assert_eq!(Value::Int((table.len() / 2) as i64), count);
    let mut names = Vec::new();
    for pair in table.chunks(2) {
        let name = pair[0].text();
        check_docs(&name, &pair[1]);
        names.push(name);
    }
    for expected in [
        "get", "set", "client", "config", "multi", "zadd", "hello", "info",
    ] {
        assert!(names.iter().any(|n| n == expected), "{expected} missing");
    }
    // One command, and an unknown one (left out, as in Redis).
    let one = read_all(run(&mut c, &mut fe, "COMMAND DOCS get nope\r\n").as_bytes());
    assert_eq!(one[0].items().len(), 2);
    assert_eq!(one[0].items()[0], Value::bulk("get"));
    assert_eq!(run(&mut c, &mut fe, "COMMAND DOCS nope\r\n"), "*0\r\n");
}

/// Checks a COMMAND DOCS map the way redis-cli 7 reads it.
fn check_docs(name: &str, map: &Value) {
    let items = map.items();
    assert_eq!(items.len() % 2, 0, "{name}");
    let mut keys = Vec::new();
    for pair in items.chunks(2) {
        let key = pair[0].text();
        match key.as_str() {
            "summary" | "since" | "group" => {
                assert!(matches!(pair[1], Value::Bulk(Some(_))), "{name} {key}")
            }
            "arguments" => pair[1].items().iter().for_each(|a| check_arg(name, a)),
            "subcommands" => {
                for sub in pair[1].items().chunks(2) {
                    assert!(sub[0].text().starts_with(&format!("{name}|")));
                    check_docs(&sub[0].text(), &sub[1]);
                }
            }
            other => panic!("{name}: unexpected key {other}"),
        }
        keys.push(key);
    }
    for required in ["summary", "since", "group"] {
        assert!(
            keys.iter().any(|k| k == required),
            "{name} lacks {required}"
        );
    }
}

fn check_arg(command: &str, arg: &Value) {
    let items = arg.items();
    let mut ty = None;
    let mut has_name = false;
    for pair in items.chunks(2) {
        match pair[0].text().as_str() {
            "name" => has_name = matches!(pair[1], Value::Bulk(Some(_))),
            "type" => ty = Some(pair[1].text()),
            "token" => assert!(matches!(pair[1], Value::Bulk(Some(_)))),
            "flags" => {
                for flag in pair[1].items() {
                    assert!(
                        matches!(flag, Value::Simple(f) if f == "optional" || f == "multiple"),
                        "{command}: flags must be simple strings: {flag:?}"
                    );
                }
            }
            "arguments" => pair[1].items().iter().for_each(|a| check_arg(command, a)),
            other => panic!("{command}: unexpected argument key {other}"),
        }
    }
    assert!(has_name, "{command}: an argument without a name");
    let ty = ty.unwrap_or_else(|| panic!("{command}: an argument without a type"));
    assert!(
        [
            "key",
            "string",
            "integer",
            "double",
            "pattern",
            "unix-time",
            "pure-token",
            "oneof",
            "block"
        ]
        .contains(&ty.as_str()),
        "{command}: type {ty}"
    );
}

#[test]
fn command_info_count_list() {
    let (mut fe, _) = frontend();
    let mut c = connect(&mut fe);
    let all = read_all(run(&mut c, &mut fe, "COMMAND\r\n").as_bytes());
    let count = all[0].items().len();
    assert_eq!(
        run(&mut c, &mut fe, "COMMAND COUNT\r\n"),
        format!(":{count}\r\n")
    );
    let info = read_all(run(&mut c, &mut fe, "COMMAND INFO get nope client|list\r\n").as_bytes());
    let entries = info[0].items();
    assert_eq!(entries.len(), 3);
    assert_eq!(
        entries[0],
        read_all(
            b"*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n\
              *3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n\
              *1\r\n*6\r\n$5\r\nflags\r\n*2\r\n+RO\r\n+access\r\n\
              $12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$5\r\nindex\r\n$4\r\nspec\r\n\
              *2\r\n$5\r\nindex\r\n:1\r\n$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n\
              $5\r\nrange\r\n$4\r\nspec\r\n*6\r\n$7\r\nlastkey\r\n:0\r\n\
              $7\r\nkeystep\r\n:1\r\n$5\r\nlimit\r\n:0\r\n*0\r\n"
        )[0]
    );
    assert_eq!(entries[1], Value::Bulk(None));
    assert_eq!(entries[2].items()[0], Value::bulk("client|list"));
    let list = read_all(run(&mut c, &mut fe, "COMMAND LIST\r\n").as_bytes());
    let names: Vec<String> = list[0].items().iter().map(Value::text).collect();
    assert!(names.contains(&"config|set".to_string()) && names.contains(&"lpush".to_string()));
    assert_eq!(
        run(&mut c, &mut fe, "COMMAND FOO\r\n"),
        "-ERR unknown subcommand 'FOO'. Try COMMAND HELP.\r\n"
    );
    assert_eq!(
        run(&mut c, &mut fe, "COMMAND COUNT x\r\n"),
        "-ERR wrong number of arguments for 'command|count' command\r\n"
    );
}

#[test]
fn movable_keys_in_command_info_and_getkeys() {
    // What redis-server 7.0.15 answers.
    let (mut fe, _) = frontend();
    let mut c = connect(&mut fe);
    let info = read_all(run(&mut c, &mut fe, "COMMAND INFO zunionstore zmpop sort\r\n").as_bytes());
    let entries = info[0].items();
    let head = |e: &Value| -> Vec<String> {
        let items = e.items();
        let mut out: Vec<String> = items[2].items().iter().map(Value::text).collect();
        out.extend(items[3..6].iter().map(|v| match v {
            Value::Int(n) => n.to_string(),
            other => panic!("not an integer: {other:?}"),
        }));
        out
    };
    assert_eq!(
        head(&entries[0]),
        ["write", "denyoom", "movablekeys", "1", "1", "1"]
    );
    assert_eq!(head(&entries[1]), ["write", "movablekeys", "0", "0", "0"]);
    assert_eq!(
        head(&entries[2]),
        ["write", "denyoom", "movablekeys", "1", "1", "1"]
    );
    let getkeys =
        |c: &mut _, fe: &mut _, line: &str| run(c, fe, &format!("COMMAND GETKEYS {line}\r\n"));
    for (line, want) in [
        (
            "zunionstore d 2 a b weights 1 2",
            "*3\r\n$1\r\nd\r\n$1\r\na\r\n$1\r\nb\r\n",
        ),
        ("zunion 2 a b c d", "*2\r\n$1\r\na\r\n$1\r\nb\r\n"),
        (
            "zmpop 3 a b min",
            "*3\r\n$1\r\na\r\n$1\r\nb\r\n$3\r\nmin\r\n",
        ),
        (
            "sort a by x store d store e",
            "*2\r\n$1\r\na\r\n$1\r\ne\r\n",
        ),
        ("sort_ro a store b", "*1\r\n$1\r\na\r\n"),
        ("object freq a", "*1\r\n$1\r\na\r\n"),
        ("mset a 1 b", "*2\r\n$1\r\na\r\n$1\r\nb\r\n"),
        (
            "zunion 3 a",
            "-ERR Invalid arguments specified for command\r\n",
        ),
        (
            "zunion x a",
            "-ERR Invalid arguments specified for command\r\n",
        ),
        (
            "zunionstore d 2 a",
            "-ERR Invalid arguments specified for command\r\n",
        ),
        (
            "zunion 1",
            "-ERR Invalid number of arguments specified for command\r\n",
        ),
        (
            "get a b",
            "-ERR Invalid number of arguments specified for command\r\n",
        ),
        ("ping x", "-ERR The command has no key arguments\r\n"),
        ("config get x", "-ERR The command has no key arguments\r\n"),
        ("nope a", "-ERR Invalid command specified\r\n"),
        ("object nope a", "-ERR Invalid command specified\r\n"),
    ] {
        assert_eq!(getkeys(&mut c, &mut fe, line), want, "{line}");
    }
    assert_eq!(
        run(&mut c, &mut fe, "COMMAND GETKEYS ping\r\n"),
        "-ERR wrong number of arguments for 'command|getkeys' command\r\n"
    );
}

#[test]
fn every_store_command_in_the_table_is_known_to_the_store() {
    // COMMAND lists what Basalt answers: each command the front end does
    // not answer itself must exist in the store (an arity error, not an
    // unknown command, for a call without arguments).
    let (mut fe, _) = frontend();
    let mut c = connect(&mut fe);
    let list = read_all(run(&mut c, &mut fe, "COMMAND\r\n").as_bytes());
    let mut store = Kvs::new(1);
    for entry in list[0].items() {
        let name = entry.items()[0].text();
        // The front end's own rows (its unit tests check it answers
        // each): only the store's are the store's to know.
        if kvs_core::command::find(kvs_core::command::COMMANDS, name.as_bytes()).is_none() {
            continue;
        }
        let mut buf = resp::CommandBuf::new();
        let mut reply = Vec::new();
        store
            .exec(0, buf.set(&[name.as_bytes()]), &mut reply)
            .unwrap();
        let reply = String::from_utf8_lossy(&reply);
        assert!(
            !reply.starts_with("-ERR unknown command"),
            "{name}: {reply}"
        );
        let write = entry.items()[2]
            .items()
            .contains(&Value::Simple("write".into()));
        assert_eq!(write, kvs_core_writes(&name), "{name}: write flag");
    }
}

/// Whether the store counts `name` as a command that may write.
fn kvs_core_writes(name: &str) -> bool {
    // EXEC, EVAL, EVALSHA and FCALL (which run what may write), PFCOUNT (which
    // caches its count in the value) and XGROUP (a
    // container whose subcommands write) may write in the store's eyes;
    // the table keeps Redis's flags.
    !matches!(
        name,
        "exec" | "pfcount" | "xgroup" | "eval" | "evalsha" | "fcall"
    ) && kvs_core::writes(name.as_bytes())
}

#[test]
fn transactions_go_through_the_store() {
    let (mut fe, _) = frontend();
    let mut a = connect(&mut fe);
    let mut b = connect(&mut fe);
    assert_eq!(run(&mut a, &mut fe, "MULTI\r\n"), "+OK\r\n");
    assert_eq!(run(&mut a, &mut fe, "SET k 1\r\n"), "+QUEUED\r\n");
    assert_eq!(run(&mut a, &mut fe, "INCR k\r\n"), "+QUEUED\r\n");
    assert_eq!(run(&mut a, &mut fe, "ECHO e\r\n"), "+QUEUED\r\n");
    let list = read_all(run(&mut b, &mut fe, "CLIENT LIST\r\n").as_bytes())[0].text();
    assert!(
        list.lines()
            .next()
            .unwrap()
            .contains(" flags=x db=0 sub=0 psub=0 ssub=0 multi=3 "),
        "{list}"
    );
    assert_eq!(run(&mut b, &mut fe, "GET k\r\n"), "$-1\r\n", "not yet");
    assert_eq!(
        run(&mut a, &mut fe, "EXEC\r\n"),
        "*3\r\n+OK\r\n:2\r\n$1\r\ne\r\n"
    );
    assert_eq!(run(&mut b, &mut fe, "GET k\r\n"), "$1\r\n2\r\n");
    // DISCARD.
    assert_eq!(
        run(&mut a, &mut fe, "MULTI\r\nSET k 9\r\nDISCARD\r\nGET k\r\n"),
        "+OK\r\n+QUEUED\r\n+OK\r\n$1\r\n2\r\n"
    );
    // WATCH: another connection's write makes EXEC fail.
    assert_eq!(
        run(&mut a, &mut fe, "WATCH k\r\nMULTI\r\nINCR k\r\n"),
        "+OK\r\n+OK\r\n+QUEUED\r\n"
    );
    assert_eq!(run(&mut b, &mut fe, "SET k 100\r\n"), "+OK\r\n");
    assert_eq!(run(&mut a, &mut fe, "EXEC\r\n"), "*-1\r\n");
    assert_eq!(run(&mut a, &mut fe, "UNWATCH\r\n"), "+OK\r\n");
    // The front end queues its own commands, and runs them at EXEC, each
    // reply in its place among the store's.
    let id = a.id();
    assert_eq!(
        run(
            &mut a,
            &mut fe,
            "MULTI\r\nCLIENT ID\r\nINCR k\r\nECHO e\r\nPUBLISH ch m\r\nGET k\r\nEXEC\r\n"
        ),
        format!(
            "+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n\
             *5\r\n:{id}\r\n:101\r\n$1\r\ne\r\n:0\r\n$3\r\n101\r\n"
        )
    );
    // One refused when queued fails the transaction; the store's part
    // goes too.
    assert_eq!(
        run(
            &mut a,
            &mut fe,
            "MULTI\r\nINCR k\r\nCLIENT NOPE\r\nCLIENT ID x\r\n"
        ),
        "+OK\r\n+QUEUED\r\n-ERR unknown subcommand 'NOPE'. Try CLIENT HELP.\r\n\
         -ERR wrong number of arguments for 'client|id' command\r\n"
    );
    assert!(run(&mut a, &mut fe, "EXEC\r\n").starts_with("-EXECABORT"));
    assert_eq!(run(&mut a, &mut fe, "GET k\r\n"), "$3\r\n101\r\n");
    assert_eq!(
        run(&mut a, &mut fe, "PING\r\n"),
        "+PONG\r\n",
        "out of MULTI again"
    );
    // Errors the store answers.
    assert_eq!(
        run(&mut a, &mut fe, "EXEC\r\n"),
        "-ERR EXEC without MULTI\r\n"
    );
    assert_eq!(
        run(&mut a, &mut fe, "MULTI\r\nMULTI\r\n"),
        "+OK\r\n-ERR MULTI calls can not be nested\r\n"
    );
    // QUIT inside MULTI closes; the store session goes with the connection.
    assert_eq!(
        drive(&mut a, &mut fe, b"QUIT\r\n"),
        (b"+OK\r\n".to_vec(), Flow::Close)
    );
    assert_eq!(fe.store().sessions(), 2);
    fe.disconnect(a);
    assert_eq!(fe.store().sessions(), 1);
}

#[test]
fn each_connection_is_its_own_store_session() {
    let (mut fe, _) = frontend();
    let mut a = connect(&mut fe);
    let mut b = connect(&mut fe);
    assert_eq!(
        run(&mut a, &mut fe, "SELECT 1\r\nSET k in-db-1\r\n"),
        "+OK\r\n+OK\r\n"
    );
    assert_eq!(run(&mut b, &mut fe, "GET k\r\n"), "$-1\r\n");
    assert_eq!(
        run(&mut b, &mut fe, "SELECT 1\r\nGET k\r\n"),
        "+OK\r\n$7\r\nin-db-1\r\n"
    );
    assert_eq!(run(&mut a, &mut fe, "DBSIZE\r\n"), ":1\r\n");
    assert_eq!(
        run(&mut a, &mut fe, "SELECT 99\r\n"),
        "-ERR DB index is out of range\r\n"
    );
    assert!(
        run(&mut a, &mut fe, "NOPE a\r\n")
            .starts_with("-ERR unknown command 'NOPE', with args beginning with: 'a'")
    );
}

#[test]
fn info_sections() {
    let (mut fe, now) = frontend();
    fe.config_mut().set("port", "6380").unwrap();
    fe.stats_mut().used_memory = 1_372_904;
    let mut c = connect(&mut fe);
    assert_eq!(
        run(
            &mut c,
            &mut fe,
            "SET a 1\r\nSET b 2 PX 5000\r\nSELECT 3\r\nSET c 3\r\n"
        ),
        "+OK\r\n".repeat(4)
    );
    now.set(now.get() + 90_061_000_000);
    let info = read_all(run(&mut c, &mut fe, "INFO\r\n").as_bytes())[0].text();
    for section in [
        "# Server",
        "# Clients",
        "# Memory",
        "# Persistence",
        "# Stats",
        "# Keyspace",
    ] {
        assert!(
            info.contains(&format!("{section}\r\n")),
            "{section} in {info}"
        );
    }
    for field in [
        &format!("redis_version:{REDIS_VERSION}\r\n")[..],
        "redis_mode:standalone\r\n",
        "tcp_port:6380\r\n",
        "uptime_in_seconds:90061\r\n",
        "uptime_in_days:1\r\n",
        "basalt_store_restarts:0\r\n",
        "basalt_store_last_exit:\r\n",
        "connected_clients:1\r\n",
        "maxclients:10000\r\n",
        "used_memory:1372904\r\n",
        "used_memory_human:1.31M\r\n",
        "maxmemory_policy:noeviction\r\n",
        "aof_enabled:0\r\n",
        "total_connections_received:1\r\n",
        "total_commands_processed:4\r\n",
        // The store's clock stands still: b has its 5 s to live.
        "db0:keys=2,expires=1,avg_ttl=5000\r\n",
        "db3:keys=1,expires=0,avg_ttl=0\r\n",
    ] {
        assert!(info.contains(field), "{field:?} missing from {info}");
    }
    assert!(!info.contains("db1:"), "empty databases are left out");
    assert!(
        info.contains("\r\n\r\n# Clients\r\n"),
        "sections are separated by a blank line"
    );
    assert!(info.ends_with("avg_ttl=0\r\n"));
    // Redis's other sections; commandstats only when asked for (or all).
    for section in [
        "# Replication\r\nrole:master\r\n",
        "# CPU\r\n",
        "# Errorstats\r\n",
        "# Cluster\r\ncluster_enabled:0\r\n",
    ] {
        assert!(info.contains(section), "{section:?} in {info}");
    }
    assert!(!info.contains("# Commandstats"));
    let all = read_all(run(&mut c, &mut fe, "INFO all\r\n").as_bytes())[0].text();
    assert!(all.contains("# Commandstats\r\n"));
    let keyspace = read_all(run(&mut c, &mut fe, "info KEYSPACE\r\n").as_bytes())[0].text();
    assert_eq!(
        keyspace,
        "# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl=5000\r\ndb3:keys=1,expires=0,avg_ttl=0\r\n"
    );
    let two = read_all(run(&mut c, &mut fe, "INFO clients stats\r\n").as_bytes())[0].text();
    assert!(
        two.starts_with("# Clients\r\n")
            && two.contains("\r\n\r\n# Stats\r\n")
            && !two.contains("# Server")
    );
    assert_eq!(run(&mut c, &mut fe, "INFO nope\r\n"), "$0\r\n\r\n");
    let everything = read_all(run(&mut c, &mut fe, "INFO everything\r\n").as_bytes())[0].text();
    assert!(everything.contains("# Server") && everything.contains("# Keyspace"));
    // The session's own database is untouched by the keyspace queries.
    assert_eq!(run(&mut c, &mut fe, "DBSIZE\r\n"), ":1\r\n");
    let stats = read_all(run(&mut c, &mut fe, "INFO stats\r\n").as_bytes())[0].text();
    assert!(stats.contains("total_error_replies:0\r\n"), "{stats}");
}

#[test]
fn maxclients_refuses_connections() {
    let (mut fe, _) = frontend();
    fe.config_mut().set("maxclients", "2").unwrap();
    let a = connect(&mut fe);
    let b = connect(&mut fe);
    let mut refused = connect(&mut fe);
    assert!(refused.is_closing());
    assert_eq!(refused.output(), b"-ERR max number of clients reached\r\n");
    assert_eq!(refused.feed(&mut fe, b"PING\r\n"), Flow::Close);
    assert_eq!(fe.stats().rejected_connections, 1);
    assert_eq!(fe.stats().connected, 2);
    fe.disconnect(refused);
    assert_eq!(fe.stats().connected, 2);
    fe.disconnect(a);
    let c = connect(&mut fe);
    assert!(!c.is_closing(), "room again");
    assert_eq!(fe.stats().connections_received, 4);
    fe.disconnect(b);
    fe.disconnect(c);
    assert_eq!(fe.stats().connected, 0);
}

/// A store that fails on demand.
struct Failing(Option<StoreError>);

impl Store for Failing {
    fn exec(
        &mut self,
        _session: u64,
        command: Command<'_>,
        reply: &mut Vec<u8>,
    ) -> Result<(), StoreError> {
        if let Some(e) = self.0 {
            reply.extend_from_slice(b"partial");
            return Err(e);
        }
        reply.extend_from_slice(b"$");
        reply.extend_from_slice(command.len().to_string().as_bytes());
        reply.extend_from_slice(b"\r\n");
        Ok(())
    }

    fn close(&mut self, _session: u64) {}
}

#[test]
fn store_errors() {
    let mut fe = Frontend::new(Failing(Some(StoreError::TooLarge)), || 0u64);
    let mut c = connect(&mut fe);
    let (out, flow) = drive(&mut c, &mut fe, b"GET k\r\nPING\r\n");
    assert_eq!(flow, Flow::Continue);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "-ERR the command or its reply is too large for the key-value store (the command may have run)\r\n+PONG\r\n"
    );
    fe.store_mut().0 = Some(StoreError::Lost);
    let (out, flow) = drive(&mut c, &mut fe, b"GET k\r\nPING\r\n");
    assert_eq!(flow, Flow::Close);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "-ERR the key-value store restarted or cannot be reached; this connection's state is lost\r\n"
    );
    assert_eq!(fe.stats().error_replies, 2);
    // INFO still answers without the store's keyspace.
    let mut d = connect(&mut fe);
    let info = read_all(&drive(&mut d, &mut fe, b"INFO keyspace\r\n").0)[0].text();
    assert_eq!(info, "# Keyspace\r\n");
}

#[test]
fn commands_reach_the_store_as_resp_arrays() {
    // Inline commands and Redis's lax framing are re-encoded; canonical
    // multibulk passes as received.
    let mut fe = Frontend::new(Failing(None), || 0u64);
    let mut c = connect(&mut fe);
    let (out, _) = drive(
        &mut c,
        &mut fe,
        b"GET \"a b\" c\r\n*2\r\n$3\r\nGETxx$1\r\nkxx*1\r\n$3\r\nGET\r\n",
    );
    assert_eq!(out, b"$3\r\n$2\r\n$1\r\n");
    let mut fe = Frontend::new(Spy(Vec::new()), || 0u64);
    let mut c = connect(&mut fe);
    drive(
        &mut c,
        &mut fe,
        b"GET \"a b\"\r\n*2\r\n$3\r\nGETxx$1\r\nkxx",
    );
    assert_eq!(
        fe.store().0,
        vec![
            b"*2\r\n$3\r\nGET\r\n$3\r\na b\r\n".to_vec(),
            b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n".to_vec()
        ]
    );
}

/// A store that records what it was sent.
struct Spy(Vec<Vec<u8>>);

impl Store for Spy {
    fn exec(
        &mut self,
        _session: u64,
        command: Command<'_>,
        reply: &mut Vec<u8>,
    ) -> Result<(), StoreError> {
        assert_eq!(command.args().len(), command.len());
        self.0.push(command.encoded().to_vec());
        reply.extend_from_slice(b"+OK\r\n");
        Ok(())
    }

    fn close(&mut self, _session: u64) {}
}

/// A store that answers INFO as the kvs server does.
struct Reporting;

impl Store for Reporting {
    fn exec(
        &mut self,
        _session: u64,
        command: Command<'_>,
        reply: &mut Vec<u8>,
    ) -> Result<(), StoreError> {
        assert_eq!(command.name(), b"INFO");
        let text = "# Memory\r\nused_memory:123456\r\n\r\n# Persistence\r\naof_enabled:1\r\n\
                    aof_rewrite_in_progress:1\r\naof_current_size:99\r\naof_last_write_status:err\r\n";
        reply.extend_from_slice(format!("${}\r\n{text}\r\n", text.len()).as_bytes());
        Ok(())
    }

    fn close(&mut self, _session: u64) {}
}

#[test]
fn info_counts_calls_per_command_and_errors_per_word() {
    let (mut fe, _) = frontend();
    let mut c = connect(&mut fe);
    run(
        &mut c,
        &mut fe,
        "SET k v\r\nGET k\r\nGET\r\nLPUSH k x\r\nCLIENT ID\r\nCLIENT NOPE\r\nNOSUCH\r\n",
    );
    let stats =
        read_all(run(&mut c, &mut fe, "INFO commandstats errorstats\r\n").as_bytes())[0].text();
    for line in [
        "cmdstat_set:calls=1,",
        "cmdstat_get:calls=1,",
        "rejected_calls=1,failed_calls=0\r\n",
        "cmdstat_lpush:calls=1,",
        "rejected_calls=0,failed_calls=1\r\n",
        "cmdstat_client|id:calls=1,",
        "cmdstat_client:calls=0,usec=0,usec_per_call=0.00,rejected_calls=1,failed_calls=0\r\n",
        "errorstat_ERR:count=3\r\n",
        "errorstat_WRONGTYPE:count=1\r\n",
    ] {
        assert!(stats.contains(line), "{line:?} in {stats}");
    }
    let get = stats
        .lines()
        .find(|l| l.starts_with("cmdstat_get:"))
        .unwrap();
    assert!(get.ends_with(",rejected_calls=1,failed_calls=0"), "{get}");
    assert_eq!(run(&mut c, &mut fe, "CONFIG RESETSTAT\r\n"), "+OK\r\n");
    let stats =
        read_all(run(&mut c, &mut fe, "INFO commandstats errorstats\r\n").as_bytes())[0].text();
    // As in Redis, CONFIG RESETSTAT counts after it reset.
    assert!(
        stats.starts_with("# Commandstats\r\ncmdstat_config|resetstat:calls=1,")
            && stats.ends_with("failed_calls=0\r\n\r\n# Errorstats\r\n"),
        "{stats}"
    );
}

#[test]
fn client_kill_reply_and_no_evict() {
    let (mut fe, _) = frontend();
    let mut a = connect(&mut fe);
    let mut b = connect(&mut fe);
    let mut c = connect(&mut fe);
    // Redis 7.0.15's answers.
    for (request, answer) in [
        ("CLIENT KILL 1.2.3.4:5\r\n", "-ERR No such client\r\n"),
        ("CLIENT KILL ID 999999\r\n", ":0\r\n"),
        (
            "CLIENT KILL ID x\r\n",
            "-ERR client-id should be greater than 0\r\n",
        ),
        ("CLIENT KILL ID\r\n", "-ERR No such client\r\n"),
        (
            "CLIENT KILL TYPE bogus\r\n",
            "-ERR Unknown client type 'bogus'\r\n",
        ),
        ("CLIENT KILL FOO bar\r\n", "-ERR syntax error\r\n"),
        ("CLIENT KILL SKIPME maybe\r\n", "-ERR syntax error\r\n"),
        (
            "CLIENT KILL USER nobody\r\n",
            "-ERR No such user 'nobody'\r\n",
        ),
        ("CLIENT KILL TYPE master\r\n", ":0\r\n"),
        ("CLIENT REPLY MAYBE\r\n", "-ERR syntax error\r\n"),
        ("CLIENT NO-EVICT x\r\n", "-ERR syntax error\r\n"),
    ] {
        assert_eq!(run(&mut a, &mut fe, request), answer, "{request:?}");
    }
    // Another connection, by id: it closes when next fed (the front end
    // names it as woken), its pending output dropped.
    let kill = format!("CLIENT KILL ID {}\r\n", b.id());
    assert_eq!(run(&mut a, &mut fe, &kill), ":1\r\n");
    assert!(fe.woken().any(|id| id == b.id()));
    assert_eq!(
        drive(&mut b, &mut fe, b"PING\r\n"),
        (Vec::new(), Flow::Close)
    );
    fe.disconnect(b);
    // By type: subscribed connections are pubsub's.
    assert!(run(&mut c, &mut fe, "SUBSCRIBE ch\r\n").starts_with("*3\r\n"));
    assert_eq!(
        run(&mut a, &mut fe, "CLIENT LIST TYPE pubsub\r\n")
            .matches("id=")
            .count(),
        1
    );
    assert_eq!(
        run(&mut a, &mut fe, "CLIENT KILL TYPE pubsub\r\n"),
        ":1\r\n"
    );
    assert_eq!(drive(&mut c, &mut fe, b"").1, Flow::Close);
    fe.disconnect(c);
    let mut c = connect(&mut fe);
    // By address.
    let addr = "127.0.0.1:50000";
    assert_eq!(
        run(
            &mut a,
            &mut fe,
            &format!("CLIENT KILL ADDR {addr} SKIPME yes\r\n")
        ),
        ":1\r\n",
        "c (every test connection has that address), not a"
    );
    assert_eq!(drive(&mut c, &mut fe, b"").1, Flow::Close);
    fe.disconnect(c);
    // REPLY: SKIP drops the next reply, OFF all until ON.
    assert_eq!(
        run(
            &mut a,
            &mut fe,
            "CLIENT REPLY SKIP\r\nPING\r\nECHO x\r\nCLIENT REPLY OFF\r\nSET k v\r\nGET k\r\nCLIENT REPLY ON\r\nGET k\r\n"
        ),
        "$1\r\nx\r\n+OK\r\n$1\r\nv\r\n"
    );
    assert_eq!(
        run(&mut a, &mut fe, "CLIENT REPLY OFF\r\nRESET\r\nPING\r\n"),
        "+RESET\r\n+PONG\r\n"
    );
    // NO-EVICT shows as flag e.
    assert_eq!(run(&mut a, &mut fe, "CLIENT NO-EVICT on\r\n"), "+OK\r\n");
    assert!(run(&mut a, &mut fe, "CLIENT INFO\r\n").contains(" flags=e "));
    // A connection killing itself answers, then closes.
    let me = format!("CLIENT KILL SKIPME no ID {}\r\n", a.id());
    assert_eq!(
        drive(&mut a, &mut fe, me.as_bytes()),
        (b":1\r\n".to_vec(), Flow::Close)
    );
}

#[test]
fn slowlog_and_latency() {
    let (mut fe, now) = frontend();
    let mut c = connect(&mut fe);
    assert_eq!(
        run(&mut c, &mut fe, "SLOWLOG LEN\r\nLATENCY LATEST\r\n"),
        ":0\r\n*0\r\n"
    );
    assert_eq!(
        run(
            &mut c,
            &mut fe,
            "CONFIG SET slowlog-log-slower-than 0 slowlog-max-len 2\r\n"
        ),
        "+OK\r\n"
    );
    run(
        &mut c,
        &mut fe,
        "CLIENT SETNAME me\r\nSET k v\r\nGET\r\nGET k\r\n",
    );
    let log = read_all(run(&mut c, &mut fe, "SLOWLOG GET\r\n").as_bytes());
    let entries = log[0].items();
    assert_eq!(
        entries.len(),
        2,
        "slowlog-max-len; the GET refused is not logged"
    );
    let newest = entries[0].items();
    assert_eq!(
        newest[3],
        Value::Array(Some(vec![Value::bulk("GET"), Value::bulk("k")]))
    );
    assert_eq!(
        (newest[4].text(), newest[5].text()),
        ("127.0.0.1:50000".into(), "me".into())
    );
    let id = |e: &Value| match e.items()[0] {
        Value::Int(n) => n,
        ref other => panic!("{other:?}"),
    };
    assert_eq!(id(&entries[1]) + 1, id(&entries[0]));
    assert_eq!(
        run(
            &mut c,
            &mut fe,
            "SLOWLOG GET -2\r\nSLOWLOG RESET\r\nSLOWLOG NOPE\r\n"
        ),
        "-ERR count should be greater than or equal to -1\r\n+OK\r\n\
         -ERR unknown subcommand 'NOPE'. Try SLOWLOG HELP.\r\n"
    );
    // SLOWLOG RESET itself is logged, as in Redis (and LEN after it
    // answered).
    assert_eq!(run(&mut c, &mut fe, "SLOWLOG LEN\r\n"), ":1\r\n");
    // The latency monitor: off by default; a command of 0 ms is no event
    // at 1 ms.
    assert!(run(&mut c, &mut fe, "LATENCY DOCTOR\r\n").contains("monitor is off"));
    run(
        &mut c,
        &mut fe,
        "CONFIG SET latency-monitor-threshold 1\r\n",
    );
    run(&mut c, &mut fe, "GET k\r\n");
    assert_eq!(
        run(&mut c, &mut fe, "LATENCY LATEST\r\nLATENCY RESET\r\n"),
        "*0\r\n:0\r\n"
    );
    let _ = now;
}

#[test]
fn info_takes_memory_and_the_log_from_the_store() {
    let mut fe = Frontend::new(Reporting, || 0u64);
    fe.config_mut().set("appendonly", "yes").unwrap();
    let mut c = connect(&mut fe);
    let memory = read_all(&drive(&mut c, &mut fe, b"INFO memory\r\n").0)[0].text();
    assert!(
        memory.contains("used_memory:123456\r\nused_memory_human:120.56K\r\n"),
        "{memory}"
    );
    let persistence = read_all(&drive(&mut c, &mut fe, b"INFO persistence\r\n").0)[0].text();
    assert!(
        persistence.ends_with(
            "aof_enabled:1\r\naof_rewrite_in_progress:1\r\naof_current_size:99\r\naof_last_write_status:err\r\n"
        ),
        "{persistence}"
    );
}

/// docs/resp.md's list of every Redis 7.0 command says, of each, whether
/// Basalt has it: what COMMAND's table holds.
#[test]
fn the_docs_list_every_command_as_the_table_has_it() {
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/resp.md"))
        .expect("docs/resp.md");
    let section = docs
        .split("### Every Redis 7.0 command")
        .nth(1)
        .and_then(|s| s.split("\n### ").next())
        .expect("the section");
    let names = |part: &str| -> Vec<String> {
        part.split('`')
            .skip(1)
            .step_by(2)
            .filter(|n| {
                n.chars()
                    .all(|c| c.is_ascii_lowercase() || "|_-".contains(c))
            })
            .map(String::from)
            .collect()
    };
    let (present, absent) = section.split_once("Absent:").expect("Absent:");
    let present = names(present.split("Present:").nth(1).expect("Present:"));
    let absent = names(absent);
    let (mut fe, _) = frontend();
    let mut c = connect(&mut fe);
    let list = read_all(run(&mut c, &mut fe, "COMMAND LIST\r\n").as_bytes());
    let table: Vec<String> = list[0].items().iter().map(|v| v.text()).collect();
    for name in &present {
        assert!(
            table.contains(name),
            "{name} is listed as present but not in the table"
        );
    }
    for name in &absent {
        assert!(
            !table.contains(name),
            "{name} is listed as absent but in the table"
        );
    }
    for name in &table {
        assert!(
            present.contains(name) || name == "client|setinfo",
            "{name} is in the table but not listed as present"
        );
    }
}

/// LATENCY HISTOGRAM: each command named (a container's subcommands), its
/// calls, and the calls that took at most each power of two µs (the
/// test's clock stands still: every call took 0 µs, at most 1).
#[test]
fn latency_histogram() {
    let (mut fe, _) = frontend();
    let mut c = connect(&mut fe);
    run(
        &mut c,
        &mut fe,
        "SET a 1\r\nGET a\r\nGET a\r\nCLIENT ID\r\n",
    );
    let reply = read_all(
        run(
            &mut c,
            &mut fe,
            "LATENCY HISTOGRAM set GET client nosuch zadd\r\n",
        )
        .as_bytes(),
    );
    let flat: Vec<String> = reply[0]
        .items()
        .iter()
        .map(|v| match v {
            Value::Array(Some(_)) => format!("{v:?}"),
            other => other.text(),
        })
        .collect();
    assert_eq!(
        flat.len(),
        6,
        "set, get and client|id, each with its map: {flat:?}"
    );
    assert_eq!([&flat[0], &flat[2], &flat[4]], ["set", "get", "client|id"]);
    let get = reply[0].items()[3].items();
    assert_eq!(get[0].text(), "calls");
    assert_eq!(get[1], Value::Int(2));
    assert_eq!(get[2].text(), "histogram_usec");
    assert_eq!(get[3].items(), [Value::Int(1), Value::Int(2)]);
    // All of them, when none is named: LATENCY itself has run by now.
    let all = read_all(run(&mut c, &mut fe, "LATENCY HISTOGRAM\r\n").as_bytes());
    assert!(all[0].items().contains(&Value::bulk("latency|histogram")));
}

/// LOLWUT: the version line Redis gives for a version without art, and
/// its error for a VERSION that is no number.
#[test]
fn lolwut() {
    let (mut fe, _) = frontend();
    let mut c = connect(&mut fe);
    let line = "$17\r\nRedis ver. 7.0.0\n\r\n";
    assert_eq!(run(&mut c, &mut fe, "LOLWUT\r\n"), line);
    assert_eq!(run(&mut c, &mut fe, "LOLWUT VERSION 5 1 2\r\n"), line);
    assert_eq!(run(&mut c, &mut fe, "LOLWUT anything\r\n"), line);
    assert_eq!(
        run(&mut c, &mut fe, "LOLWUT VERSION x\r\n"),
        "-ERR value is not an integer or out of range\r\n"
    );
    run(&mut c, &mut fe, "HELLO 3\r\n");
    assert_eq!(
        run(&mut c, &mut fe, "LOLWUT\r\n"),
        "=21\r\ntxt:Redis ver. 7.0.0\n\r\n"
    );
}

//! The rows of the commands only the RESP front end answers (CLIENT,
//! SUBSCRIBE, PUBLISH, COMMAND, …): it reports them in `COMMAND`, and the
//! store's scripts are refused them by these rows' flags.

use crate::command::Spec;
use crate::spec;

/// CLIENT's subcommands.
static CLIENT: &[Spec] = &[
    spec! {
        name: "client|caching", arity: 3, flags: [Noscript, Loading, Stale], keys: NONE,
        group: Connection, since: "6.0.0", run: None,
        summary: "Says whether the next command's keys are tracked (OPTIN, OPTOUT).",
        syntax: "mode=(YES|NO)",
    },
    spec! {
        name: "client|getname", arity: 2, flags: [Noscript, Loading, Stale], keys: NONE,
        group: Connection, since: "2.6.9", run: None,
        summary: "Returns the name of this connection.",
        syntax: "",
    },
    spec! {
        name: "client|getredir", arity: 2, flags: [Noscript, Loading, Stale], keys: NONE,
        group: Connection, since: "6.0.0", run: None,
        summary: "Returns where this connection's invalidations go (-1: not tracking).",
        syntax: "",
    },
    spec! {
        name: "client|help", arity: 2, flags: [Loading, Stale], keys: NONE,
        group: Connection, since: "5.0.0", run: None,
        summary: "Lists the CLIENT subcommands.",
        syntax: "",
    },
    spec! {
        name: "client|id", arity: 2, flags: [Noscript, Loading, Stale], keys: NONE,
        group: Connection, since: "5.0.0", run: None,
        summary: "Returns the id of this connection.",
        syntax: "",
    },
    spec! {
        name: "client|info", arity: 2, flags: [Noscript, Loading, Stale], keys: NONE,
        group: Connection, since: "6.2.0", run: None,
        summary: "Describes this connection, as one line of CLIENT LIST.",
        syntax: "",
        tips: ["nondeterministic_output"],
    },
    spec! {
        name: "client|kill", arity: -3, flags: [Admin, Noscript, Loading, Stale], keys: NONE,
        group: Connection, since: "2.4.0", run: None,
        summary: "Closes connections: one by its address, or those the filters name.",
        syntax: "(old-format|[ID client-id:integer] [TYPE (NORMAL|MASTER|SLAVE|REPLICA|PUBSUB)] [USER username] [ADDR addr] [LADDR laddr] [SKIPME (YES|NO)])",
    },
    spec! {
        name: "client|list", arity: -2, flags: [Admin, Noscript, Loading, Stale], keys: NONE,
        group: Connection, since: "2.4.0", run: None,
        summary: "Describes the open connections, one per line.",
        syntax: "[TYPE (NORMAL|MASTER|REPLICA|PUBSUB)] [ID client-id:integer...]",
        tips: ["nondeterministic_output"],
    },
    spec! {
        name: "client|no-evict", arity: 3, flags: [Admin, Noscript, Loading, Stale], keys: NONE,
        group: Connection, since: "7.0.0", run: None,
        summary: "Marks this connection as one client eviction leaves alone.",
        syntax: "enabled=(ON|OFF)",
    },
    spec! {
        name: "client|pause", arity: -3, flags: [Admin, Noscript, Loading, Stale], keys: NONE,
        group: Connection, since: "2.9.50", run: None,
        summary: "Holds the connections' commands (all, or those that write) for a while.",
        syntax: "timeout:integer [mode=(WRITE|ALL)]",
    },
    spec! {
        name: "client|reply", arity: 3, flags: [Noscript, Loading, Stale], keys: NONE,
        group: Connection, since: "3.2.0", run: None,
        summary: "Turns this connection's replies off, on, or off for the next command.",
        syntax: "action=(ON|OFF|SKIP)",
    },
    spec! {
        name: "client|setinfo", arity: 4, flags: [Noscript, Loading, Stale], keys: NONE,
        group: Connection, since: "7.2.0", run: None,
        summary: "Records the client library's name or version for CLIENT LIST.",
        syntax: "(LIB-NAME libname|LIB-VER libver)",
    },
    spec! {
        name: "client|setname", arity: 3, flags: [Noscript, Loading, Stale], keys: NONE,
        group: Connection, since: "2.6.9", run: None,
        summary: "Names this connection.",
        syntax: "connection-name",
    },
    spec! {
        name: "client|tracking", arity: -3, flags: [Noscript, Loading, Stale], keys: NONE,
        group: Connection, since: "6.0.0", run: None,
        summary: "Turns client-side caching's key tracking on or off.",
        syntax: "status=(ON|OFF) [REDIRECT client-id:integer] [PREFIX prefix...] [BCAST] [OPTIN] [OPTOUT] [NOLOOP]",
    },
    spec! {
        name: "client|trackinginfo", arity: 2, flags: [Noscript, Loading, Stale], keys: NONE,
        group: Connection, since: "6.2.0", run: None,
        summary: "Describes this connection's key tracking.",
        syntax: "",
    },
    spec! {
        name: "client|unblock", arity: -3, flags: [Admin, Noscript, Loading, Stale], keys: NONE,
        group: Connection, since: "5.0.0", run: None,
        summary: "Ends the wait of a connection blocked in BLPOP or its kin.",
        syntax: "client-id:integer [unblock_type=(TIMEOUT|ERROR)]",
    },
    spec! {
        name: "client|unpause", arity: 2, flags: [Admin, Noscript, Loading, Stale], keys: NONE,
        group: Connection, since: "6.2.0", run: None,
        summary: "Ends a CLIENT PAUSE: the commands it held run.",
        syntax: "",
    },
];

/// PUBSUB's subcommands.
static PUBSUB: &[Spec] = &[
    spec! {
        name: "pubsub|channels", arity: -2, flags: [Pubsub, Loading, Stale], keys: NONE,
        group: Pubsub, since: "2.8.0", run: None,
        summary: "Lists the channels with subscribers, those a pattern matches.",
        syntax: "[pattern]",
        acl: [],
    },
    spec! {
        name: "pubsub|help", arity: 2, flags: [Loading, Stale], keys: NONE,
        group: Pubsub, since: "6.2.0", run: None,
        summary: "Lists the PUBSUB subcommands.",
        syntax: "",
        acl: [],
    },
    spec! {
        name: "pubsub|numpat", arity: 2, flags: [Pubsub, Loading, Stale], keys: NONE,
        group: Pubsub, since: "2.8.0", run: None,
        summary: "Returns the number of patterns subscribed to.",
        syntax: "",
        acl: [],
    },
    spec! {
        name: "pubsub|numsub", arity: -2, flags: [Pubsub, Loading, Stale], keys: NONE,
        group: Pubsub, since: "2.8.0", run: None,
        summary: "Returns the subscribers of each channel (patterns not counted).",
        syntax: "[channel...]",
        acl: [],
    },
    spec! {
        name: "pubsub|shardchannels", arity: -2, flags: [Pubsub, Loading, Stale], keys: NONE,
        group: Pubsub, since: "7.0.0", run: None,
        summary: "Lists the shard channels with subscribers, those a pattern matches.",
        syntax: "[pattern]",
        acl: [],
    },
    spec! {
        name: "pubsub|shardnumsub", arity: -2, flags: [Pubsub, Loading, Stale], keys: NONE,
        group: Pubsub, since: "7.0.0", run: None,
        summary: "Returns the subscribers of each shard channel.",
        syntax: "[shardchannel...]",
        acl: [],
    },
];

/// COMMAND's subcommands.
static COMMAND: &[Spec] = &[
    spec! {
        name: "command|count", arity: 2, flags: [Loading, Stale], keys: NONE,
        group: Server, since: "2.8.13", run: None,
        summary: "Returns the number of commands.",
        syntax: "",
        acl: [Connection],
    },
    spec! {
        name: "command|docs", arity: -2, flags: [Loading, Stale], keys: NONE,
        group: Server, since: "7.0.0", run: None,
        summary: "Describes commands and their arguments.",
        syntax: "[command-name...]",
        acl: [Connection],
        tips: ["nondeterministic_output_order"],
    },
    spec! {
        name: "command|getkeys", arity: -4, flags: [Loading, Stale], keys: NONE,
        group: Server, since: "2.8.13", run: None,
        summary: "Returns the keys of a whole command, as the command table finds them.",
        syntax: "command args...",
        acl: [Connection],
    },
    spec! {
        name: "command|getkeysandflags", arity: -4, flags: [Loading, Stale], keys: NONE,
        group: Server, since: "7.0.0", run: None,
        summary: "Returns the keys of a whole command, each with what the command does with it.",
        syntax: "command args...",
        acl: [Connection],
    },
    spec! {
        name: "command|help", arity: 2, flags: [Loading, Stale], keys: NONE,
        group: Server, since: "5.0.0", run: None,
        summary: "Lists the COMMAND subcommands.",
        syntax: "",
        acl: [Connection],
    },
    spec! {
        name: "command|info", arity: -2, flags: [Loading, Stale], keys: NONE,
        group: Server, since: "2.8.13", run: None,
        summary: "Returns arity, flags and key positions of commands.",
        syntax: "[command-name...]",
        acl: [Connection],
        tips: ["nondeterministic_output_order"],
    },
    spec! {
        name: "command|list", arity: -2, flags: [Loading, Stale], keys: NONE,
        group: Server, since: "7.0.0", run: None,
        summary: "Returns the names of all commands.",
        syntax: "",
        acl: [Connection],
        tips: ["nondeterministic_output_order"],
    },
];

/// LATENCY's subcommands.
static LATENCY: &[Spec] = &[
    spec! {
        name: "latency|doctor", arity: 2, flags: [Admin, Noscript, Loading, Stale], keys: NONE,
        group: Server, since: "2.8.13", run: None,
        summary: "Describes the latency events recorded, for a person.",
        syntax: "",
        tips: ["nondeterministic_output", "request_policy:all_nodes", "response_policy:special"],
    },
    spec! {
        name: "latency|graph", arity: 3, flags: [Admin, Noscript, Loading, Stale], keys: NONE,
        group: Server, since: "2.8.13", run: None,
        summary: "Draws an event's samples as a chart of text.",
        syntax: "event",
        tips: ["nondeterministic_output", "request_policy:all_nodes", "response_policy:special"],
    },
    spec! {
        name: "latency|help", arity: 2, flags: [Loading, Stale], keys: NONE,
        group: Server, since: "2.8.13", run: None,
        summary: "Lists the LATENCY subcommands.",
        syntax: "",
    },
    spec! {
        name: "latency|histogram", arity: -2, flags: [Admin, Noscript, Loading, Stale], keys: NONE,
        group: Server, since: "7.0.0", run: None,
        summary: "Returns how long the commands took: each one's calls, in buckets of powers of two microseconds.",
        syntax: "[command...]",
        tips: ["nondeterministic_output", "request_policy:all_nodes", "response_policy:special"],
    },
    spec! {
        name: "latency|history", arity: 3, flags: [Admin, Noscript, Loading, Stale], keys: NONE,
        group: Server, since: "2.8.13", run: None,
        summary: "Returns an event's samples: when, and how many milliseconds.",
        syntax: "event",
        tips: ["nondeterministic_output", "request_policy:all_nodes", "response_policy:special"],
    },
    spec! {
        name: "latency|latest", arity: 2, flags: [Admin, Noscript, Loading, Stale], keys: NONE,
        group: Server, since: "2.8.13", run: None,
        summary: "Returns each event's latest sample and its longest.",
        syntax: "",
        tips: ["nondeterministic_output", "request_policy:all_nodes", "response_policy:special"],
    },
    spec! {
        name: "latency|reset", arity: -2, flags: [Admin, Noscript, Loading, Stale], keys: NONE,
        group: Server, since: "2.8.13", run: None,
        summary: "Forgets the events named, or all of them.",
        syntax: "[event...]",
        tips: ["request_policy:all_nodes", "response_policy:all_succeeded"],
    },
];

/// SLOWLOG's subcommands.
static SLOWLOG: &[Spec] = &[
    spec! {
        name: "slowlog|get", arity: -2, flags: [Admin, Loading, Stale], keys: NONE,
        group: Server, since: "2.2.12", run: None,
        summary: "Returns the slow log's newest entries.",
        syntax: "[count:integer]",
        tips: ["request_policy:all_nodes", "nondeterministic_output"],
    },
    spec! {
        name: "slowlog|help", arity: 2, flags: [Loading, Stale], keys: NONE,
        group: Server, since: "6.2.0", run: None,
        summary: "Lists the SLOWLOG subcommands.",
        syntax: "",
    },
    spec! {
        name: "slowlog|len", arity: 2, flags: [Admin, Loading, Stale], keys: NONE,
        group: Server, since: "2.2.12", run: None,
        summary: "Returns the number of entries in the slow log.",
        syntax: "",
        tips: ["request_policy:all_nodes", "response_policy:agg_sum", "nondeterministic_output"],
    },
    spec! {
        name: "slowlog|reset", arity: 2, flags: [Admin, Loading, Stale], keys: NONE,
        group: Server, since: "2.2.12", run: None,
        summary: "Empties the slow log.",
        syntax: "",
        tips: ["request_policy:all_nodes", "response_policy:all_succeeded"],
    },
];

/// The commands only the RESP front end answers, sorted by name (a test
/// checks the order); the store's are [`COMMANDS`](super::COMMANDS).
pub static FRONT_END: &[Spec] = &[
    spec! {
        name: "auth", arity: -2, flags: [Noscript, Loading, Stale, Fast, NoAuth, AllowBusy], keys: NONE,
        group: Connection, since: "1.0.0", run: None,
        summary: "Authenticates the connection (there is only the default user, without a password).",
        syntax: "[username] password",
    },
    spec! {
        name: "client", arity: -2, flags: [], keys: NONE,
        group: Connection, since: "2.4.0", run: None,
        summary: "Inspects and names connections.",
        syntax: "",
        subcommands: CLIENT,
    },
    spec! {
        name: "command", arity: -1, flags: [Loading, Stale], keys: NONE,
        group: Server, since: "2.8.13", run: None,
        summary: "Describes the commands.",
        syntax: "",
        acl: [Connection],
        tips: ["nondeterministic_output_order"],
        subcommands: COMMAND,
    },
    spec! {
        name: "hello", arity: -1, flags: [Noscript, Loading, Stale, Fast, NoAuth, AllowBusy], keys: NONE,
        group: Connection, since: "6.0.0", run: None,
        summary: "Handshakes: chooses the protocol (2 or 3), optionally authenticates and names the connection.",
        syntax: "[protover:integer [AUTH (username password)] [SETNAME clientname]]",
    },
    spec! {
        name: "info", arity: -1, flags: [Loading, Stale], keys: NONE,
        group: Server, since: "1.0.0", run: None,
        summary: "Reports the server's state and counters.",
        syntax: "[section...]",
        acl: [Dangerous],
        tips: ["nondeterministic_output", "request_policy:all_shards", "response_policy:special"],
    },
    spec! {
        name: "latency", arity: -2, flags: [], keys: NONE,
        group: Server, since: "2.8.13", run: None,
        summary: "Reports the latency monitor's events.",
        syntax: "",
        subcommands: LATENCY,
    },
    spec! {
        name: "lolwut", arity: -1, flags: [Readonly, Fast], keys: NONE,
        group: Server, since: "5.0.0", run: None,
        summary: "Returns the version line Redis gives for a LOLWUT version without art.",
        syntax: "[VERSION version:integer]",
    },
    spec! {
        name: "monitor", arity: 1, flags: [Admin, Noscript, Loading, Stale], keys: NONE,
        group: Server, since: "1.0.0", run: None,
        summary: "Streams every command the server runs to this connection.",
        syntax: "",
    },
    spec! {
        name: "psubscribe", arity: -2, flags: [Pubsub, Noscript, Loading, Stale], keys: NONE,
        group: Pubsub, since: "2.0.0", run: None,
        summary: "Listens for messages on the channels that glob patterns match.",
        syntax: "pattern...",
        acl: [],
    },
    spec! {
        name: "publish", arity: 3, flags: [Pubsub, Loading, Stale, Fast, MayReplicate], keys: NONE,
        group: Pubsub, since: "2.0.0", run: None,
        summary: "Sends a message to a channel's subscribers; returns how many got it.",
        syntax: "channel message",
        acl: [],
    },
    spec! {
        name: "pubsub", arity: -2, flags: [], keys: NONE,
        group: Pubsub, since: "2.8.0", run: None,
        summary: "Inspects the Pub/Sub state.",
        syntax: "",
        subcommands: PUBSUB,
    },
    spec! {
        name: "punsubscribe", arity: -1, flags: [Pubsub, Noscript, Loading, Stale], keys: NONE,
        group: Pubsub, since: "2.0.0", run: None,
        summary: "Stops listening on patterns (all of them without arguments).",
        syntax: "[pattern...]",
        acl: [],
    },
    spec! {
        name: "quit", arity: -1, flags: [Noscript, Loading, Stale, Fast, NoAuth, AllowBusy], keys: NONE,
        group: Connection, since: "1.0.0", run: None,
        summary: "Closes the connection.",
        syntax: "",
    },
    spec! {
        name: "reset", arity: 1, flags: [Noscript, Loading, Stale, Fast, NoAuth, AllowBusy],
        keys: NONE, group: Connection, since: "6.2.0", run: None,
        summary: "Resets the connection: no transaction, no subscription, database 0, no name.",
        syntax: "",
    },
    spec! {
        name: "role", arity: 1, flags: [Noscript, Loading, Stale, Fast], keys: NONE,
        group: Server, since: "2.8.12", run: None,
        summary: "Returns the server's replication role: a master with no replicas.",
        syntax: "",
        acl: [Admin, Dangerous],
    },
    spec! {
        name: "slowlog", arity: -2, flags: [], keys: NONE,
        group: Server, since: "2.2.12", run: None,
        summary: "Reports the slow log.",
        syntax: "",
        subcommands: SLOWLOG,
    },
    spec! {
        name: "spublish", arity: 3, flags: [Pubsub, Loading, Stale, Fast, MayReplicate], keys: ONE,
        group: Pubsub, since: "7.0.0", run: None,
        summary: "Sends a message to a shard channel's subscribers; returns how many got it.",
        syntax: "shardchannel message",
        acl: [],
        key_specs: [[NotKey; index(1); range(0, 1, 0)]],
    },
    spec! {
        name: "ssubscribe", arity: -2, flags: [Pubsub, Noscript, Loading, Stale], keys: ALL,
        group: Pubsub, since: "7.0.0", run: None,
        summary: "Listens for messages on shard channels.",
        syntax: "shardchannel...",
        acl: [],
        key_specs: [[NotKey; index(1); range(-1, 1, 0)]],
    },
    spec! {
        name: "subscribe", arity: -2, flags: [Pubsub, Noscript, Loading, Stale], keys: NONE,
        group: Pubsub, since: "2.0.0", run: None,
        summary: "Listens for messages on channels.",
        syntax: "channel...",
        acl: [],
    },
    spec! {
        name: "sunsubscribe", arity: -1, flags: [Pubsub, Noscript, Loading, Stale], keys: ALL,
        group: Pubsub, since: "7.0.0", run: None,
        summary: "Stops listening on shard channels (all of them without arguments).",
        syntax: "[shardchannel...]",
        acl: [],
        key_specs: [[NotKey; index(1); range(-1, 1, 0)]],
    },
    spec! {
        name: "time", arity: 1, flags: [Loading, Stale, Fast], keys: NONE,
        group: Server, since: "2.6.0", run: None,
        summary: "Returns the server's time: seconds and microseconds.",
        syntax: "",
        tips: ["nondeterministic_output"],
    },
    spec! {
        name: "unsubscribe", arity: -1, flags: [Pubsub, Noscript, Loading, Stale], keys: NONE,
        group: Pubsub, since: "2.0.0", run: None,
        summary: "Stops listening on channels (all of them without arguments).",
        syntax: "[channel...]",
        acl: [],
    },
];

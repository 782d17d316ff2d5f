//! One test per kind of error, each checking the message and where it
//! points (`file:line:col`), plus the manifest a sound tree yields.

use super::*;
use declare::Binary;
use manifest::{Budget, Device, Exhausted, Heap, PciInterrupt, Restart};

const SYSTEM: &str = "name = \"demo\"\n";
const SERVER: &str = "binary = \"srv\"\npriority = 100\nserves = [\"greeter\"]\n";
const CLIENT: &str = "binary = \"cli\"\npriority = 90\nuses = [\"greeter\"]\n";

/// What the tests' binaries declare: `srv`, `cli` and `x` the arguments
/// the tests below give them, `w` one of each kind; `bare`'s crate
/// declares nothing.
fn decls() -> Declarations {
    let mut d = Declarations::default();
    d.declare(
        "srv",
        "srv/Cargo.toml",
        "mode = \"text\"\nport = \"port\"\nverbose = [\"true\", \"false\"]\n",
    );
    d.declare("cli", "cli/Cargo.toml", "who = \"text\"\n");
    d.declare("x", "x/Cargo.toml", "text = \"text\"\n");
    d.declare("drv", "drv/Cargo.toml", "dma = \"dma\"\n");
    d.declare(
        "need",
        "need/Cargo.toml",
        "kvs = \"channel\"\nev = \"notification\"\n\
         spare = { kind = \"region\", optional = true }\n",
    );
    d.declare(
        "w",
        "w/Cargo.toml",
        "count = \"count\"\nport = \"port\"\nsize = \"size\"\nmode = [\"fast\", \"slow\"]\n\
         flag = [\"true\", \"false\"]\nnote = \"text\"\n\
         region = { kind = \"region\", optional = true }\n\
         wait = { kind = \"notification\", optional = true }\n\
         wake = { kind = \"signal\", optional = true }\n\
         chan = { kind = \"channel\", optional = true }\n\
         irq = { kind = \"irq\", optional = true }\n\
         ports = { kind = \"io-ports\", optional = true }\n\
         dev = { kind = \"device\", optional = true }\n\
         \"quota-<region>\" = \"count\"\n\"x-*\" = \"text\"\n",
    );
    d.binaries.insert(
        "bare".into(),
        Binary {
            source: "bare/Cargo.toml".into(),
            args: None,
        },
    );
    d
}

fn tree(files: &[(&str, &str)]) -> Tree {
    let mut files: Vec<(String, String)> = files
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    files.sort();
    Tree {
        dir: "cfg".into(),
        files,
    }
}

/// The `file:line:col: message` lines of a tree that must fail.
fn errors(files: &[(&str, &str)]) -> Vec<String> {
    match check(&tree(files), &decls()) {
        Ok(m) => panic!("the tree passed: {m:?}"),
        Err(report) => report.headlines(),
    }
}

/// The one error of a tree that must fail with exactly one.
fn error(files: &[(&str, &str)]) -> String {
    let e = errors(files);
    assert_eq!(e.len(), 1, "expected one error, got {e:#?}");
    e.into_iter().next().unwrap()
}

fn ok(files: &[(&str, &str)]) -> Manifest {
    match check(&tree(files), &decls()) {
        Ok(m) => m,
        Err(report) => panic!("the tree failed:\n{}", report.render()),
    }
}

fn assert_starts(got: &str, wanted: &str) {
    assert!(
        got.starts_with(wanted),
        "got\n  {got}\nwanted it to start with\n  {wanted}"
    );
}

#[test]
fn a_sound_tree_becomes_a_manifest() {
    let m = ok(&[
        (
            "system.toml",
            "name = \"demo\"\nmemory = \"64 MiB\"\n\
             [[region]]\nname = \"log\"\nsize = \"8 KiB\"\nwriters = [\"server\"]\nreaders = [\"client\"]\n",
        ),
        (
            "server.toml",
            "binary = \"srv\"\npriority = 100\nheap = \"1 MiB\"\nstack = 8192\n\
             serves = [\"greeter\"]\nnotifications = [\"done\"]\n\
             [args]\nmode = \"fast\"\nport = 6379\nverbose = true\n\
             [[device]]\nkind = \"irq\"\nname = \"rtc\"\nirq = 8\n\
             [[device]]\nkind = \"io-ports\"\nname = \"cmos\"\nfirst = 0x70\nlast = 0x71\n\
             [[device]]\nkind = \"pci\"\nname = \"net\"\nvendor = 0x1af4\ndevice = 0x1041\n\
             interrupt = \"msi\"\n",
        ),
        (
            "client.toml",
            "binary = \"cli\"\npriority = 90\nrestart = \"on-failure\"\nrestart-limit = 5\n\
             uses = [\"greeter\"]\nsignals = [\"done\"]\n",
        ),
        (
            "other.toml",
            "binary = \"cli\"\npriority = 0\nrestart = \"always\"\nuses = [\"greeter\"]\n",
        ),
    ]);
    assert_eq!(m.system, "demo");
    // Without a `components` list: every file but system.toml, by name.
    let names: Vec<&str> = m.components.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["client", "other", "server"]);
    let server = &m.components[2];
    assert_eq!(server.binary, "srv");
    assert_eq!(
        (server.heap, server.stack_bytes),
        (Heap::Bytes(1 << 20), 8192)
    );
    assert_eq!(server.restart, Restart::Never);
    assert_eq!(
        server.args,
        [
            ("mode".to_string(), "fast".to_string()),
            ("port".into(), "6379".into()),
            ("verbose".into(), "true".into())
        ]
    );
    assert_eq!(
        server.devices,
        [
            Device::Irq {
                name: "rtc".into(),
                irq: 8
            },
            Device::IoPorts {
                name: "cmos".into(),
                first: 0x70,
                last: 0x71
            },
            Device::Pci {
                name: "net".into(),
                ids: vec![manifest::PciId {
                    vendor: 0x1af4,
                    device: 0x1041
                }],
                interrupt: PciInterrupt::Msi,
            }
        ]
    );
    let client = &m.components[0];
    assert_eq!(
        client.restart,
        Restart::OnFailure {
            budget: Budget {
                limit: 5,
                window_s: parse::DEFAULT_RESTART_WINDOW,
                exhausted: Exhausted::BackOff
            }
        }
    );
    assert_eq!(
        (client.heap, client.stack_bytes),
        (Heap::Bytes(parse::DEFAULT_HEAP), parse::DEFAULT_STACK)
    );
    assert_eq!(m.components[1].restart, Restart::Always);
    assert_eq!(m.channels.len(), 1);
    assert_eq!(m.channels[0].name, "greeter");
    assert_eq!(
        (m.channels[0].server, &m.channels[0].clients[..]),
        (2, &[0, 1][..])
    );
    assert_eq!(m.notifications[0].name, "done");
    assert_eq!(
        (m.notifications[0].owner, &m.notifications[0].signallers[..]),
        (2, &[0][..])
    );
    assert_eq!(m.regions[0].size, 8192);
    assert_eq!(m.regions[0].users, [(0, false), (2, true)]);
    // The server starts first, then its clients in the listed order.
    assert_eq!(m.start_sequence(), [2, 0, 1]);
}

#[test]
fn the_components_list_sets_the_order() {
    let m = ok(&[
        (
            "system.toml",
            "name = \"demo\"\ncomponents = [\"server\", \"client\"]\n",
        ),
        ("server.toml", SERVER),
        ("client.toml", CLIENT),
    ]);
    let names: Vec<&str> = m.components.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["server", "client"]);
    assert_eq!(m.channels[0].server, 0);
    assert_eq!(m.channels[0].clients, [1]);
}

#[test]
fn servers_start_before_their_clients_down_a_chain() {
    let m = ok(&[
        (
            "system.toml",
            "name = \"demo\"\ncomponents = [\"a\", \"b\", \"c\"]\n",
        ),
        ("a.toml", "binary = \"x\"\npriority = 1\nuses = [\"bee\"]\n"),
        (
            "b.toml",
            "binary = \"x\"\npriority = 1\nserves = [\"bee\"]\nuses = [\"sea\"]\n",
        ),
        (
            "c.toml",
            "binary = \"x\"\npriority = 1\nserves = [\"sea\"]\n",
        ),
    ]);
    assert_eq!(m.start_sequence(), [2, 1, 0]);
    assert_eq!(m.components[0].start_order, 2);
}

#[test]
fn the_hello_tree_and_every_tree_in_config_pass() {
    // With what the workspace's binaries really declare.
    let real = match declare::load(&crate::build::root()) {
        Ok(d) => d,
        Err(report) => panic!("the declarations fail:\n{}", report.render()),
    };
    let root = crate::build::root().join("config");
    let mut checked = 0;
    for entry in fs::read_dir(&root).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let tree = Tree::read(&dir).unwrap();
        if let Err(report) = check(&tree, &real) {
            panic!("{} fails:\n{}", dir.display(), report.render());
        }
        checked += 1;
    }
    assert!(checked >= 1);
    let hello = check(&Tree::read(&root.join("hello")).unwrap(), &real).unwrap();
    assert_eq!(hello.system, "hello");
    assert_eq!(hello.components[0].name, "hello-server");
    assert_eq!(hello.components[1].name, "hello-client");
    assert!(matches!(
        hello.components[1].restart,
        Restart::OnFailure {
            budget: Budget { limit: 3, .. }
        }
    ));
    assert_eq!(hello.channels[0].name, "greeter");
    assert_eq!(
        (hello.channels[0].server, &hello.channels[0].clients[..]),
        (0, &[1][..])
    );
}

#[test]
fn errors_print_the_place_the_line_and_a_caret() {
    let report = check(
        &tree(&[
            ("system.toml", SYSTEM),
            ("a.toml", "binary = \"x\"\n\tpriority = 300\n"),
        ]),
        &decls(),
    )
    .unwrap_err();
    assert_eq!(
        report.render(),
        "cfg/a.toml:2:13: `priority` = 300 is out of range: components use 0-254\n    \
         \tpriority = 300\n    \t           ^^^\n"
    );
}

#[test]
fn toml_syntax_errors_are_reported_where_they_are() {
    let e = error(&[
        ("system.toml", SYSTEM),
        ("a.toml", "binary = \"x\"\npriority = \n"),
    ]);
    assert_starts(&e, "cfg/a.toml:2:12: TOML syntax: ");
}

#[test]
fn unknown_keys_are_reported_with_a_suggestion() {
    let e = errors(&[
        ("system.toml", "name = \"demo\"\ncolour = \"red\"\n"),
        ("a.toml", "binary = \"x\"\npriority = 1\nprority = 2\n"),
        (
            "b.toml",
            "binary = \"x\"\npriority = 1\n[[device]]\nkind = \"irq\"\nname = \"rtc\"\nirq = 8\nfirst = 1\n",
        ),
    ]);
    assert_eq!(e.len(), 3, "{e:#?}");
    assert_starts(
        &e[0],
        "cfg/a.toml:3:1: unknown key `prority` in a.toml; did you mean `priority`?",
    );
    assert_starts(
        &e[1],
        "cfg/b.toml:7:1: unknown key `first` in an irq device",
    );
    assert_starts(
        &e[2],
        "cfg/system.toml:2:1: unknown key `colour` in system.toml (known keys: name, memory, components, region)",
    );
}

#[test]
fn missing_required_keys_are_reported() {
    let e = errors(&[
        (
            "system.toml",
            "memory = \"64 MiB\"\n[[region]]\nname = \"r\"\nreaders = [\"a\"]\n",
        ),
        (
            "a.toml",
            "priority = 1\n[[device]]\nkind = \"io-ports\"\nname = \"p\"\nfirst = 0x70\n",
        ),
    ]);
    assert_eq!(e.len(), 4, "{e:#?}");
    assert_eq!(
        e[0],
        "cfg/a.toml:1:1: missing required key `binary` in a.toml (e.g. `binary = \"a\"`)"
    );
    assert_eq!(
        e[1],
        "cfg/a.toml:2:1: missing required key `last` in an io-ports device (e.g. `last = 0x71`)"
    );
    assert_eq!(
        e[2],
        "cfg/system.toml:1:1: missing required key `name` in system.toml (e.g. `name = \"hello\"`)"
    );
    assert_starts(
        &e[3],
        "cfg/system.toml:2:1: missing required key `size` in [[region]]",
    );
}

#[test]
fn values_of_the_wrong_type_are_reported() {
    let e = error(&[
        ("system.toml", SYSTEM),
        ("a.toml", "binary = 7\npriority = 1\n"),
    ]);
    assert_eq!(
        e,
        "cfg/a.toml:1:10: `binary` must be a string, not an integer"
    );
}

#[test]
fn a_component_listed_twice_is_reported() {
    let e = error(&[
        (
            "system.toml",
            "name = \"demo\"\ncomponents = [\"a\", \"b\", \"a\"]\n",
        ),
        ("a.toml", "binary = \"x\"\npriority = 1\n"),
        ("b.toml", "binary = \"x\"\npriority = 1\n"),
    ]);
    assert_eq!(
        e,
        "cfg/system.toml:2:25: component `a` is listed twice (first at 2:15)"
    );
}

#[test]
fn a_listed_component_without_a_file_is_reported() {
    let e = error(&[
        (
            "system.toml",
            "name = \"demo\"\ncomponents = [\"a\", \"ghost\"]\n",
        ),
        ("a.toml", "binary = \"x\"\npriority = 1\n"),
    ]);
    assert_eq!(
        e,
        "cfg/system.toml:2:20: component `ghost` has no file: create cfg/ghost.toml"
    );
}

#[test]
fn a_component_file_not_listed_is_reported() {
    let e = error(&[
        ("system.toml", "name = \"demo\"\ncomponents = [\"a\"]\n"),
        ("a.toml", "binary = \"x\"\npriority = 1\n"),
        ("stray.toml", "binary = \"x\"\npriority = 1\n"),
    ]);
    assert_eq!(
        e,
        "cfg/system.toml:2:14: stray.toml is not listed in `components`: add \"stray\" or remove the file"
    );
}

#[test]
fn a_tree_without_a_system_file_is_reported() {
    let e = error(&[("a.toml", "binary = \"x\"\npriority = 1\n")]);
    assert_starts(&e, "cfg/system.toml:1:1: cfg has no system.toml");
}

#[test]
fn a_channel_nobody_serves_is_reported() {
    let e = error(&[("system.toml", SYSTEM), ("client.toml", CLIENT)]);
    assert_eq!(
        e,
        "cfg/client.toml:3:9: channel `greeter` is used but no component serves it"
    );
}

#[test]
fn a_channel_served_twice_is_reported() {
    let e = error(&[
        ("system.toml", SYSTEM),
        ("a.toml", SERVER),
        (
            "b.toml",
            "binary = \"x\"\npriority = 1\nserves = [\"other\", \"greeter\"]\n",
        ),
    ]);
    assert_eq!(
        e,
        "cfg/b.toml:3:20: channel `greeter` is served by both `a` (a.toml:3) and `b`: a channel has one server"
    );
}

#[test]
fn notifications_need_exactly_one_owner() {
    let e = errors(&[
        ("system.toml", SYSTEM),
        (
            "a.toml",
            "binary = \"x\"\npriority = 1\nnotifications = [\"irq\"]\nsignals = [\"tick\"]\n",
        ),
        (
            "b.toml",
            "binary = \"x\"\npriority = 1\nnotifications = [\"irq\"]\n",
        ),
    ]);
    assert_eq!(
        e,
        [
            "cfg/a.toml:4:12: notification `tick` is signalled but no component lists it in `notifications`",
            "cfg/b.toml:3:18: notification `irq` is waited on by both `a` (a.toml:3) and `b`: a notification has one owner",
        ]
    );
}

#[test]
fn a_name_shared_by_a_channel_a_notification_or_a_region_is_reported() {
    let e = errors(&[
        (
            "system.toml",
            "name = \"demo\"\n[[region]]\nname = \"greeter\"\nsize = 4096\nreaders = [\"a\"]\n",
        ),
        ("a.toml", SERVER),
        (
            "b.toml",
            "binary = \"x\"\npriority = 1\nnotifications = [\"greeter\"]\n",
        ),
    ]);
    assert_eq!(
        e,
        [
            "cfg/b.toml:3:18: `greeter` names both a channel (a.toml:3) and a notification: channels, notifications and regions need distinct names",
            "cfg/system.toml:3:8: `greeter` names both a channel (a.toml:3) and a region: channels, notifications and regions need distinct names",
        ]
    );
}

#[test]
fn regions_need_known_users_and_distinct_names() {
    let e = errors(&[
        (
            "system.toml",
            "name = \"demo\"\n\
             [[region]]\nname = \"r\"\nsize = 4096\nwriters = [\"a\", \"nobody\"]\n\
             [[region]]\nname = \"r\"\nsize = 4096\nwriters = [\"a\"]\nreaders = [\"a\"]\n\
             [[region]]\nname = \"empty\"\nsize = 4096\n",
        ),
        ("a.toml", "binary = \"x\"\npriority = 1\n"),
    ]);
    assert_eq!(
        e,
        [
            "cfg/system.toml:5:17: region user `nobody` is not a component of this system",
            "cfg/system.toml:7:8: region `r` is declared twice (first at system.toml:3)",
            "cfg/system.toml:9:12: `a` is both a writer and a reader of this region: list it in one",
            "cfg/system.toml:11:1: this region has no users: list components in `writers` or `readers`",
        ]
    );
}

#[test]
fn a_pci_device_may_list_the_functions_it_takes() {
    let a = "binary = \"x\"\npriority = 1\n[[device]]\nkind = \"pci\"\nname = \"nic\"\n\
             ids = [\"1af4:1000\", \"8086:100E\"]\ninterrupt = \"msi\"\n";
    let m = check(&tree(&[("system.toml", SYSTEM), ("a.toml", a)]), &decls()).expect("valid");
    let ids = |d: &Device| match d {
        Device::Pci { ids, .. } => ids.iter().map(|i| i.to_string()).collect::<Vec<_>>(),
        _ => Vec::new(),
    };
    assert_eq!(ids(&m.components[0].devices[0]), ["1af4:1000", "8086:100e"]);
    // What it may not say, each named where it is.
    let bad = "binary = \"x\"\npriority = 1\n\
               [[device]]\nkind = \"pci\"\nname = \"n1\"\nids = [\"8086\", \"ffff:0001\", 5, \"8086:100e\", \"8086:100e\"]\n\
               [[device]]\nkind = \"pci\"\nname = \"n2\"\nids = []\n\
               [[device]]\nkind = \"pci\"\nname = \"n3\"\nvendor = 1\nids = [\"0001:0002\"]\n";
    let e = errors(&[("system.toml", SYSTEM), ("a.toml", bad)]);
    assert_eq!(
        e,
        [
            "cfg/a.toml:6:8: `ids`: \"8086\" is not a PCI vendor and device ID such as \"8086:100e\" (four hex digits each; vendor ffff is no device)",
            "cfg/a.toml:6:16: `ids`: \"ffff:0001\" is not a PCI vendor and device ID such as \"8086:100e\" (four hex digits each; vendor ffff is no device)",
            "cfg/a.toml:6:29: `ids` must be a string, not an integer",
            "cfg/a.toml:6:45: `8086:100e` is listed twice in `ids`",
            "cfg/a.toml:10:7: `ids` is empty: name at least one PCI function such as \"8086:100e\"",
            "cfg/a.toml:14:10: `vendor` with `ids`: name the function by one or the other",
        ]
    );
    // Two devices that could be the same function.
    let other = "binary = \"x\"\npriority = 1\n[[device]]\nkind = \"pci\"\nname = \"nic\"\nvendor = 0x8086\ndevice = 0x100e\n";
    let e = errors(&[("system.toml", SYSTEM), ("a.toml", a), ("b.toml", other)]);
    assert_eq!(
        e,
        ["cfg/b.toml:3:1: PCI device 8086:100e is already granted to `a` (a.toml:3)"]
    );
}

#[test]
fn a_device_granted_twice_is_reported() {
    let irq = "[[device]]\nkind = \"irq\"\nname = \"rtc\"\nirq = 8\n";
    let pci = "[[device]]\nkind = \"pci\"\nname = \"nic\"\nvendor = 0x8086\ndevice = 0x10d3\n";
    let e = errors(&[
        ("system.toml", SYSTEM),
        (
            "a.toml",
            &format!("binary = \"x\"\npriority = 1\n{irq}{pci}"),
        ),
        (
            "b.toml",
            &format!("binary = \"x\"\npriority = 1\n{irq}{pci}"),
        ),
    ]);
    assert_eq!(
        e,
        [
            "cfg/b.toml:3:1: IRQ 8 is already granted to `a` (a.toml:3)",
            "cfg/b.toml:7:1: PCI device 8086:10d3 is already granted to `a` (a.toml:7)",
        ]
    );
}

#[test]
fn overlapping_port_ranges_are_reported() {
    let ports = |name: &str, first: &str, last: &str| {
        format!(
            "[[device]]\nkind = \"io-ports\"\nname = \"{name}\"\nfirst = {first}\nlast = {last}\n"
        )
    };
    let e = errors(&[
        ("system.toml", SYSTEM),
        (
            "a.toml",
            &format!(
                "binary = \"x\"\npriority = 1\n{}",
                ports("cmos", "0x70", "0x71")
            ),
        ),
        (
            "b.toml",
            &format!(
                "binary = \"x\"\npriority = 1\n{}{}",
                ports("rtc", "0x71", "0x72"),
                ports("ok", "0x72", "0x72")
            ),
        ),
    ]);
    assert_eq!(
        e,
        [
            "cfg/b.toml:3:1: I/O ports 0x71-0x72 overlap 0x70-0x71, already granted to `a` (a.toml:3)",
            "cfg/b.toml:8:1: I/O ports 0x72-0x72 overlap 0x71-0x72, already granted to `b` (b.toml:3)",
        ]
    );
}

#[test]
fn ports_the_kernel_or_init_keeps_and_bad_device_values_are_reported() {
    let e = errors(&[
        ("system.toml", SYSTEM),
        (
            "a.toml",
            "binary = \"x\"\npriority = 1\n\
             [[device]]\nkind = \"io-ports\"\nname = \"serial\"\nfirst = 0x3f8\nlast = 0x3f8\n\
             [[device]]\nkind = \"irq\"\nname = \"big\"\nirq = 24\n\
             [[device]]\nkind = \"gpio\"\nname = \"g\"\n\
             [[device]]\nkind = \"io-ports\"\nname = \"back\"\nfirst = 0x80\nlast = 0x7f\n\
             [[device]]\nkind = \"io-ports\"\nname = \"pci-config\"\nfirst = 0xcf8\nlast = 0xcff\n\
             [[device]]\nkind = \"pci\"\nname = \"nic\"\nvendor = 1\ndevice = 2\ninterrupt = \"intx\"\n\
             [[device]]\nkind = \"pci\"\nname = \"a-pci-device-name-26-bytes\"\nvendor = 1\ndevice = 3\n",
        ),
    ]);
    assert_eq!(
        e,
        [
            "cfg/a.toml:3:1: ports 0x3f8-0x3f8 include 0x3f8-0x3ff, which the kernel keeps (COM1)",
            "cfg/a.toml:11:7: `irq` = 24 is out of range: IRQ lines are 0-23",
            "cfg/a.toml:13:8: unknown device kind `gpio`: use \"irq\", \"io-ports\" or \"pci\"",
            "cfg/a.toml:15:1: port range 0x80-0x7f is empty: `first` is above `last`",
            "cfg/a.toml:20:1: ports 0xcf8-0xcff include 0xcf8-0xcff, the PCI configuration ports, which init keeps: \
             a driver gets its own function's configuration space from its `kind = \"pci\"` device",
            "cfg/a.toml:30:13: unknown PCI interrupt `intx`: use \"none\", \"msi\" or \"any\"",
            "cfg/a.toml:33:8: `name`: `a-pci-device-name-26-bytes` is 26 bytes long; names are at most 25 bytes",
        ]
    );
}

#[test]
fn memory_beyond_the_budget_is_reported() {
    let e = error(&[
        (
            "system.toml",
            "name = \"demo\"\nmemory = \"1536 KiB\"\n[[region]]\nname = \"big\"\nsize = \"1 MiB\"\nreaders = [\"a\"]\n",
        ),
        (
            "a.toml",
            "binary = \"x\"\npriority = 1\nheap = \"512 KiB\"\nstack = \"64 KiB\"\n",
        ),
    ]);
    assert_eq!(
        e,
        "cfg/system.toml:2:10: the system needs 2112 KiB (heaps 512 KiB, stacks 64 KiB, regions 1 MiB, \
         1 component x 512 KiB overhead) but `memory` is 1536 KiB"
    );
}

#[test]
fn memory_over_the_default_budget_points_at_the_start_of_system_toml() {
    let e = error(&[
        ("system.toml", SYSTEM),
        ("a.toml", "binary = \"x\"\npriority = 1\nheap = \"1 GiB\"\n"),
    ]);
    assert_starts(&e, "cfg/system.toml:1:1: the system needs ");
    assert!(e.ends_with("but `memory` is 192 MiB"), "{e}");
}

#[test]
fn a_heap_can_be_a_share_of_what_the_machine_leaves() {
    let m = ok(&[
        ("system.toml", SYSTEM),
        ("a.toml", "binary = \"x\"\npriority = 1\nheap = \"90%\"\n"),
        (
            "b.toml",
            "binary = \"y\"\npriority = 1\nheap = \" 10 % \"\n",
        ),
    ]);
    let heaps: Vec<Heap> = m.components.iter().map(|c| c.heap).collect();
    assert_eq!(
        heaps,
        [Heap::Share { percent: 90 }, Heap::Share { percent: 10 }]
    );
    assert!(
        graph::text(&m).contains("heap 90% of what is left"),
        "{}",
        graph::text(&m)
    );
}

#[test]
fn shares_beyond_the_whole_are_reported() {
    let e = errors(&[
        ("system.toml", SYSTEM),
        ("a.toml", "binary = \"x\"\npriority = 1\nheap = \"0%\"\n"),
        ("b.toml", "binary = \"y\"\npriority = 1\nheap = \"101%\"\n"),
        ("c.toml", "binary = \"z\"\npriority = 1\nheap = \"half%\"\n"),
    ]);
    let hint = "a share of the machine is a whole percentage from 1% to 100%";
    assert_eq!(
        e,
        [
            format!("cfg/a.toml:3:8: `heap` = \"0%\": {hint}"),
            format!("cfg/b.toml:3:8: `heap` = \"101%\": {hint}"),
            format!("cfg/c.toml:3:8: `heap` = \"half%\": {hint}"),
        ]
    );
    let e = error(&[
        ("system.toml", SYSTEM),
        ("a.toml", "binary = \"x\"\npriority = 1\nheap = \"70%\"\n"),
        ("b.toml", "binary = \"y\"\npriority = 1\nheap = \"40%\"\n"),
    ]);
    assert_eq!(
        e,
        "cfg/b.toml:3:8: heap shares add up to 110% (a 70%, b 40%); together they can have at most 100% of what the fixed-size parts leave"
    );
}

#[test]
fn a_share_too_small_for_one_large_frame_is_reported() {
    // 4 MiB of `memory` less 2560 KiB fixed leaves 1.5 MiB: 50% of it is
    // not one 2 MiB frame.
    let e = error(&[
        ("system.toml", "name = \"demo\"\nmemory = \"4 MiB\"\n"),
        (
            "a.toml",
            "binary = \"x\"\npriority = 1\nheap = \"2 MiB\"\nstack = \"64 KiB\"\n",
        ),
        (
            "b.toml",
            "binary = \"y\"\npriority = 1\nheap = \"50%\"\nstack = \"64 KiB\"\n",
        ),
    ]);
    assert_eq!(
        e,
        "cfg/b.toml:3:8: `b`'s heap, 50% of the 896 KiB that `memory` (4 MiB) leaves after the fixed-size parts, is less than one 2 MiB frame"
    );
}

#[test]
fn bad_and_zero_sizes_are_reported() {
    let e = errors(&[
        ("system.toml", "name = \"demo\"\nmemory = \"lots\"\n"),
        (
            "a.toml",
            "binary = \"x\"\npriority = 1\nheap = \"0 KiB\"\nstack = \"1000\"\n",
        ),
    ]);
    assert_eq!(
        e,
        [
            "cfg/a.toml:3:8: `heap` cannot be zero",
            "cfg/a.toml:4:9: `stack` = 1000 bytes is not a multiple of 4 KiB (4096 bytes)",
            "cfg/system.toml:2:10: `memory`: `lots` is not a size: write a whole number of bytes, KiB, MiB or GiB, e.g. \"4096\", \"64 KiB\", \"2 MiB\"",
        ]
    );
}

#[test]
fn priorities_out_of_range_are_reported() {
    let e = errors(&[
        ("system.toml", SYSTEM),
        ("a.toml", "binary = \"x\"\npriority = 255\n"),
        ("b.toml", "binary = \"x\"\npriority = -1\n"),
        ("c.toml", "binary = \"x\"\npriority = 1000\n"),
    ]);
    assert_eq!(
        e,
        [
            "cfg/a.toml:2:12: priority 255 is init's: components use 0-254",
            "cfg/b.toml:2:12: `priority` = -1 is out of range: components use 0-254",
            "cfg/c.toml:2:12: `priority` = 1000 is out of range: components use 0-254",
        ]
    );
}

#[test]
fn restart_policies_are_checked() {
    let e = errors(&[
        ("system.toml", SYSTEM),
        (
            "a.toml",
            "binary = \"x\"\npriority = 1\nrestart = \"sometimes\"\n",
        ),
        (
            "b.toml",
            "binary = \"x\"\npriority = 1\nrestart = \"always\"\nrestart-limit = 2\n",
        ),
        (
            "c.toml",
            "binary = \"x\"\npriority = 1\nrestart = \"on-failure\"\nrestart-limit = 0\n",
        ),
        (
            "d.toml",
            "binary = \"x\"\npriority = 1\nrestart-window = 10\n",
        ),
        (
            "e.toml",
            "binary = \"x\"\npriority = 1\nrestart = \"on-failure\"\nrestart-window = 0\nrestart-exhausted = \"give-up\"\n",
        ),
    ]);
    assert_eq!(
        e,
        [
            "cfg/a.toml:3:11: unknown restart policy `sometimes`: use \"never\", \"on-failure\" or \"always\"",
            "cfg/b.toml:4:17: `restart-limit` applies only to restart = \"on-failure\", not \"always\"",
            "cfg/c.toml:4:17: `restart-limit` = 0 is out of range: at least 1 (use restart = \"never\" for no restarts)",
            "cfg/d.toml:3:18: `restart-window` applies only to restart = \"on-failure\", not the default \"never\"",
            "cfg/e.toml:4:18: `restart-window` = 0 is out of range: at least 1 second",
            "cfg/e.toml:5:21: unknown `restart-exhausted` `give-up`: use \"back-off\" (restart later and later) or \"stop\" (for good)",
        ]
    );
    let m = ok(&[
        ("system.toml", SYSTEM),
        (
            "a.toml",
            "binary = \"x\"\npriority = 1\nrestart = \"on-failure\"\nrestart-limit = 10\nrestart-window = 5\nrestart-exhausted = \"stop\"\n",
        ),
    ]);
    assert_eq!(
        m.components[0].restart,
        Restart::OnFailure {
            budget: Budget {
                limit: 10,
                window_s: 5,
                exhausted: Exhausted::Stop
            }
        }
    );
    let m = ok(&[
        ("system.toml", SYSTEM),
        (
            "a.toml",
            "binary = \"x\"\npriority = 1\nrestart = \"on-failure\"\n",
        ),
    ]);
    assert_eq!(
        m.components[0].restart,
        Restart::OnFailure {
            budget: Budget {
                limit: parse::DEFAULT_RESTART_LIMIT,
                window_s: parse::DEFAULT_RESTART_WINDOW,
                exhausted: Exhausted::BackOff
            }
        }
    );
}

#[test]
fn a_cycle_of_calls_is_reported_with_its_path() {
    let e = error(&[
        (
            "system.toml",
            "name = \"demo\"\ncomponents = [\"a\", \"b\", \"c\"]\n",
        ),
        (
            "a.toml",
            "binary = \"x\"\npriority = 1\nserves = [\"alpha\"]\nuses = [\"beta\"]\n",
        ),
        (
            "b.toml",
            "binary = \"x\"\npriority = 1\nserves = [\"beta\"]\nuses = [\"gamma\"]\n",
        ),
        (
            "c.toml",
            "binary = \"x\"\npriority = 1\nserves = [\"gamma\"]\nuses = [\"alpha\"]\n",
        ),
    ]);
    assert_eq!(
        e,
        "cfg/a.toml:4:9: synchronous calls form a cycle: a -> b (`beta`) -> c (`gamma`) -> a (`alpha`); \
         a server must not call, directly or through others, a component that calls it"
    );
}

#[test]
fn a_component_calling_itself_is_a_cycle() {
    let e = error(&[
        ("system.toml", SYSTEM),
        (
            "a.toml",
            "binary = \"x\"\npriority = 1\nserves = [\"me\"]\nuses = [\"me\"]\n",
        ),
    ]);
    assert_starts(
        &e,
        "cfg/a.toml:4:9: synchronous calls form a cycle: a -> a (`me`);",
    );
}

#[test]
fn names_and_lists_are_checked() {
    let e = errors(&[
        ("system.toml", "name = \"Demo\"\n"),
        (
            "a.toml",
            "binary = \"x\"\npriority = 1\nserves = [\"s\", \"s\"]\n\
             uses = [\"this-name-is-far-too-long-for-the-start-info-page\"]\n",
        ),
    ]);
    assert_eq!(
        e,
        [
            "cfg/a.toml:3:16: `s` is listed twice in `serves`",
            "cfg/a.toml:4:9: `uses`: `this-name-is-far-too-long-for-the-start-info-page` is 49 bytes long; names are at most 32 bytes",
            "cfg/system.toml:1:8: `name`: `Demo` is not a valid name: use lowercase letters, digits, `-` and `_`, starting with a letter or digit",
        ]
    );
}

#[test]
fn arguments_must_be_text_that_fits() {
    let long = "x".repeat(1100);
    let e = errors(&[
        ("system.toml", SYSTEM),
        (
            "a.toml",
            "binary = \"x\"\npriority = 1\n[args]\nlist = [1, 2]\n\"a=b\" = \"c\"\n",
        ),
        (
            "b.toml",
            &format!("binary = \"x\"\npriority = 1\nargs = {{ text = \"{long}\" }}\n"),
        ),
    ]);
    assert_eq!(
        e,
        [
            "cfg/a.toml:4:8: `list` must be a string, an integer or a boolean, not an array",
            "cfg/a.toml:5:1: argument name `a=b` cannot be empty or hold `=` or a line break",
            "cfg/b.toml:3:8: the arguments take 1106 bytes as `key=value` lines; at most 1024 fit",
        ]
    );
}

#[test]
fn every_error_is_reported_not_just_the_first() {
    let e = errors(&[
        (
            "system.toml",
            "name = \"demo\"\ncomponents = [\"a\", \"b\", \"missing\"]\n",
        ),
        (
            "a.toml",
            "binary = \"x\"\npriority = 999\nheap = \"lots\"\n",
        ),
        ("b.toml", "priority = 1\nbogus = 1\n"),
    ]);
    assert_eq!(e.len(), 5, "{e:#?}");
}

#[test]
fn device_names_must_be_distinct() {
    let e = errors(&[
        ("system.toml", SYSTEM),
        (
            "a.toml",
            "binary = \"x\"\npriority = 1\nserves = [\"greeter\"]\n\
             [[device]]\nkind = \"irq\"\nname = \"greeter\"\nirq = 3\n\
             [[device]]\nkind = \"irq\"\nname = \"dup\"\nirq = 4\n\
             [[device]]\nkind = \"irq\"\nname = \"dup\"\nirq = 5\n",
        ),
    ]);
    assert_eq!(
        e,
        [
            "cfg/a.toml:4:1: device name `greeter` is also the name of a channel",
            "cfg/a.toml:12:1: device name `dup` is used twice in this component (first at a.toml:8)",
        ]
    );
}

#[test]
fn a_file_named_unlike_a_component_is_reported() {
    let e = error(&[
        ("system.toml", SYSTEM),
        ("Server.toml", SERVER),
        ("a.toml", "binary = \"x\"\npriority = 1\n"),
    ]);
    assert_starts(
        &e,
        "cfg/Server.toml:1:1: Server.toml: a component file is named after its component, and `Server` is not a valid name",
    );
}

#[test]
fn more_binaries_than_boot_modules_is_reported() {
    let names: Vec<String> = (0..16).map(|i| format!("c{i:02}")).collect();
    let files: Vec<(String, String)> = names
        .iter()
        .map(|n| {
            (
                format!("{n}.toml"),
                format!("binary = \"{n}\"\npriority = 1\n"),
            )
        })
        .collect();
    let mut all: Vec<(&str, &str)> = vec![("system.toml", SYSTEM)];
    all.extend(files.iter().map(|(n, t)| (n.as_str(), t.as_str())));
    let e = error(&all);
    assert_eq!(
        e,
        "cfg/c15.toml:1:10: 16 distinct binaries and the manifest make 17 boot modules; the kernel passes at most 16"
    );
    // Fifteen binaries fit, however many components run them.
    all.push(("c16.toml", "binary = \"c00\"\npriority = 1\n"));
    all.retain(|(n, _)| *n != "c15.toml");
    assert_eq!(ok(&all).components.len(), 16);
}

#[test]
fn too_many_capabilities_for_the_start_info_page_are_reported() {
    let count = basalt_abi::start_info::MAX_CAPS + 1;
    let many: Vec<String> = (0..count).map(|i| format!("\"n{i}\"")).collect();
    let e = error(&[
        ("system.toml", SYSTEM),
        (
            "a.toml",
            &format!(
                "binary = \"x\"\npriority = 1\nnotifications = [{}]\n",
                many.join(", ")
            ),
        ),
    ]);
    assert_eq!(
        e,
        format!(
            "cfg/a.toml:1:1: `a` is given {count} capabilities (channels, notifications, regions, devices); a component can hold at most {}",
            count - 1
        )
    );
    // A PCI device with an interrupt takes three: its BARs, its
    // configuration page and its IRQ handler.
    let few: Vec<String> = (0..count - 3).map(|i| format!("\"n{i}\"")).collect();
    let e = error(&[
        ("system.toml", SYSTEM),
        (
            "a.toml",
            &format!(
                "binary = \"x\"\npriority = 1\nnotifications = [{}]\n\
                 [[device]]\nkind = \"pci\"\nname = \"nic\"\nvendor = 1\ndevice = 2\ninterrupt = \"msi\"\n",
                few.join(", ")
            ),
        ),
    ]);
    assert!(
        e.starts_with(&format!(
            "cfg/a.toml:1:1: `a` is given {count} capabilities"
        )),
        "{e}"
    );
}

#[test]
fn the_graph_shows_every_connection() {
    let m = ok(&[
        (
            "system.toml",
            "name = \"demo\"\ncomponents = [\"server\", \"client\"]\n\
             [[region]]\nname = \"log\"\nsize = \"8 KiB\"\nwriters = [\"server\"]\nreaders = [\"client\"]\n",
        ),
        (
            "server.toml",
            "binary = \"srv\"\npriority = 100\nserves = [\"greeter\"]\nsignals = [\"done\"]\n\
             [[device]]\nkind = \"irq\"\nname = \"rtc\"\nirq = 8\n",
        ),
        (
            "client.toml",
            "binary = \"cli\"\npriority = 90\nuses = [\"greeter\"]\nnotifications = [\"done\"]\n\
             [args]\nwho = \"world\"\n",
        ),
    ]);
    assert_eq!(
        graph::text(&m),
        "system demo: 2 components, 1 channel, 1 notification, 1 region\n\
         \n\
         components, in start order:\n  \
           server  bin/srv, priority 100, heap 256 KiB, stack 64 KiB, restart never\n    \
             device rtc: IRQ 8\n  \
           client  bin/cli, priority 90, heap 256 KiB, stack 64 KiB, restart never\n    \
             arg who = \"world\"\n\
         \n\
         channels (clients -> server):\n  \
           greeter: client -> server\n\
         \n\
         notifications (signallers ~> owner):\n  \
           done: server ~> client\n\
         \n\
         regions:\n  \
           log (8 KiB): server rw, client ro\n"
    );
    let dot = graph::dot(&m);
    assert!(dot.starts_with("digraph \"demo\" {\n"), "{dot}");
    for line in [
        "  \"server\" [label=\"server\\npriority 100\\nrtc: IRQ 8\"];",
        "  \"client\" -> \"server\" [label=\"greeter\"];",
        "  \"server\" -> \"client\" [label=\"done\", style=dashed];",
        "  \"region:log\" [label=\"log\\n8 KiB\", shape=ellipse];",
        "  \"server\" -> \"region:log\" [style=dotted, dir=both];",
        "  \"client\" -> \"region:log\" [style=dotted];",
    ] {
        assert!(
            dot.contains(&format!("{line}\n")),
            "missing `{line}` in\n{dot}"
        );
    }
    assert!(dot.ends_with("}\n"));
}

#[test]
fn a_system_without_components_is_reported() {
    assert_eq!(
        error(&[("system.toml", SYSTEM)]),
        "cfg/system.toml:1:1: the system has no components: add a <component>.toml file for each"
    );
    assert_eq!(
        error(&[("system.toml", "name = \"demo\"\ncomponents = []\n")]),
        "cfg/system.toml:2:14: the system has no components: add a <component>.toml file for each"
    );
}

/// A component of binary `w` (every kind of argument, see [`decls`])
/// with `grants` (keys before its `[args]`) and `args`.
fn wired(grants: &str, args: &str) -> String {
    format!("binary = \"w\"\npriority = 1\n{grants}[args]\n{args}")
}

#[test]
fn required_wiring_arguments_bind_by_value_or_by_their_own_name() {
    // `kvs` unnamed and no channel of that name; `ev` named, granted.
    let e = errors(&[
        ("system.toml", SYSTEM),
        (
            "a.toml",
            "binary = \"need\"\npriority = 1\nuses = [\"store\"]\nnotifications = [\"a-ev\"]\n\
             [args]\nev = \"a-ev\"\n",
        ),
        (
            "b.toml",
            "binary = \"need\"\npriority = 1\nserves = [\"store\"]\nnotifications = [\"ev\"]\n",
        ),
    ]);
    assert_eq!(
        e,
        [
            "cfg/a.toml:1:10: binary `need` takes channel argument `kvs` (need/Cargo.toml): name \
             one in [args] (`kvs = \"...\"`), or grant one named `kvs`: no channel `kvs` is \
             granted to `a` (its `serves` and `uses`: `store`)",
            "cfg/b.toml:1:10: binary `need` takes channel argument `kvs` (need/Cargo.toml): name \
             one in [args] (`kvs = \"...\"`), or grant one named `kvs`: no channel `kvs` is \
             granted to `b` (its `serves` and `uses`: `store`)",
        ]
    );
    // Named in [args], or granted under its own name; `spare` may be
    // left out.
    let ok = tree(&[
        ("system.toml", SYSTEM),
        (
            "a.toml",
            "binary = \"need\"\npriority = 1\nuses = [\"store\"]\nnotifications = [\"a-ev\"]\n\
             [args]\nkvs = \"store\"\nev = \"a-ev\"\n",
        ),
        (
            "b.toml",
            "binary = \"need\"\npriority = 1\nserves = [\"kvs\", \"store\"]\nnotifications = [\"ev\"]\n",
        ),
    ]);
    if let Err(report) = check(&ok, &decls()) {
        panic!("{}", report.render());
    }
}

#[test]
fn unknown_arguments_are_reported_with_what_the_binary_takes() {
    let e = errors(&[
        ("system.toml", SYSTEM),
        (
            "a.toml",
            "binary = \"srv\"\npriority = 1\n[args]\nprot = 6379\n",
        ),
        (
            "b.toml",
            "binary = \"cli\"\npriority = 1\n[args]\nwho = \"me\"\ncolour = \"red\"\n",
        ),
    ]);
    assert_eq!(
        e,
        [
            "cfg/a.toml:4:1: unknown argument `prot`: binary `srv` takes `mode`, `port`, `verbose` \
             (srv/Cargo.toml) and `log` (every component); did you mean `port`?",
            "cfg/b.toml:5:1: unknown argument `colour`: binary `cli` takes `who` (cli/Cargo.toml) \
             and `log` (every component)",
        ]
    );
}

#[test]
fn argument_values_of_the_wrong_kind_are_reported() {
    let e = errors(&[
        ("system.toml", SYSTEM),
        (
            "a.toml",
            &wired(
                "",
                "count = -1\nport = 0\nsize = \"8 KB\"\nmode = \"fats\"\nflag = \"yes\"\n",
            ),
        ),
        (
            "b.toml",
            &wired(
                "",
                "count = \"many\"\nport = \"http\"\nsize = true\nmode = 1\n",
            ),
        ),
    ]);
    assert_eq!(
        e,
        [
            "cfg/a.toml:4:9: `count` = -1 is not a count: write a whole number, 0 or more",
            "cfg/a.toml:5:8: `port` = 0 is not a port: ports are 1-65535",
            "cfg/a.toml:6:8: `size`: `8 KB`: write KiB, MiB or GiB (powers of 1024), not `KB`",
            "cfg/a.toml:7:8: `mode` = \"fats\": use \"fast\" or \"slow\" (did you mean \"fast\"?)",
            "cfg/a.toml:8:8: `flag` = \"yes\": use \"true\" or \"false\"",
            "cfg/b.toml:4:9: `count` = \"many\" is not a count: write a whole number, 0 or more",
            "cfg/b.toml:5:8: `port` = \"http\" is not a port: ports are 1-65535",
            "cfg/b.toml:6:8: `size` = true is not a size: write a number of bytes, or KiB, MiB or GiB, e.g. \"8 KiB\"",
            "cfg/b.toml:7:8: `mode` = 1: use \"fast\" or \"slow\"",
        ]
    );
    // Values of each kind that pass; integers reach the component in
    // decimal, booleans as words.
    let m = ok(&[
        ("system.toml", SYSTEM),
        (
            "a.toml",
            &wired(
                "",
                "count = \"10\"\nport = 0x1f90\nsize = \"8 KiB\"\nmode = \"slow\"\nflag = true\n\
                 note = 3\nlog = \"debug\"\n",
            ),
        ),
    ]);
    let args: Vec<(&str, &str)> = m.components[0]
        .args
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        args,
        [
            ("count", "10"),
            ("port", "8080"),
            ("size", "8 KiB"),
            ("mode", "slow"),
            ("flag", "true"),
            ("note", "3"),
            ("log", "debug"),
        ]
    );
}

#[test]
fn wiring_arguments_must_name_what_the_config_grants() {
    let system = "name = \"demo\"\n\
                  [[region]]\nname = \"ring\"\nsize = 4096\nwriters = [\"a\"]\n\
                  [[region]]\nname = \"other\"\nsize = 4096\nwriters = [\"b\"]\n";
    let grants = "serves = [\"svc\"]\nnotifications = [\"ev\"]\nsignals = [\"wake\"]\n\
                  [[device]]\nkind = \"irq\"\nname = \"rtc\"\nirq = 8\n\
                  [[device]]\nkind = \"io-ports\"\nname = \"cmos\"\nfirst = 0x70\nlast = 0x71\n\
                  [[device]]\nkind = \"pci\"\nname = \"nic\"\nvendor = 1\ndevice = 2\ninterrupt = \"msi\"\n";
    // Every kind, naming what is granted: a PCI device's grants count.
    ok(&[
        ("system.toml", system),
        (
            "a.toml",
            &wired(
                grants,
                "region = \"ring\"\nwait = \"ev\"\nwake = \"wake\"\nchan = \"svc\"\nirq = \"nic.msi\"\n\
                 ports = \"cmos\"\ndev = \"nic.bar4\"\n",
            ),
        ),
        (
            "b.toml",
            "binary = \"x\"\npriority = 1\nuses = [\"svc\"]\nnotifications = [\"wake\"]\n",
        ),
    ]);
    let e = errors(&[
        ("system.toml", system),
        (
            "a.toml",
            &wired(
                grants,
                "region = \"rnig\"\nwait = \"wake\"\nwake = \"ev\"\nchan = \"greeter\"\nirq = \"cmos\"\n\
                 ports = \"rtc\"\ndev = \"disk\"\n",
            ),
        ),
        (
            "b.toml",
            &wired(
                "uses = [\"svc\"]\nnotifications = [\"wake\"]\n",
                "region = \"ring\"\n",
            ),
        ),
    ]);
    assert_eq!(
        e,
        [
            "cfg/a.toml:22:10: no region `rnig` is granted to `a`; did you mean `ring`?",
            "cfg/a.toml:23:8: no notification `wake` is granted to `a` to wait on (its `notifications`: `ev`)",
            "cfg/a.toml:24:8: no notification `ev` is granted to `a` to signal (its `signals`: `wake`)",
            "cfg/a.toml:25:8: no channel `greeter` is granted to `a` (its `serves` and `uses`: `svc`)",
            "cfg/a.toml:26:7: no IRQ `cmos` is granted to `a` (its `kind = \"irq\"` devices, and `<name>.msi` of its \
             PCI devices with `interrupt = \"msi\"`: `rtc` and `nic.msi`)",
            "cfg/a.toml:27:9: no I/O-port range `rtc` is granted to `a` (its `kind = \"io-ports\"` devices: `cmos`)",
            "cfg/a.toml:28:7: no device `disk` is granted to `a` (its `[[device]]` names, with a PCI device's \
             `<name>.bar<N>`, `<name>.config` and `<name>.msi`: `rtc`, `cmos` and `nic`)",
            "cfg/b.toml:6:10: no region `ring` is granted to `b` (the regions system.toml shares with it: `other`)",
        ]
    );
}

#[test]
fn a_dma_argument_names_a_region_the_component_has_alone() {
    let system = "name = \"demo\"\n\
                  [[region]]\nname = \"mine\"\nsize = 4096\nwriters = [\"a\"]\n\
                  [[region]]\nname = \"shared\"\nsize = 4096\nwriters = [\"a\", \"b\"]\n\
                  [[region]]\nname = \"read\"\nsize = 4096\nwriters = [\"a\"]\nreaders = [\"b\"]\n";
    let b = "binary = \"x\"\npriority = 1\n";
    ok(&[
        ("system.toml", system),
        (
            "a.toml",
            "binary = \"drv\"\npriority = 1\n[args]\ndma = \"mine\"\n",
        ),
        ("b.toml", b),
    ]);
    let e = errors(&[
        ("system.toml", system),
        (
            "a.toml",
            "binary = \"drv\"\npriority = 1\n[args]\ndma = \"shared\"\n",
        ),
        ("b.toml", b),
    ]);
    assert_eq!(
        e,
        [
            "cfg/a.toml:4:7: no region of its own `shared` is granted to `a` (the regions \
             system.toml gives it alone: `writers = [\"<it>\"]`, no readers: `mine`)"
        ]
    );
    let e = errors(&[
        ("system.toml", system),
        (
            "a.toml",
            "binary = \"drv\"\npriority = 1\n[args]\ndma = \"read\"\n",
        ),
        ("b.toml", b),
    ]);
    assert_eq!(e.len(), 1, "{e:?}");
}

#[test]
fn argument_families_take_their_hole_from_the_grants() {
    let system = "name = \"demo\"\n\
                  [[region]]\nname = \"app-net\"\nsize = 4096\nwriters = [\"a\"]\n";
    ok(&[
        ("system.toml", system),
        (
            "a.toml",
            &wired("", "quota-app-net = 5\nx-anything = \"goes\"\n"),
        ),
    ]);
    let e = errors(&[
        ("system.toml", system),
        (
            "a.toml",
            &wired("", "quota-ap-net = 5\nquota-app-net = \"lots\"\nx- = 1\n"),
        ),
    ]);
    assert_eq!(
        e,
        [
            "cfg/a.toml:4:1: argument `quota-ap-net` (quota-<region>): no region `ap-net` is granted to `a`; did you mean `app-net`?",
            "cfg/a.toml:5:17: `quota-app-net` = \"lots\" is not a count: write a whole number, 0 or more",
            "cfg/a.toml:6:1: unknown argument `x-`: binary `w` takes `count`, `port`, `size`, `mode`, `flag`, `note`, \
             `region`, `wait`, `wake`, `chan`, `irq`, `ports`, `dev`, `quota-<region>`, `x-*` (w/Cargo.toml) and \
             `log` (every component)",
        ]
    );
}

#[test]
fn arguments_of_a_binary_that_declares_none_are_reported() {
    let e = errors(&[
        ("system.toml", SYSTEM),
        (
            "a.toml",
            "binary = \"bare\"\npriority = 1\n[args]\nlog = \"debug\"\n",
        ),
        (
            "b.toml",
            "binary = \"ghost\"\npriority = 1\n[args]\nport = 1\n",
        ),
        // Without arguments, neither needs a declaration.
        ("c.toml", "binary = \"bare\"\npriority = 1\n"),
        ("d.toml", "binary = \"ghost\"\npriority = 1\n"),
    ]);
    assert_eq!(
        e,
        [
            "cfg/a.toml:4:1: binary `bare` declares no arguments: list those it reads under \
             [package.metadata.basalt.args] in bare/Cargo.toml (docs/config.md)",
            "cfg/b.toml:4:1: no crate of the workspace builds binary `ghost`, so nothing declares the \
             arguments it takes: declare them under [package.metadata.basalt.args] in its crate's \
             Cargo.toml (docs/config.md)",
        ]
    );
}

#[test]
fn bad_declarations_are_reported_where_they_are() {
    let text = "[package]\nname = \"p\"\n\n[[bin]]\nname = \"one\"\n[[bin]]\nname = \"two\"\n\n\
                [package.metadata.basalt]\nargz = 1\n\
                [package.metadata.basalt.args]\nport = \"prot\"\nmode = []\nlog = \"text\"\n\
                \"a-*-*\" = \"text\"\n\"q-<regoin>\" = \"count\"\n\"*\" = \"text\"\nn = 5\n";
    let report = declare::crate_file("p/Cargo.toml", text).unwrap_err();
    assert_eq!(
        report.headlines(),
        [
            "p/Cargo.toml:10:1: unknown key `argz` in [package.metadata.basalt]; did you mean `args`?",
            "p/Cargo.toml:12:8: unknown argument kind `prot`; did you mean `port`?",
            "p/Cargo.toml:13:8: a word list needs at least one word",
            "p/Cargo.toml:14:1: `log` is an argument every component takes (docs/config.md): it needs no declaration",
            "p/Cargo.toml:15:1: `a-*-*` has more than one hole: a family has one `*` or `<kind>`",
            "p/Cargo.toml:16:1: `q-<regoin>`: `<regoin>` is not a wiring kind: use `*` or one of <region>, <dma>, \
             <notification>, <signal>, <channel>, <irq>, <io-ports>, <device>",
            "p/Cargo.toml:17:1: `*` would take any argument: give the family a fixed part, e.g. `quota-*`",
            "p/Cargo.toml:18:5: an argument's kind is a string (text, count, port, size, region, dma, notification, \
             signal, channel, irq, io-ports, device), a list of words or a table { kind = \"...\", optional = true }, not integer",
        ]
    );
    // A sound one applies to each of the crate's binaries; a crate
    // without a [[bin]] builds the package's.
    let found = declare::crate_file(
        "p/Cargo.toml",
        "[package]\nname = \"p\"\n[[bin]]\nname = \"one\"\n[[bin]]\nname = \"two\"\n\
         [package.metadata.basalt.args]\nport = \"port\"\n\"quota-<region>\" = \"count\"\n",
    )
    .unwrap();
    let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["one", "two"]);
    let args = found[1].1.args.as_ref().unwrap();
    assert_eq!(args[0].kind, declare::Kind::Port);
    assert_eq!(args[1].key.show(), "quota-<region>");
    let found = declare::crate_file("q/Cargo.toml", "[package]\nname = \"q\"\n").unwrap();
    assert_eq!(found[0].0, "q");
    assert!(found[0].1.args.is_none());
}

/// The arguments the boot tests and benchmarks add to copies of the
/// trees (`selftest::test_config` and its callers) are declared too.
#[test]
fn the_arguments_the_boot_tests_add_are_declared() {
    let real = declare::load(&crate::build::root()).unwrap_or_else(|r| panic!("{}", r.render()));
    let exit = crate::selftest::EXIT_ON_SUCCESS;
    let disk = "\n[[device]]\nkind = \"pci\"\nname = \"disk\"\nvendor = 0x1af4\ndevice = 0x1001\n";
    let cases: [(&str, &[(&str, String)]); 7] = [
        (
            "hello",
            &[(
                "hello-client",
                format!("{exit}\nvirtio-device = \"disk.bar4\"\ncrashes = \"10\"{disk}"),
            )],
        ),
        (
            "block-test",
            &[
                ("block", exit.to_string()),
                ("block-smoke", exit.to_string()),
            ],
        ),
        (
            "kvs-test",
            &[
                ("kvs-smoke", format!("{exit}\ncrashes = \"10\"")),
                ("kvs", "enable-debug-command = \"yes\"".to_string()),
            ],
        ),
        ("net-test", &[("net", exit.to_string())]),
        (
            "kvs-persist",
            &[(
                "kvs-crash",
                "mode = \"write\"\ninterrupt = \"no\"".to_string(),
            )],
        ),
        (
            "kvs-persist",
            &[
                (
                    "kvs-crash",
                    "mode = \"verify\"\ninterrupt = \"yes\"".to_string(),
                ),
                ("kvs", "enable-debug-command = \"yes\"".to_string()),
            ],
        ),
        ("kvs-bench", &[("kvs-bench", exit.to_string())]),
    ];
    for (system, extras) in cases {
        let mut tree = Tree::read(&crate::build::root().join("config").join(system)).unwrap();
        for (component, extra) in extras {
            let file = format!("{component}.toml");
            let (_, text) = tree.files.iter_mut().find(|(n, _)| *n == file).unwrap();
            // As test_config adds them: into the [args] table, else a new one
            // at the end (tables, like [[device]], after it).
            let (args, tables) = extra
                .split_once("\n[[")
                .map_or((extra.as_str(), String::new()), |(a, t)| {
                    (a, format!("\n[[{t}"))
                });
            *text = if text.contains("[args]") {
                text.replacen("[args]", &format!("[args]\n{args}"), 1)
            } else {
                format!("{text}\n[args]\n{args}\n")
            } + &tables;
        }
        if let Err(report) = check(&tree, &real) {
            panic!(
                "config/{system} with the boot test's arguments fails:\n{}",
                report.render()
            );
        }
    }
}

#[test]
fn declarations_are_read_from_the_workspace_members() {
    let root = std::env::temp_dir().join(format!("basalt-declare-{}", std::process::id()));
    let _ = fs::remove_dir_all(&root);
    for (path, text) in [
        (
            "Cargo.toml",
            "[workspace]\nmembers = [\"a\", \"lib\", \"bad\"]\n",
        ),
        (
            "a/Cargo.toml",
            "[package]\nname = \"a\"\n[package.metadata.basalt.args]\nport = \"port\"\n",
        ),
        ("lib/Cargo.toml", "[package]\nname = \"lib\"\n"),
        (
            "bad/Cargo.toml",
            "[package]\nname = \"bad\"\n[package.metadata.basalt.args]\nport = \"prot\"\n",
        ),
    ] {
        let file = root.join(path);
        fs::create_dir_all(file.parent().unwrap()).unwrap();
        fs::write(file, text).unwrap();
    }
    let e = declare::load(&root).unwrap_err().headlines();
    assert_eq!(
        e,
        ["bad/Cargo.toml:4:8: unknown argument kind `prot`; did you mean `port`?"]
    );
    fs::write(
        root.join("bad/Cargo.toml"),
        "[package]\nname = \"bad\"\n[package.metadata.basalt.args]\n",
    )
    .unwrap();
    let d = declare::load(&root).unwrap();
    fs::remove_dir_all(&root).unwrap();
    assert_eq!(d.binaries["a"].source, "a/Cargo.toml");
    assert_eq!(d.binaries["a"].args.as_ref().unwrap().len(), 1);
    assert!(d.binaries["lib"].args.is_none());
    assert_eq!(d.binaries["bad"].args.as_deref(), Some(&[][..]));
}

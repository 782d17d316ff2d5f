//! The interpreter and the router on QEMU's own DSDTs (dumped from q35
//! and i440fx machines under SeaBIOS) and on a made-up board's
//! (`tests/firmware/board.asl`), against a simulated configuration space;
//! then the same tables cut short and corrupted at random, where every
//! outcome must be a result, never a panic or a hang.

use crate::name::Path;
use crate::resource::Interrupt;
use crate::routing::{Function, RouteError, Router};
use crate::value::Value;
use crate::{Error, Host, Interpreter, Tables};
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::vec;
use alloc::vec::Vec;

extern crate std;

const Q35: &[u8] = include_bytes!("../tests/firmware/qemu-q35-dsdt.aml");
const PC: &[u8] = include_bytes!("../tests/firmware/qemu-pc-dsdt.aml");
const BOARD: &[u8] = include_bytes!("../tests/firmware/board.aml");

/// A configuration space: the functions present, each with its bytes.
#[derive(Clone, Default)]
struct Config(BTreeMap<(u8, u8, u8), [u8; 256]>);

impl Config {
    fn function(mut self, f: (u8, u8, u8), set: &[(usize, u8)]) -> Self {
        let mut space = [0u8; 256];
        space[0] = 0x86;
        space[1] = 0x80;
        for &(at, v) in set {
            space[at] = v;
        }
        self.0.insert(f, space);
        self
    }

    /// A PCI-to-PCI bridge at `f` to buses `secondary..=subordinate`.
    fn bridge(self, f: (u8, u8, u8), secondary: u8, subordinate: u8) -> Self {
        self.function(f, &[(0x0e, 1), (0x19, secondary), (0x1a, subordinate)])
    }
}

impl Host for Config {
    fn pci_read(&self, bus: u8, device: u8, function: u8, offset: u16) -> u8 {
        self.0
            .get(&(bus, device, function))
            .and_then(|s| s.get(usize::from(offset)).copied())
            .unwrap_or(0xff)
    }
}

fn router(dsdt: &[u8], config: Config) -> Router<Config> {
    let tables = Tables::split(dsdt).expect("split");
    let loaded = tables.load(config).expect("load");
    assert!(loaded.failed.is_empty());
    Router::new(loaded.aml).expect("router")
}

fn f(bus: u8, device: u8, function: u8) -> Function {
    Function {
        bus,
        device,
        function,
    }
}

fn level_high(gsi: u32) -> Interrupt {
    Interrupt {
        gsi,
        level: true,
        active_low: false,
    }
}

#[test]
fn q35_routes_root_complex_slots_through_its_gsi_links() {
    let config = Config::default()
        .function((0, 2, 0), &[])
        .bridge((0, 4, 0), 1, 1)
        .function((1, 0, 0), &[]);
    let mut r = router(Q35, config);
    assert_eq!(format!("{}", r.host_bridge()), "\\_SB_.PCI0");
    // PRTA: slot 2 INTA-INTD on GSIG, GSIH, GSIE, GSIF (GSIs 16 + 6, 7, 4, 5).
    assert_eq!(r.route(f(0, 2, 0), 1).unwrap(), level_high(22));
    assert_eq!(r.route(f(0, 2, 0), 2).unwrap(), level_high(23));
    assert_eq!(r.route(f(0, 2, 0), 3).unwrap(), level_high(20));
    assert_eq!(r.route(f(0, 0x1f, 2), 1).unwrap(), level_high(16));
    // Behind the root port at 00:04.0, which has no _PRT: INTA of device
    // 0 stays INTA at slot 4 (GSIE), INTB of device 1 becomes INTC (GSIG).
    assert_eq!(r.route(f(1, 0, 0), 1).unwrap(), level_high(20));
    assert_eq!(r.route(f(1, 1, 0), 2).unwrap(), level_high(22));
}

#[test]
fn i440fx_runs_its_prt_loop_and_reads_the_routing_registers() {
    // SeaBIOS's PIRQA-D routing in the PIIX3's configuration space.
    let config =
        Config::default().function((0, 1, 0), &[(0x60, 10), (0x61, 10), (0x62, 11), (0x63, 11)]);
    let mut r = router(PC, config);
    // Slot 3 INTA: (pin + slot) mod 4 = 3: LNKC, PIRQC, IRQ 11.
    assert_eq!(r.route(f(0, 3, 0), 1).unwrap(), level_high(11));
    // Slot 4 INTA: 0: LNKD, IRQ 11; slot 5 INTA: 1: LNKA, IRQ 10.
    assert_eq!(r.route(f(0, 4, 0), 1).unwrap(), level_high(11));
    assert_eq!(r.route(f(0, 5, 0), 1).unwrap(), level_high(10));
}

#[test]
fn a_board_keeps_the_model_in_a_firmware_variable_and_routes_by_gsi() {
    let config = Config::default()
        .bridge((0, 0x1c, 0), 2, 2)
        .bridge((0, 0x1d, 0), 3, 4)
        .bridge((3, 0, 0), 4, 4)
        .function((2, 0, 0), &[])
        .function((4, 0, 0), &[]);
    let mut r = router(BOARD, config);
    let gsi = |gsi| Interrupt {
        gsi,
        level: true,
        active_low: true,
    };
    // _PIC(1) went to PICM (system memory, kept by the interpreter), and
    // _PRT read it back: the APIC table.
    assert_eq!(r.route(f(0, 2, 0), 1).unwrap(), gsi(16));
    // RP01's own table, INTB.
    assert_eq!(r.route(f(2, 0, 0), 2).unwrap(), gsi(17));
    // Two bridges down from RP05 (no _PRT, nor has the bridge below it):
    // INTA of 04:00.0 is INTA at 03:00.0, then INTA at 00:1d.0: GSI 18.
    assert_eq!(r.route(f(4, 0, 0), 1).unwrap(), gsi(18));
    assert!(matches!(
        r.route(f(0, 7, 0), 1),
        Err(RouteError::NoEntry {
            device: 7,
            pin: 0,
            ..
        })
    ));
    assert!(matches!(r.route(f(0, 2, 0), 5), Err(RouteError::NoPin(5))));
    assert!(matches!(
        r.route(f(9, 0, 0), 1),
        Err(RouteError::NoBridgeTo(9))
    ));
}

fn board() -> Interpreter<Config> {
    Tables::split(BOARD)
        .unwrap()
        .load(Config::default())
        .unwrap()
        .aml
}

fn method(name: &str) -> Path {
    Path(vec![*b"_SB_", name.as_bytes().try_into().unwrap()])
}

#[test]
fn methods_compute_with_packages_buffers_and_fields() {
    let mut aml = board();
    match aml.evaluate(&method("ARTH"), Vec::new()) {
        Ok(Value::Integer(v)) => assert_eq!(v, 0x0302_0404),
        other => panic!("ARTH: {other:?}"),
    }
}

#[test]
fn runaway_methods_and_machine_reads_are_errors() {
    let mut aml = board();
    let inner = |e: Error| match e {
        Error::In { error, .. } => *error,
        e => e,
    };
    assert!(matches!(
        inner(aml.evaluate(&method("LOOP"), Vec::new()).unwrap_err()),
        Error::TooLong { .. }
    ));
    assert!(matches!(
        inner(
            aml.evaluate(&method("DEEP"), vec![Value::Integer(0)])
                .unwrap_err()
        ),
        Error::TooDeep(_) | Error::TooNested { .. }
    ));
    let e = inner(aml.evaluate(&method("PORT"), Vec::new()).unwrap_err());
    assert_eq!(
        e,
        Error::Refused {
            field: "\\P80H".into(),
            space: 1,
            address: 0x80
        }
    );
    // The interrupt model was never written here: _PRT cannot read it.
    let prt = Path(vec![*b"_SB_", *b"PCI0", *b"_PRT"]);
    assert!(matches!(
        inner(aml.evaluate(&prt, Vec::new()).unwrap_err()),
        Error::Refused {
            space: 0,
            address: 0x7ff0_0002,
            ..
        }
    ));
}

#[test]
fn tables_split_by_their_headers_and_refuse_lies() {
    let mut two = Q35.to_vec();
    two.extend_from_slice(BOARD);
    let t = Tables::split(&two).unwrap();
    assert_eq!(t.tables.len(), 2);
    assert_eq!(t.tables[1].aml.len(), BOARD.len() - 36);
    let mut lying = BOARD.to_vec();
    lying[4..8].copy_from_slice(&10_000u32.to_le_bytes());
    assert_eq!(
        Tables::split(&lying).unwrap_err(),
        Error::Truncated { at: 0 }
    );
    lying[4..8].copy_from_slice(&3u32.to_le_bytes());
    assert!(Tables::split(&lying).is_err());
}

/// xorshift64*: the corruption tests' generator (seeded, printed).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// Loads `dsdt` and routes a few pins; whatever happens must be a result.
/// Then the interpreter that loaded it must still evaluate the board's
/// arithmetic method exactly: an error leaves no state behind (nesting,
/// call depth) that changes later evaluations.
fn try_everything(dsdt: &[u8], config: &Config) {
    if let Some(aml) = dsdt.get(36..) {
        let mut interpreter = Interpreter::new(config.clone(), 2);
        let _ = interpreter.load(aml);
        interpreter
            .load(&BOARD[36..])
            .expect("the board's table after a bad one");
        match interpreter.evaluate(&method("ARTH"), Vec::new()) {
            Ok(Value::Integer(0x0302_0404)) => {}
            other => panic!("ARTH after a corrupted table: {other:?}"),
        }
    }
    let Ok(tables) = Tables::split(dsdt) else {
        return;
    };
    let Ok(loaded) = tables.load(config.clone()) else {
        return;
    };
    let Ok(mut r) = Router::new(loaded.aml) else {
        return;
    };
    for (func, pin) in [(f(0, 2, 0), 1), (f(0, 3, 0), 2), (f(1, 0, 0), 1)] {
        let _ = r.route(func, pin);
    }
}

#[test]
fn tables_cut_short_load_or_fail_cleanly() {
    let config = Config::default().bridge((0, 4, 0), 1, 1);
    for dsdt in [Q35, PC, BOARD] {
        let mut step = 1;
        let mut len = 36;
        while len < dsdt.len() {
            let mut cut = dsdt[..len].to_vec();
            cut[4..8].copy_from_slice(&(len as u32).to_le_bytes());
            try_everything(&cut, &config);
            len += step;
            step = step % 61 + 7;
        }
    }
}

#[test]
fn corrupted_tables_load_or_fail_cleanly() {
    let seed = std::env::var("AML_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x05ee_da41_u64);
    std::println!("corrupted tables: seed {seed} (AML_SEED={seed} replays it)");
    let mut rng = Rng(seed | 1);
    let config = Config::default()
        .function((0, 1, 0), &[(0x60, 10), (0x61, 10), (0x62, 11), (0x63, 11)])
        .bridge((0, 4, 0), 1, 1);
    for round in 0..3000 {
        let base = [Q35, PC, BOARD][round % 3];
        let mut dsdt = base.to_vec();
        for _ in 0..1 + rng.next() % 8 {
            let at = 36 + (rng.next() as usize) % (dsdt.len() - 36);
            dsdt[at] = rng.next() as u8;
        }
        try_everything(&dsdt, &config);
    }
}

/// Expressions nested as deep as a hostile table likes end in an error
/// within the stack init gives the interpreter (256 KiB, here as there).
#[test]
fn nesting_is_bounded_within_init_s_stack() {
    // A method returning Add(Add(Add(... 1 ...))), 10,000 deep.
    let depth = 10_000;
    let mut body = vec![0xa4u8];
    body.extend(core::iter::repeat_n([0x72u8], depth).flatten());
    body.push(0x01);
    for _ in 0..depth {
        body.extend_from_slice(&[0x01, 0x00]);
    }
    let mut code = vec![0x14];
    let len = body.len() + 5 + 4;
    code.extend_from_slice(&[
        0xc0 | (len & 0xf) as u8,
        (len >> 4) as u8,
        (len >> 12) as u8,
        (len >> 20) as u8,
    ]);
    code.extend_from_slice(b"NEST");
    code.push(0);
    code.extend_from_slice(&body);
    let mut table = vec![0u8; 36];
    table[..4].copy_from_slice(b"DSDT");
    table[8] = 2;
    table.extend_from_slice(&code);
    let length = table.len() as u32;
    table[4..8].copy_from_slice(&length.to_le_bytes());
    let run = move || {
        let tables = Tables::split(&table).unwrap();
        let mut aml = tables.load(Config::default()).unwrap().aml;
        let e = aml.evaluate(&Path(vec![*b"NEST"]), Vec::new()).unwrap_err();
        assert!(
            matches!(e, Error::In { ref error, .. } if matches!(**error, Error::TooNested { .. })),
            "{e:?}"
        );
        // And a board's methods still run within the same stack.
        let mut aml = board();
        assert!(aml.evaluate(&method("ARTH"), Vec::new()).is_ok());
    };
    std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(run)
        .unwrap()
        .join()
        .unwrap();
}

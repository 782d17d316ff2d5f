//! The fuzzer: sets up the sandbox and the kids, then makes the calls,
//! running the kernel's invariant oracle after each one.

use crate::calls::{self, Call, Guess, Rng};
use crate::kid::{self, IPC_BUFFER, PAGE, STACK_TOP, word};
use core::fmt;
use libcap::abi::boot_info::slot;
use libcap::abi::{ObjectType, Rights};
use libcap::{BootInfo, Error, invoke, println, syscall};

/// The root CNode and VSpace.
const ROOT: u64 = slot::CNODE;
const VSPACE: u64 = slot::VSPACE;
/// Threads making the calls.
const KIDS: usize = 3;
/// Their priority, above the fuzzer's: a started kid runs at once, and the
/// fuzzer goes on when it has exited or blocked.
const KID_PRIORITY: u64 = 200;
const FUZZER_PRIORITY: u64 = calls::MAX_PRIORITY + 1;
/// The sandbox CNode's slots: 2^6.
const SANDBOX_RADIX: u64 = 6;
/// The fuzzer's own memory (kids, sandbox CNode) and the sandbox's parent
/// untyped: 8 MiB and 4 MiB.
const INFRA_BITS: u64 = 23;
const PARENT_BITS: u64 = 22;
/// The sandbox's untyped memory: 1 MiB, from the parent.
const SANDBOX_BITS: u64 = 20;
/// Where the fuzzer maps the kids' pages.
const WINDOW: u64 = 0x1000_0000_0000;
/// A kid blocked this many calls ago is suspended and used again.
const STUCK: u64 = 12;
/// Calls between two resets of the sandbox (everything in it revoked and
/// made again), so that a sandbox the calls emptied fills up again.
const RESET_EVERY: u64 = 2_000;
/// Calls between two progress lines.
const PROGRESS_EVERY: u64 = 100_000;
/// Calls between two probes of which sandbox slots hold something.
const PROBE_EVERY: u64 = 256;

/// A setup or bookkeeping step of the fuzzer's own failed: the run cannot
/// go on (this is not a finding about the kernel).
struct SetupError(&'static str, Error);

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {:?}", self.0, self.1)
    }
}

trait Step<T> {
    fn step(self, what: &'static str) -> Result<T, SetupError>;
}

impl<T> Step<T> for Result<T, Error> {
    fn step(self, what: &'static str) -> Result<T, SetupError> {
        self.map_err(|e| SetupError(what, e))
    }
}

/// The run's parameters, from the boot module `fuzz-args`
/// (`seed=N calls=N`).
struct Args {
    seed: u64,
    calls: u64,
}

fn args(boot: &BootInfo) -> Args {
    let mut a = Args {
        seed: 1,
        calls: 10_000,
    };
    let count = (boot.module_count as usize).min(boot.modules.len());
    let Some(m) = boot.modules[..count]
        .iter()
        .find(|m| m.name() == "fuzz-args")
    else {
        return a;
    };
    // SAFETY: the kernel maps each boot module read-only at its address
    // for the root task's lifetime.
    let bytes = unsafe { core::slice::from_raw_parts(m.address as *const u8, m.size as usize) };
    for field in core::str::from_utf8(bytes).unwrap_or("").split_whitespace() {
        match field.split_once('=') {
            Some(("seed", v)) => a.seed = v.parse().unwrap_or(a.seed),
            Some(("calls", v)) => a.calls = v.parse().unwrap_or(a.calls),
            _ => {}
        }
    }
    a
}

struct Kid {
    tcb: u64,
    vspace: u64,
    ipc_buffer: u64,
    /// The notification it waits on for its next call (made from the
    /// fuzzer's memory; a copy goes in the sandbox).
    go: u64,
    /// Its shared page in the fuzzer's window.
    page: u64,
    /// The call index it was last started at, and its done count then.
    started: u64,
    done_before: u64,
}

impl Kid {
    fn finished(&self) -> bool {
        kid::read(self.page, word::DONE) > self.done_before
    }

    fn waiting(&self) -> bool {
        kid::read(self.page, word::WAITING) == 1
    }
}

struct Fuzzer {
    next_slot: u64,
    next_page: u64,
    /// Untyped memory the fuzzer's own objects come from.
    infra: u64,
    /// The sandbox's parent untyped (the oracle's second root).
    parent: u64,
    /// The sandbox CNode, and the guarded copy that is the kids' CSpace.
    sandbox: u64,
    guarded: u64,
    /// An IRQ handler (a message-signalled line no device uses) and the
    /// capability to port 0x80, copied into each new sandbox.
    irq: u64,
    port: u64,
    /// Root slots where each reset makes the seeded address space and
    /// its tables before moving them into the sandbox (empty otherwise).
    staging: [u64; 4],
    kids: [Option<Kid>; KIDS],
}

impl Fuzzer {
    fn slot(&mut self) -> u64 {
        self.next_slot += 1;
        self.next_slot - 1
    }

    fn object(&mut self, from: u64, ty: ObjectType, bits: u64) -> Result<u64, SetupError> {
        let s = self.slot();
        invoke::untyped_retype(from, ty, bits, 1, ROOT, s).step("retype")?;
        Ok(s)
    }

    /// Maps `frame` at `vaddr` of `vspace`, making the tables on the way
    /// from the fuzzer's memory.
    fn map(
        &mut self,
        frame: u64,
        vspace: u64,
        vaddr: u64,
        rights: Rights,
    ) -> Result<(), SetupError> {
        let infra = self.infra;
        let mut next = self.next_slot;
        let r = invoke::frame_map_with_tables(frame, vspace, vaddr, rights, |ty| {
            invoke::untyped_retype(infra, ty, 0, 1, ROOT, next)?;
            invoke::page_table_map(next, vspace, vaddr)?;
            next += 1;
            Ok(())
        });
        self.next_slot = next;
        r.step("map a frame")
    }

    /// A fresh page of the window.
    fn page(&mut self) -> u64 {
        self.next_page += 1;
        WINDOW + (self.next_page - 1) * PAGE
    }

    fn kid(&mut self) -> Result<Kid, SetupError> {
        let infra = self.infra;
        let tcb = self.object(infra, ObjectType::Tcb, 0)?;
        let vspace = self.object(infra, ObjectType::VSpace, 0)?;
        let go = self.object(infra, ObjectType::Notification, 0)?;
        let frames: [u64; 4] = [
            self.object(infra, ObjectType::Frame4K, 0)?,
            self.object(infra, ObjectType::Frame4K, 0)?,
            self.object(infra, ObjectType::Frame4K, 0)?,
            self.object(infra, ObjectType::Frame4K, 0)?,
        ];
        let [code, stack, shared, ipc_buffer] = frames;
        let rw = Rights::READ | Rights::WRITE;
        // The code goes in through the window.
        let tmp = self.page();
        self.map(code, VSPACE, tmp, rw)?;
        let bytes = kid::code();
        assert!(bytes.len() <= PAGE as usize);
        // SAFETY: `code` is mapped read-write at `tmp`, a whole page that no
        // Rust reference points into; the code fits (asserted).
        unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), tmp as *mut u8, bytes.len()) };
        invoke::frame_unmap(code).step("unmap the code")?;
        self.map(code, vspace, kid::CODE, Rights::READ | Rights::EXECUTE)?;
        self.map(stack, vspace, STACK_TOP - PAGE, rw)?;
        self.map(shared, vspace, kid::SHARED, rw)?;
        self.map(ipc_buffer, vspace, IPC_BUFFER, rw)?;
        let copy = self.slot();
        invoke::cnode_copy(ROOT, copy, ROOT, shared, Rights::all()).step("copy a frame")?;
        let page = self.page();
        self.map(copy, VSPACE, page, rw)?;
        Ok(Kid {
            tcb,
            vspace,
            ipc_buffer,
            go,
            page,
            started: 0,
            done_before: 0,
        })
    }

    /// Empties the sandbox and fills it again, as [`calls::SEEDED`] says,
    /// and with the kids' notifications.
    fn reset(&mut self) -> Result<(), SetupError> {
        for i in 1..1u64 << SANDBOX_RADIX {
            let _ = invoke::cnode_delete(self.sandbox, i);
        }
        invoke::cnode_revoke(ROOT, self.parent).step("revoke the sandbox")?;
        let (parent, sandbox) = (self.parent, self.sandbox);
        invoke::untyped_retype(parent, ObjectType::Untyped, SANDBOX_BITS, 1, sandbox, 1)
            .step("the sandbox's memory")?;
        let copy = |index: u64, src: u64| {
            invoke::cnode_copy(sandbox, index, ROOT, src, Rights::all()).step("seed the sandbox")
        };
        copy(calls::SANDBOX_CNODE, self.guarded)?;
        for (i, k) in self.kids.iter().flatten().enumerate() {
            copy(3 + i as u64, k.tcb)?;
        }
        copy(6, self.irq)?;
        copy(7, self.port)?;
        for (index, ty) in [
            (8, ObjectType::Endpoint),
            (9, ObjectType::Notification),
            (14, ObjectType::Frame4K),
            (15, ObjectType::Frame4K),
        ] {
            invoke::untyped_retype(parent, ty, 0, 1, sandbox, index).step("seed the sandbox")?;
        }
        // An address space whose tables are mapped from 0 (they cover the
        // first 2 MiB), so that frames map from the first call: made and
        // mapped in the fuzzer's own slots, then moved into the sandbox.
        let made = self.staging;
        for (&slot, ty) in made.iter().zip([
            ObjectType::VSpace,
            ObjectType::Pdpt,
            ObjectType::PageDirectory,
            ObjectType::PageTable,
        ]) {
            invoke::untyped_retype(parent, ty, 0, 1, ROOT, slot).step("seed the sandbox")?;
        }
        for &table in &made[1..] {
            invoke::page_table_map(table, made[0], 0).step("map the seeded tables")?;
        }
        for (i, &s) in made.iter().enumerate() {
            invoke::cnode_move(sandbox, 10 + i as u64, ROOT, s).step("seed the sandbox")?;
        }
        for (k, kid) in self.kids.iter().flatten().enumerate() {
            copy(kid::go_slot(k), kid.go)?;
        }
        Ok(())
    }

    /// Has kid `k` make `call`: signals it if it waits for a call and
    /// finished its last one, else starts it again from scratch
    /// (suspended, which ends any wait; its CSpace, address space and
    /// priority as set up; at its entry) and then signals it. (A kid that
    /// did not finish may have been suspended or given a low priority by
    /// a call, and then it waits in vain.)
    fn start(&mut self, k: usize, call: &Call, index: u64) -> Result<(), SetupError> {
        let guarded = self.guarded;
        let kid = self.kids[k].as_mut().expect("kids are made first");
        if !(kid.waiting() && kid.finished()) {
            invoke::tcb_suspend(kid.tcb).step("suspend a kid")?;
            invoke::tcb_configure(kid.tcb, guarded, kid.vspace, kid.ipc_buffer, IPC_BUFFER)
                .step("configure a kid")?;
            invoke::tcb_set_priority(kid.tcb, KID_PRIORITY).step("a kid's priority")?;
            invoke::tcb_write_registers(kid.tcb, kid::entry(), STACK_TOP, 0, kid::go_slot(k))
                .step("a kid's registers")?;
            invoke::tcb_resume(kid.tcb).step("resume a kid")?;
        }
        kid::write_call(kid.page, call, index + 1);
        kid.started = index;
        kid.done_before = kid::read(kid.page, word::DONE);
        libcap::ipc::signal(kid.go).step("signal a kid")
    }

    /// The kid to make the next call: one that finished its last call or
    /// has been blocked for long, else the longest blocked.
    fn pick(&self, rng: &mut Rng, index: u64) -> usize {
        let first = rng.below(KIDS as u64) as usize;
        let kids = || (0..KIDS).map(|i| (first + i) % KIDS);
        let state = |i: usize| self.kids[i].as_ref().expect("kids are made first");
        kids()
            .find(|&i| state(i).finished() || index - state(i).started > STUCK)
            .unwrap_or_else(|| {
                kids()
                    .min_by_key(|&i| state(i).started)
                    .expect("kids exist")
            })
    }
}

/// The time-stamp counter.
fn tsc() -> u64 {
    // SAFETY: RDTSC only reads a counter; the kernel allows it in user mode.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// What the calls came to.
struct Tally {
    succeeded: u64,
    refused: u64,
    blocked: u64,
    checked: u64,
    /// Per system call (index: its number, up to 15) and per invocation
    /// label (index: label, up to 127): calls made and calls that
    /// succeeded.
    syscalls: [(u64, u64); 16],
    labels: [(u64, u64); 128],
}

impl Tally {
    fn new() -> Self {
        Self {
            succeeded: 0,
            refused: 0,
            blocked: 0,
            checked: 0,
            syscalls: [(0, 0); 16],
            labels: [(0, 0); 128],
        }
    }

    fn count(&mut self, c: &Call, succeeded: bool) {
        let s = u64::from(succeeded);
        if let Some(e) = self.syscalls.get_mut(c.number as usize) {
            e.0 += 1;
            e.1 += s;
        }
        let label = libcap::abi::MessageInfo(c.info).label();
        if c.number == libcap::abi::Syscall::Call as u64
            && let Some(e) = self.labels.get_mut(label as usize)
        {
            e.0 += 1;
            e.1 += s;
        }
    }

    /// The coverage lines: `kfuzz: coverage: <what> <made>/<succeeded>`.
    fn print(&self) {
        for (n, &(made, ok)) in self.syscalls.iter().enumerate() {
            if made > 0 {
                println!("kfuzz: coverage: syscall {n} {made}/{ok}");
            }
        }
        for (l, &(made, ok)) in self.labels.iter().enumerate() {
            if made > 0 {
                println!("kfuzz: coverage: label {l} {made}/{ok}");
            }
        }
    }
}

impl Fuzzer {
    /// Which sandbox slots hold something (a move onto the slot itself
    /// is refused with SlotOccupied for any capability).
    fn probe(&self, g: &mut Guess) {
        for i in 1..1u64 << SANDBOX_RADIX {
            let r = invoke::cnode_move(self.sandbox, i, self.sandbox, i);
            g.probed(i, r == Err(Error::SlotOccupied));
        }
    }
}

pub fn run(boot: &'static BootInfo) -> ! {
    let a = args(boot);
    println!("kfuzz: seed {}, {} calls", a.seed, a.calls);
    match fuzz(boot, &a) {
        Ok(violations) => {
            let ok = violations == 0;
            println!(
                "kfuzz: {}",
                if ok {
                    "passed"
                } else {
                    "FAILED: the oracle found violations"
                }
            );
            syscall::debug_exit(ok)
        }
        Err(e) => {
            println!("kfuzz: setup failed: {e}");
            syscall::debug_exit(false)
        }
    }
}

fn fuzz(boot: &'static BootInfo, a: &Args) -> Result<u64, SetupError> {
    let count = boot.untyped_count as usize;
    let memory = boot.untyped[..count]
        .iter()
        .enumerate()
        .filter(|(_, u)| u.is_device == 0)
        .max_by_key(|(_, u)| u.size_bits)
        .map(|(i, _)| slot::FIRST_UNTYPED + i as u64)
        .ok_or(SetupError("no untyped memory", Error::NotEnoughMemory))?;
    invoke::tcb_set_priority(slot::TCB, FUZZER_PRIORITY).step("the fuzzer's priority")?;
    let mut f = Fuzzer {
        next_slot: boot.first_free_slot,
        next_page: 0,
        infra: 0,
        parent: 0,
        sandbox: 0,
        guarded: 0,
        irq: 0,
        port: 0,
        staging: [0; 4],
        kids: [const { None }; KIDS],
    };
    f.staging = core::array::from_fn(|_| f.slot());
    f.infra = f.object(memory, ObjectType::Untyped, INFRA_BITS)?;
    f.parent = f.object(memory, ObjectType::Untyped, PARENT_BITS)?;
    f.sandbox = f.object(f.infra, ObjectType::CNode, SANDBOX_RADIX)?;
    f.guarded = f.slot();
    invoke::cnode_mint(
        ROOT,
        f.guarded,
        ROOT,
        f.sandbox,
        Rights::all(),
        (64 - SANDBOX_RADIX) << 58,
    )
    .step("guard the sandbox CNode")?;
    f.irq = f.slot();
    invoke::irq_control_get_msi(slot::IRQ_CONTROL, ROOT, f.irq).step("an IRQ handler")?;
    f.port = f.slot();
    invoke::io_port_issue(slot::IO_PORT_CONTROL, 0x80, 0x80, ROOT, f.port).step("port 0x80")?;
    for k in 0..KIDS {
        f.kids[k] = Some(f.kid()?);
    }
    f.reset()?;
    let roots = (f.parent, f.infra);
    let first = syscall::debug_check(roots.0, roots.1).step("the oracle")?;
    println!(
        "kfuzz: sandbox ready ({} capabilities under the oracle); calling",
        first.capabilities
    );

    let mut rng = Rng::new(a.seed);
    let mut guess = Guess::seeded();
    let mut t = Tally::new();
    let (mut violations, mut overflows) = (first.violations, 0u64);
    let start = tsc();
    let hz = boot.tsc_hz.max(1);
    for i in 0..a.calls {
        if i > 0 && i % RESET_EVERY == 0 {
            f.reset()?;
            guess = Guess::seeded();
        } else if i % PROBE_EVERY == PROBE_EVERY - 1 {
            f.probe(&mut guess);
        }
        let k = f.pick(&mut rng, i);
        let call = rng.call(&guess);
        f.start(k, &call, i)?;
        let kid = f.kids[k].as_ref().expect("kids are made first");
        let finished = kid.finished();
        let succeeded = finished && kid::read(kid.page, word::RESULT) == 0;
        t.count(&call, succeeded);
        match (finished, succeeded) {
            (false, _) => t.blocked += 1,
            (true, true) => {
                t.succeeded += 1;
                if guess.learn(&call) {
                    f.probe(&mut guess);
                }
            }
            (true, false) => t.refused += 1,
        }
        let r = syscall::debug_check(roots.0, roots.1).step("the oracle")?;
        t.checked += 1;
        overflows += u64::from(r.overflow);
        if r.violations > 0 {
            violations += r.violations;
            println!(
                "kfuzz: VIOLATION after call {i} of seed {} (replay: cargo xtask fuzz --seed {} --calls {}): {call:x?}",
                a.seed,
                a.seed,
                i + 1
            );
            break;
        }
        if (i + 1) % PROGRESS_EVERY == 0 {
            let secs = (tsc() - start) / hz;
            println!("kfuzz: {} calls, {secs} s", i + 1);
        }
    }
    let cycles = tsc() - start;
    let per_second = u128::from(t.checked) * u128::from(hz) / u128::from(cycles.max(1));
    println!(
        "kfuzz: seed {}: {} calls ({} succeeded, {} refused with an error, {} left blocked), {} oracle checks, {violations} violations, {overflows} checks cut short; {per_second} calls a second (guest TSC)",
        a.seed, t.checked, t.succeeded, t.refused, t.blocked, t.checked,
    );
    t.print();
    Ok(violations)
}

//! The program runtime shared by both entry forms: which form is active,
//! the component's [`Start`], how a program ends, and what a panic does.
//!
//! | | root task ([`entry!`](crate::entry)) | component ([`component!`](crate::component)) |
//! | --- | --- | --- |
//! | started by | the kernel, `rdi` = boot-info page | `init`, `rdi` = start-info page |
//! | main | `fn(&'static BootInfo) -> !` | `fn(&'static Start) -> !`, `-> ()` or `-> Result<(), E>` |
//! | heap | none unless the program installs one ([`crate::heap`]) | [`crate::heap::Heap`] over `StartInfo::heap_*`, set up before main |
//! | logging | [`crate::log_init`] if wanted | set up before main: prefix = the component's name, level = argument `log` (default `info`) |
//! | a panic prints | `PANIC: <msg> at <file>:<line>` | `PANIC in <name>: <msg> at <file>:<line>` |
//! | then | ends the run: `DebugExit(failure)` (yields forever outside self-test mode) | faults on purpose (`ud2`): `init`, its fault handler, applies the restart policy |
//! | [`exit`] | `DebugExit` | the `Exit` system call: `init` gets a `fault::EXITED` message with the status |
//!
//! A component's `main` that returns `Ok(())` (or `()`) exits with status
//! 0; `Err(e)` prints `<name>: main failed: <e:?>` and exits with status 1,
//! which `init` counts as a failure for the restart policy.
//!
//! ```no_run
//! use libcap::runtime::{self, EntryForm};
//! if runtime::entry_form() == EntryForm::Component {
//!     libcap::log::info!("generation {}", runtime::generation());
//! }
//! runtime::exit(0);
//! ```

use crate::heap::Heap;
use crate::start::Start;
use crate::syscall;
use basalt_abi::boot_info::BootInfo;
use core::cell::UnsafeCell;
use core::fmt;
use core::mem::MaybeUninit;
use core::panic::PanicInfo;
use core::sync::atomic::{AtomicBool, AtomicU8, Ordering};

/// Which entry form started the program.
///
/// ```
/// use libcap::runtime::{EntryForm, entry_form};
/// // On the host nothing has started.
/// assert_eq!(entry_form(), EntryForm::NotStarted);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum EntryForm {
    /// Before the entry function (or on the host).
    NotStarted = 0,
    /// The root task, named with [`entry!`](crate::entry).
    RootTask = 1,
    /// A component started by `init`, named with
    /// [`component!`](crate::component).
    Component = 2,
}

static FORM: AtomicU8 = AtomicU8::new(EntryForm::NotStarted as u8);
static START: SetOnce<Start> = SetOnce::new();

/// The entry form that started this program.
///
/// ```
/// if libcap::runtime::entry_form() == libcap::runtime::EntryForm::Component {
///     println!("started by init");
/// }
/// ```
pub fn entry_form() -> EntryForm {
    match FORM.load(Ordering::Acquire) {
        1 => EntryForm::RootTask,
        2 => EntryForm::Component,
        _ => EntryForm::NotStarted,
    }
}

/// The component's start info (`None` in a root task, or before the entry
/// function runs).
///
/// ```
/// match libcap::runtime::start() {
///     Some(start) => println!("component {}", start.name()),
///     None => println!("root task"),
/// }
/// ```
pub fn start() -> Option<&'static Start> {
    START.get()
}

/// The program's name for messages: the component's name, or `roottask`.
///
/// ```
/// assert_eq!(libcap::runtime::program_name(), "roottask");
/// ```
pub fn program_name() -> &'static str {
    start().map_or("roottask", Start::name)
}

/// The component's generation ([`Start::generation`]); 1 in a root task,
/// which is never restarted. RPC servers put it in every reply (see
/// [`crate::rpc`]).
///
/// ```
/// assert_eq!(libcap::runtime::generation(), 1);
/// ```
pub fn generation() -> u64 {
    start().map_or(1, Start::generation)
}

/// What a component's main function may return; the runtime turns it into
/// how the component ends (see the [module documentation](self)).
/// Implemented for `fn(&'static Start) -> !`, `fn(&'static Start)` and
/// `fn(&'static Start) -> Result<(), E>` with `E: Debug`.
///
/// ```
/// use libcap::Start;
/// use libcap::runtime::ComponentMain;
///
/// fn check<M: ComponentMain>(_: M) {}
/// fn main_a(_: &'static Start) -> Result<(), &'static str> { Ok(()) }
/// fn main_b(_: &'static Start) -> ! { loop {} }
/// check(main_a as fn(&'static Start) -> _);
/// check(main_b as fn(&'static Start) -> _);
/// ```
pub trait ComponentMain {
    /// Runs the main function and ends the component.
    ///
    /// ```no_run
    /// use libcap::runtime::ComponentMain;
    /// fn component_main(_: &'static libcap::Start) {}
    /// # let start = libcap::start::testing::start();
    /// (component_main as fn(&'static libcap::Start)).run(start); // exits with status 0
    /// ```
    fn run(self, start: &'static Start) -> !;
}

impl ComponentMain for fn(&'static Start) -> ! {
    fn run(self, start: &'static Start) -> ! {
        self(start)
    }
}

impl ComponentMain for fn(&'static Start) {
    fn run(self, start: &'static Start) -> ! {
        self(start);
        exit(0)
    }
}

impl<E: fmt::Debug> ComponentMain for fn(&'static Start) -> Result<(), E> {
    fn run(self, start: &'static Start) -> ! {
        match self(start) {
            Ok(()) => exit(0),
            Err(e) => {
                crate::println!("{}: main failed: {e:?}", start.name());
                exit(1)
            }
        }
    }
}

/// The root task's entry, called by the code [`entry!`](crate::entry)
/// generates with the boot-info address from `rdi`.
#[doc(hidden)]
pub fn enter_root_task(rdi: u64, main: fn(&'static BootInfo) -> !) -> ! {
    FORM.store(EntryForm::RootTask as u8, Ordering::Release);
    let boot_info = rdi as *const BootInfo;
    assert!(
        !boot_info.is_null() && boot_info.is_aligned(),
        "the kernel passed no usable boot-info address in rdi: {boot_info:p}"
    );
    // SAFETY: non-null and aligned (checked above); the kernel maps the
    // page read-only for the program's lifetime and never writes it again.
    main(unsafe { &*boot_info })
}

/// A component's entry, called by the code
/// [`component!`](crate::component) generates: checks the start-info page
/// at `rdi`, gives `heap` the component's heap, sets up logging and runs
/// `main`.
#[doc(hidden)]
pub fn enter_component<M: ComponentMain>(rdi: u64, heap: &'static Heap, main: M) -> ! {
    FORM.store(EntryForm::Component as u8, Ordering::Release);
    // SAFETY: init's start contract: rdi is the address of the start-info
    // page, mapped read-only and unchanged for the component's lifetime.
    let start = match unsafe { Start::from_address(rdi) } {
        Ok(start) => start,
        Err(e) => panic!("{e}"),
    };
    let Ok(start) = START.set(start) else {
        panic!("the component runtime was entered twice")
    };
    let _ = HEAP.set(heap);
    let (base, size) = start.heap();
    if size > 0 {
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        // SAFETY: init maps the heap read-write at heap_base for heap_size
        // bytes for the component's lifetime, and nothing but this
        // allocator uses it.
        if let Err(e) = unsafe { heap.claim(base as *mut u8, size) } {
            panic!("cannot use the heap at {base:#x} ({size} bytes): {e:?}");
        }
    }
    crate::logging::init_for_component(start);
    main.run(start)
}

/// The component's heap, once the runtime set it up.
static HEAP: SetOnce<&'static Heap> = SetOnce::new();

/// Bytes of the component's heap allocated now; `None` outside a
/// component (a root task, a host test).
///
/// ```
/// assert_eq!(libcap::runtime::heap_used(), None);
/// ```
pub fn heap_used() -> Option<usize> {
    HEAP.get().map(|h| h.used())
}

/// Bytes of the component's heap the allocator does not have free
/// ([`Heap::held`]); `None` outside a component.
///
/// ```
/// assert_eq!(libcap::runtime::heap_held(), None);
/// ```
pub fn heap_held() -> Option<usize> {
    HEAP.get().map(|h| h.held())
}

/// Ends the program with `status` (0: success). A component calls the
/// kernel's `Exit` ([`syscall::exit`]), which tells `init`; a root task,
/// which has nobody to tell, ends the self-test run through `DebugExit`
/// (success if `status` is 0).
///
/// ```no_run
/// libcap::runtime::exit(0);
/// ```
pub fn exit(status: u8) -> ! {
    if entry_form() == EntryForm::Component {
        syscall::exit(u64::from(status))
    }
    syscall::debug_exit(status == 0)
}

/// Faults on purpose (`ud2`, an invalid-opcode fault): the thread's fault
/// handler (`init` for a component) learns of it; without one the kernel
/// suspends the thread. On the host: aborts through a panic.
///
/// ```no_run
/// libcap::runtime::fault();
/// ```
pub fn fault() -> ! {
    imp::fault()
}

#[cfg(target_os = "none")]
mod imp {
    pub(super) fn fault() -> ! {
        loop {
            // SAFETY: `ud2` raises #UD and touches nothing; the fault
            // handler either stops this thread or resumes it here, where
            // it faults again.
            unsafe { core::arch::asm!("ud2", options(nomem, nostack)) };
        }
    }
}

#[cfg(not(target_os = "none"))]
mod imp {
    pub(super) fn fault() -> ! {
        panic!("a deliberate fault (ud2 on Basalt)")
    }
}

/// Formats the panic line: `PANIC: …` for a root task, `PANIC in <name>:
/// …` for a component.
fn write_panic_line(
    w: &mut impl fmt::Write,
    component: Option<&str>,
    message: impl fmt::Display,
    location: Option<(&str, u32)>,
) -> fmt::Result {
    match component {
        Some(name) => write!(w, "PANIC in {name}: {message}")?,
        None => write!(w, "PANIC: {message}")?,
    }
    if let Some((file, line)) = location {
        write!(w, " at {file}:{line}")?;
    }
    writeln!(w)
}

/// The panic handler's body (the `#[panic_handler]` itself is in libcap's
/// bare-metal runtime): reports the panic in the active entry form's way
/// and ends the program as the [module documentation](self) says.
#[doc(hidden)]
pub fn panic(info: &PanicInfo<'_>) -> ! {
    static PANICKING: AtomicBool = AtomicBool::new(false);
    let component = entry_form() == EntryForm::Component;
    if PANICKING.swap(true, Ordering::AcqRel) {
        // A panic while reporting one: stop without formatting anything.
        if component {
            fault()
        }
        syscall::debug_exit(false)
    }
    let name = component.then(program_name);
    let location = info.location().map(|l| (l.file(), l.line()));
    crate::console::print(format_args!(
        "{}",
        PanicLine {
            component: name,
            message: info.message(),
            location,
        }
    ));
    if component {
        fault()
    }
    syscall::debug_exit(false)
}

struct PanicLine<'a, M> {
    component: Option<&'a str>,
    message: M,
    location: Option<(&'a str, u32)>,
}

impl<M: fmt::Display> fmt::Display for PanicLine<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_panic_line(f, self.component, &self.message, self.location)
    }
}

/// A value set once and then read by anyone: the component's [`Start`],
/// the log prefix.
pub(crate) struct SetOnce<T> {
    /// 0: empty, 1: being written, 2: set.
    state: AtomicU8,
    value: UnsafeCell<MaybeUninit<T>>,
}

// SAFETY: the value is written once, by the one caller that moved `state`
// from 0 to 1, before `state` becomes 2 (Release); readers read it only
// after seeing 2 (Acquire) and then only share it.
unsafe impl<T: Send + Sync> Sync for SetOnce<T> {}

impl<T> SetOnce<T> {
    pub(crate) const fn new() -> Self {
        Self {
            state: AtomicU8::new(0),
            value: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    pub(crate) fn set(&self, value: T) -> Result<&T, T> {
        if self
            .state
            .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return Err(value);
        }
        // SAFETY: this caller alone moved the state to 1, so nobody else
        // writes or reads the value until the state is 2.
        let v = unsafe { (*self.value.get()).write(value) };
        self.state.store(2, Ordering::Release);
        Ok(v)
    }

    pub(crate) fn get(&self) -> Option<&T> {
        if self.state.load(Ordering::Acquire) == 2 {
            // SAFETY: state 2 means the value was written and never changes.
            Some(unsafe { (*self.value.get()).assume_init_ref() })
        } else {
            None
        }
    }
}

/// The IPC buffer libcap uses is where `init` maps a component's.
const _: () = assert!(basalt_abi::start_info::IPC_BUFFER_ADDR == crate::ipc_buffer::ADDRESS);

#[cfg(test)]
mod tests {
    use super::*;

    fn line(component: Option<&str>, msg: &str, at: Option<(&str, u32)>) -> String {
        let mut s = String::new();
        write_panic_line(&mut s, component, msg, at).unwrap();
        s
    }

    #[test]
    fn panic_lines_name_the_component_or_keep_the_root_task_form() {
        assert_eq!(
            line(Some("hello-server"), "boom", Some(("src/main.rs", 7))),
            "PANIC in hello-server: boom at src/main.rs:7\n"
        );
        assert_eq!(
            line(None, "oops", Some(("tests/roottest/src/main.rs", 1))),
            "PANIC: oops at tests/roottest/src/main.rs:1\n"
        );
        assert_eq!(line(None, "x", None), "PANIC: x\n");
    }

    #[test]
    fn set_once_takes_the_first_value_only() {
        let cell = SetOnce::new();
        assert_eq!(cell.get(), None);
        assert_eq!(cell.set(5), Ok(&5));
        assert_eq!(cell.set(6), Err(6));
        assert_eq!(cell.get(), Some(&5));
    }

    #[test]
    fn on_the_host_nothing_has_started() {
        assert_eq!(entry_form(), EntryForm::NotStarted);
        assert_eq!(program_name(), "roottask");
        assert_eq!(generation(), 1);
        assert!(start().is_none());
    }
}

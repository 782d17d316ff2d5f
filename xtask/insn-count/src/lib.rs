//! A QEMU TCG plugin (`-plugin libinsn_count.so,out=PATH`) that counts
//! the guest instructions executed: every translated block adds its
//! instruction count to one counter each time it runs (QEMU's inline
//! add, no callback). A halted vCPU executes nothing, so idle time adds
//! nothing, unlike the clock under `-icount`, which jumps ahead while the
//! guest waits. `cargo xtask bench kvs|memcached --icount` reads the
//! counter before and after each row's run: instructions per request,
//! the same measure for Basalt and for Linux.
//!
//! The counter reaches xtask through a file: a thread writes the count
//! to `PATH` (through a temporary file and a rename, so a reader never
//! sees half a number) every [`PERIOD`], and once more when QEMU exits.
//!
//! The API is QEMU's plugin interface version 1 (QEMU 7.x), declared
//! here for the four calls used; QEMU checks `qemu_plugin_version` when
//! it loads the plugin. One vCPU: the inline add is not atomic across
//! vCPUs.

use core::ffi::{c_char, c_int, c_void};
use std::ffi::CStr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How often the count is written out.
pub const PERIOD: Duration = Duration::from_millis(5);

/// The plugin API version this plugin was written against.
#[unsafe(no_mangle)]
pub static qemu_plugin_version: c_int = 1;

/// `QEMU_PLUGIN_INLINE_ADD_U64`.
const INLINE_ADD_U64: c_int = 0;

unsafe extern "C" {
    fn qemu_plugin_register_vcpu_tb_trans_cb(id: u64, cb: extern "C" fn(id: u64, tb: *mut c_void));
    fn qemu_plugin_tb_n_insns(tb: *const c_void) -> usize;
    fn qemu_plugin_register_vcpu_tb_exec_inline(
        tb: *mut c_void,
        op: c_int,
        ptr: *mut c_void,
        imm: u64,
    );
    fn qemu_plugin_register_atexit_cb(
        id: u64,
        cb: extern "C" fn(id: u64, userdata: *mut c_void),
        userdata: *mut c_void,
    );
}

/// Instructions executed so far; QEMU's generated code adds to it.
static COUNT: AtomicU64 = AtomicU64::new(0);
/// Where the count goes.
static OUT: OnceLock<PathBuf> = OnceLock::new();

/// Writes `count` to `path` whole: a temporary file renamed over it.
pub fn publish(path: &Path, count: u64) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, format!("{count}\n"))?;
    std::fs::rename(&tmp, path)
}

/// The count a file [`publish`] wrote holds.
pub fn read(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The `out=PATH` argument (QEMU keeps `file=` for the plugin's own path) among the plugin's arguments.
fn file_argument(args: &[&str]) -> Option<PathBuf> {
    args.iter()
        .find_map(|a| a.strip_prefix("out="))
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
}

extern "C" fn translated(_id: u64, tb: *mut c_void) {
    // SAFETY: QEMU passes a translation block being translated, the
    // only time these calls may be made on it; the counter is a static
    // that outlives every block.
    unsafe {
        let n = qemu_plugin_tb_n_insns(tb) as u64;
        qemu_plugin_register_vcpu_tb_exec_inline(tb, INLINE_ADD_U64, COUNT.as_ptr().cast(), n);
    }
}

extern "C" fn exiting(_id: u64, _userdata: *mut c_void) {
    if let Some(path) = OUT.get() {
        let _ = publish(path, COUNT.load(Ordering::Relaxed));
    }
}

/// QEMU's entry point: `argv` holds the `key=value` arguments after the
/// plugin's path. 0 on success; without `out=PATH`, -1 and QEMU stops.
///
/// # Safety
///
/// Called by QEMU as its plugin interface says: `argv` holds `argc`
/// NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn qemu_plugin_install(
    id: u64,
    _info: *const c_void,
    argc: c_int,
    argv: *const *const c_char,
) -> c_int {
    let args: Vec<&str> = (0..argc.max(0) as usize)
        // SAFETY: the caller's contract.
        .filter_map(|i| unsafe { CStr::from_ptr(*argv.add(i)) }.to_str().ok())
        .collect();
    let Some(path) = file_argument(&args) else {
        eprintln!("insn-count: give the plugin out=PATH");
        return -1;
    };
    let _ = OUT.set(path.clone());
    std::thread::spawn(move || {
        loop {
            let _ = publish(&path, COUNT.load(Ordering::Relaxed));
            std::thread::sleep(PERIOD);
        }
    });
    // SAFETY: `id` is ours, the callbacks are functions of this library,
    // which QEMU keeps loaded.
    unsafe {
        qemu_plugin_register_vcpu_tb_trans_cb(id, translated);
        qemu_plugin_register_atexit_cb(id, exiting, core::ptr::null_mut());
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_argument_is_found_and_required() {
        assert_eq!(
            file_argument(&["inline=on", "out=/tmp/n"]),
            Some(PathBuf::from("/tmp/n"))
        );
        assert_eq!(file_argument(&["out="]), None);
        assert_eq!(file_argument(&[]), None);
    }

    #[test]
    fn a_published_count_reads_back_whole() {
        let dir = std::env::temp_dir().join(format!("insn-count-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("count");
        assert_eq!(read(&path), None);
        publish(&path, 123_456_789_012).unwrap();
        assert_eq!(read(&path), Some(123_456_789_012));
        publish(&path, 7).unwrap();
        assert_eq!(read(&path), Some(7));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

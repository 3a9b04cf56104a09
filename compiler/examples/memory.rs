//! Where the memory of `pw check` and `pw lint` goes: loads, parses, checks and lints a
//! workspace as the `pw` binary does (mimalloc, files parsed on all cores), and prints after
//! each stage the bytes the program holds, the most it held so far, the allocations made and the
//! process's peak resident set.
//!
//! ```sh
//! cargo run --release -p pw-compiler --example memory -- /tmp/bench-ws          # as `pw lint`
//! cargo run --release -p pw-compiler --example memory -- /tmp/bench-ws check    # as `pw check`
//! ```

use std::alloc::{GlobalAlloc, Layout};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// mimalloc, counting what is held and how often it is asked.
struct Counting;

static HELD: AtomicUsize = AtomicUsize::new(0);
static MOST: AtomicUsize = AtomicUsize::new(0);
static CALLS: AtomicUsize = AtomicUsize::new(0);

fn grow(by: usize) {
    let held = HELD.fetch_add(by, Relaxed) + by;
    MOST.fetch_max(held, Relaxed);
}

// SAFETY: every call is passed on to mimalloc unchanged; the counters only observe.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grow(layout.size());
        CALLS.fetch_add(1, Relaxed);
        unsafe { mimalloc::MiMalloc.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        HELD.fetch_sub(layout.size(), Relaxed);
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, size: usize) -> *mut u8 {
        grow(size);
        HELD.fetch_sub(layout.size(), Relaxed);
        CALLS.fetch_add(1, Relaxed);
        unsafe { mimalloc::MiMalloc.realloc(ptr, layout, size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The process's peak resident set, from `/proc` (Linux), in MB.
fn peak_resident() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok());
    kb.map_or("?".to_string(), |kb| format!("{:.0}", kb * 1024.0 / 1e6))
}

fn report(stage: &str) {
    let mb = |n: usize| n as f64 / 1e6;
    println!(
        "{stage:<8} held {:6.1} MB   most held {:6.1} MB   allocations {:>9}   peak resident {} MB",
        mb(HELD.load(Relaxed)),
        mb(MOST.load(Relaxed)),
        CALLS.load(Relaxed),
        peak_resident()
    );
}

fn main() {
    let Some(path) = std::env::args().nth(1).map(PathBuf::from) else {
        eprintln!("usage: memory <workspace folder or file> [check]");
        std::process::exit(2);
    };
    let workspace = match pw_compiler::driver::load(&[path]) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    report("loaded");
    if std::env::args().nth(2).as_deref() == Some("check") {
        // `pw check`: the trees are freed while the program is built.
        let checked = pw_compiler::check_workspace(&workspace);
        report("checked");
        println!("{} diagnostics", checked.diagnostics.len());
        return;
    }
    let files = pw_compiler::parse_all(&workspace);
    report("parsed");
    let analysis = pw_compiler::analyze_parsed(&workspace, files.into_iter().map(std::sync::Arc::new).collect());
    report("checked");
    let findings = pw_compiler::lint::lint(&workspace, &analysis, &Default::default());
    report("linted");
    println!("{} diagnostics, {} findings", analysis.diagnostics.len(), findings.len());
}

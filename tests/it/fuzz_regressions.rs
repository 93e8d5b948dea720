//! Replays every input that once crashed a fuzz target
//! (`fuzz/regressions/<target>/`), and the seed corpora
//! (`fuzz/seeds/<target>/`), through the fuzz targets' own code: the harness
//! in `fuzz/src/lib.rs` is included here as a module, so a fix is checked
//! against exactly what the fuzzer ran. Fuzzing itself is not part of the
//! tests; see docs/fuzzing.md.
//!
//! Besides panics, an input fails when replaying it makes its thread hold
//! more than `MAX_GROWTH` bytes at once: the fuzzer stops such inputs with
//! its memory limit, and a small input needing that much is a denial of
//! service waiting to happen.

#[path = "../../fuzz/src/lib.rs"]
mod harness;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

/// The most one input may make its thread allocate beyond what it held
/// before (live bytes at the peak). The seeds need a few MiB; a 240 KB set
/// of 20,000 files needs about 90 MiB of descriptors, linear in its size.
const MAX_GROWTH: isize = 128 << 20;

/// Counts live heap bytes per thread (each test replays on its own thread).
struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn note(delta: isize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: every call is passed to the system allocator unchanged; the
// counters are plain thread-local cells that never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            note(layout.size() as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            note(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        note(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            note(new_size as isize - layout.size() as isize);
        }
        p
    }
}

// The allocator of the whole test binary (all of tests/it), not only of
// this module: the other tests pay two thread-local additions per call.
#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` and returns the most bytes it held at once beyond the start.
fn peak_growth(f: impl FnOnce()) -> isize {
    let start = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(start));
    f();
    PEAK.with(Cell::get) - start
}

/// The files of `fuzz/<kind>/<target>/`, sorted; none if it does not exist.
fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(kind)
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    paths
}

/// Runs `target` on each input, and fails naming every input that panics
/// (with its message) or needs too much memory.
fn replay(target: &str, run: fn(&[u8])) {
    let mut failures = Vec::new();
    let mut count = 0;
    for kind in ["regressions", "seeds"] {
        for path in inputs(kind, target) {
            let data = std::fs::read(&path).expect("a fuzz input is readable");
            count += 1;
            let mut outcome = Ok(());
            let growth = peak_growth(|| outcome = catch_unwind(AssertUnwindSafe(|| run(&data))));
            if let Err(payload) = outcome {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic without a message".into());
                failures.push(format!("{}: panics: {message}", path.display()));
            } else if growth > MAX_GROWTH {
                failures.push(format!(
                    "{}: holds {} MiB at once (limit {} MiB)",
                    path.display(),
                    growth >> 20,
                    MAX_GROWTH >> 20
                ));
            }
        }
    }
    assert!(count > 0, "no inputs for {target} under fuzz/");
    assert!(
        failures.is_empty(),
        "{} of {count} inputs of fuzz target {target} fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn json_to_message_inputs() {
    replay("json_to_message", harness::json_to_message);
}

#[test]
fn descriptor_set_inputs() {
    replay("descriptor_set", harness::descriptor_set);
}

#[test]
fn frames_inputs() {
    replay("frames", harness::frames);
}

#[test]
fn transcode_inputs() {
    replay("transcode", harness::transcode);
}

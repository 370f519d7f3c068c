//! `outsync`: see the `outsync_server` library.

/// mimalloc rather than the system allocator: the worker's hot path allocates per job
/// (rows, JSON, results), and glibc's malloc took about a quarter of its CPU time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    outsync_server::main()
}

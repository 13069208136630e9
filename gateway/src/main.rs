//! The `flashsale` binary: `flashsale serve` (the default), `flashsale migrate`.

/// mimalloc rather than the system allocator: every request allocates, on several threads
/// at once (see BENCHMARKS.md, *the allocator*).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    gateway::cli::main()
}

//! The `flashsale` binary: `flashsale serve` (the default), `flashsale migrate`.

fn main() -> anyhow::Result<()> {
    gateway::cli::main()
}

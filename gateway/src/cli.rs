//! Command line: `flashsale [--config PATH] [serve|migrate]`.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::{Application, Settings, demo, telemetry};

#[derive(Debug, Parser)]
#[command(name = "flashsale", version, about = "Flash-sale engine for livestream commerce")]
struct Cli {
    /// Configuration file [default: ./config.toml if present]
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the platform (the default)
    Serve,
    /// Create or update the database schema, then exit
    Migrate,
}

pub fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load(cli.config.as_deref())?;
    telemetry::init_logs(&settings.log.level);
    actix_web::rt::System::new().block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(settings).await,
            Command::Migrate => {
                persistence::connect(&settings.database.url, 1, settings.database.sqlite_synchronous_full)
                    .await?;
                println!(
                    "database schema is up to date: {}",
                    persistence::db::redact(&settings.database.url)
                );
                Ok(())
            }
        }
    })
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(settings).await.context("starting flashsale")?;
    let base = app.base_url().to_owned();
    // Plain lines on stdout, for people and for scripts that wait for the address.
    println!("flashsale listening on {base}");
    println!("  health:  {base}/healthz");
    println!("  metrics: {base}/metrics");
    if let Some(seeded) = app.demo() {
        println!("demo data seeded:");
        println!("  flash sale: {base}/api/v1/flash-sales/{}", seeded.flash_sale_id);
        println!("  product:    {base}/api/v1/products/{}", seeded.product_id);
        println!(
            "  merchant:   phone {} password {} (POST {base}/api/v1/sessions)",
            demo::DEMO_PHONE,
            demo::DEMO_PASSWORD
        );
    }
    if let Some(password) = app.operator_password() {
        println!(
            "operator console: username operator, password {password} (shown once; POST {base}/api/v1/operator/sessions)"
        );
    }
    if app.sandbox().is_some() {
        println!(
            "payment sandboxes: {base}/sandbox/wechat and {base}/sandbox/alipay (POST {base}/sandbox/{{channel}}/pay pays as a buyer)"
        );
    }
    app.run(true).await
}

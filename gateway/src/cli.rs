//! Command line: `flashsale [--config PATH] [serve|migrate|operator …]`.

use std::io::BufRead as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use persistence::access;
use settings::production;
use workflows::accounts::operators;
use workflows::accounts::passwords::{self, generate_password, hash_password};
use workflows::accounts::roles::{self, OperatorRole};

use crate::{Application, Settings, telemetry};

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
    /// Manage operator accounts (the only way to create the first one in production)
    #[command(subcommand)]
    Operator(OperatorCommand),
}

fn role(raw: &str) -> Result<OperatorRole, String> {
    OperatorRole::parse(raw).ok_or_else(|| format!("{raw:?} is not one of reviewer, finance, admin"))
}

#[derive(Debug, Subcommand)]
enum OperatorCommand {
    /// Create an operator account. The password is read from the first line of stdin with
    /// --password-stdin, else generated and printed once.
    Add {
        #[arg(long)]
        username: String,
        /// reviewer, finance or admin
        #[arg(long, value_parser = role)]
        role: OperatorRole,
        #[arg(long)]
        password_stdin: bool,
    },
    /// List operator accounts
    List,
    /// Revoke every token of an operator; with --disable the account can no longer log in
    Revoke {
        #[arg(long)]
        username: String,
        #[arg(long)]
        disable: bool,
    },
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
            Command::Operator(command) => operator(settings, command).await,
        }
    })
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    // Every problem at once, before anything is opened or bound.
    let problems = production::startup_problems(&settings);
    if !problems.is_empty() {
        anyhow::bail!("{}", production::refusal(&problems));
    }
    let app = Application::build(settings).await.context("starting flashsale")?;
    let local = format!("http://{}", app.local_addr());
    let base = app.base_url().to_owned();
    // Plain lines on stdout, for people and for scripts that wait for the address.
    println!("flashsale listening on {local}");
    if base != local {
        println!("  public:  {base}");
    }
    println!("  health:  {base}/healthz");
    if let Some(addr) = app.metrics_addr() {
        println!("  metrics: http://{addr}/metrics");
    }
    if let Some(seeded) = app.demo() {
        println!("demo data seeded:");
        if let Some(fan_page) = app.share_url(seeded.flash_sale_id) {
            println!("  fan page:   {fan_page}  (open this first, on a phone or a narrow window)");
        }
        println!("  flash sale: {base}/api/v1/flash-sales/{}", seeded.flash_sale_id);
        println!("  product:    {base}/api/v1/products/{}", seeded.product_id);
        println!(
            "  merchant:   phone {} password {} (shown once; sign in at {base}/console)",
            workflows::demo::DEMO_PHONE,
            seeded.merchant_password
        );
    }
    if let Some(seeded) = app.seeded_operator() {
        match &seeded.generated_password {
            Some(password) => println!(
                "operator console: {base}/admin, admin {} password {password} (shown once)",
                seeded.username
            ),
            None => {
                println!(
                    "operator console: {base}/admin, admin {} with the password in operator.password",
                    seeded.username
                )
            }
        }
    }
    if app.sandbox().is_some() {
        println!(
            "payment sandboxes: {base}/sandbox/wechat and {base}/sandbox/alipay (POST {base}/sandbox/{{channel}}/pay pays as a buyer)"
        );
    }
    if app.state().sms_sandbox.is_some() {
        println!(
            "sms sandbox inbox: {base}/sandbox/sms/messages?phone=PHONE (buyers' login codes and order notices)"
        );
    }
    if app.state().wechat_mp_sandbox.is_some() {
        println!("wechat subscription messages sandbox: {base}/sandbox/wechat-mp/messages?openid=OPENID");
    }
    app.run(true).await
}

async fn operator(settings: Settings, command: OperatorCommand) -> anyhow::Result<()> {
    let db =
        persistence::connect(&settings.database.url, 1, settings.database.sqlite_synchronous_full).await?;
    let now = engine::Timestamp(chrono::Utc::now().timestamp_millis());
    match command {
        OperatorCommand::Add { username, role, password_stdin } => {
            let username = roles::username(&username)?;
            let (password, generated) = if password_stdin {
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line).context("reading the password from stdin")?;
                (passwords::acceptable(line.trim_end_matches(['\r', '\n']))?.to_owned(), false)
            } else {
                (generate_password(), true)
            };
            let secret = password.clone();
            let hash = tokio::task::spawn_blocking(move || hash_password(&secret))
                .await?
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let id = operators::create(&db, None, &username, role, &hash, now).await?;
            println!("operator {username} created: id {id}, role {}", role.as_str());
            if generated {
                println!("password: {password}  (shown once)");
            }
        }
        OperatorCommand::List => {
            for account in access::operators(&db).await? {
                let state = if account.disabled_at.is_some() { "disabled" } else { "active" };
                println!("{}\t{}\t{}\t{state}", account.id, account.username, account.role);
            }
        }
        OperatorCommand::Revoke { username, disable } => {
            let account = access::operator_by_username(&db, &username)
                .await?
                .with_context(|| format!("no operator named {username}"))?;
            operators::revoke(&db, None, account.id, disable, now).await?.context("the operator vanished")?;
            println!(
                "operator {username}: tokens revoked{} (running servers notice within auth.token_version_cache_secs)",
                if disable { ", account disabled" } else { "" }
            );
        }
    }
    Ok(())
}

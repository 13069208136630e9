//! Builds and runs the whole platform: database, journal writer, stock actors (recovered from
//! the database before the first request), the HTTP server, and an orderly shutdown that
//! stops taking requests, stops the actors and drains the journal to disk.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{App, HttpServer, middleware::from_fn, web};
use actors::{ActorSettings, Clock, Journal, OrderIds, StockRegistry, SystemClock};
use anyhow::Context as _;
use persistence::{DatabaseConnection, WriterSettings, repo};
use rand::Rng as _;
use tokio::task::JoinHandle;

use crate::admission::Admission;
use crate::auth::Tokens;
use crate::config::Settings;
use crate::{demo, routes, telemetry};

/// Shared by every handler.
pub struct AppState {
    pub db: DatabaseConnection,
    pub registry: Arc<StockRegistry>,
    pub journal: Journal,
    pub tokens: Tokens,
    pub admission: Admission,
    pub clock: Arc<dyn Clock>,
    pub settings: Settings,
    pub base_url: String,
}

impl AppState {
    /// Starts the stock actor of a stored flash sale, rebuilt from its orders.
    pub async fn start_sale(&self, terms: engine::SaleTerms) -> anyhow::Result<Arc<actors::SaleHandle>> {
        let orders = repo::orders_of_sale(&self.db, terms.id).await?;
        let id = terms.id;
        self.registry
            .start(terms, orders)
            .with_context(|| format!("flash sale {id} breaks an invariant in storage"))
    }
}

/// A platform that is listening and recovered, not yet serving until [`Application::run`].
pub struct Application {
    server: Server,
    state: web::Data<AppState>,
    writer: JoinHandle<()>,
    demo: Option<demo::Demo>,
}

impl Application {
    /// Everything up to the first request. Must run inside an actix `System`.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let metrics = telemetry::metrics();

        let db = persistence::connect(
            &settings.database.url,
            settings.database.max_connections,
            settings.database.sqlite_synchronous_full,
        )
        .await?;
        let secret = if settings.auth.token_secret.is_empty() {
            let fresh: [u8; 32] = rand::rng().random();
            let hex: String = fresh.iter().map(|b| format!("{b:02x}")).collect();
            repo::setting_or_insert(&db, "token_secret", hex).await?
        } else {
            settings.auth.token_secret.clone()
        };
        anyhow::ensure!(secret.len() >= 16, "auth.token_secret must be at least 16 characters");

        let (journal, receiver) =
            actors::journal::journal(settings.journal.capacity, settings.journal.durable_ack);
        let writer = tokio::spawn(persistence::run_writer(
            db.clone(),
            receiver,
            WriterSettings {
                batch_max: settings.journal.batch_max,
                linger: Duration::from_millis(settings.journal.linger_ms),
            },
        ));
        let ids = Arc::new(OrderIds::new(clock.now(), repo::largest_order_id(&db).await?));
        let registry = Arc::new(StockRegistry::new(
            ActorSettings {
                arbiters: settings.actors.arbiters,
                mailbox_capacity: settings.actors.mailbox_capacity,
                expiry_tick: Duration::from_millis(settings.actors.expiry_tick_ms),
                expiry_batch: settings.actors.expiry_batch,
            },
            journal.clone(),
            clock.clone(),
            ids,
        ));

        let listener = TcpListener::bind(&settings.server.bind)
            .with_context(|| format!("binding {}", settings.server.bind))?;
        let addr = listener.local_addr()?;
        let base_url = if settings.server.public_url.is_empty() {
            format!("http://{addr}")
        } else {
            settings.server.public_url.trim_end_matches('/').to_owned()
        };

        let state = web::Data::new(AppState {
            tokens: Tokens::new(secret.as_bytes()),
            admission: Admission::new(&settings.admission),
            db,
            registry,
            journal,
            clock,
            base_url,
            settings: settings.clone(),
        });

        // Recovery: every sale's actor is rebuilt from the orders before traffic is taken.
        let sales = repo::all_flash_sales(&state.db).await?;
        let recovered = sales.len();
        for terms in sales {
            state.start_sale(terms).await?;
        }
        tracing::info!(flash_sales = recovered, "stock actors recovered from the database");

        let demo = if settings.demo.seed { demo::seed_if_empty(&state).await? } else { None };

        let max_body = settings.server.max_body_bytes;
        let server_state = state.clone();
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(server_state.clone())
                .app_data(routes::json_config(max_body))
                .app_data(routes::path_config())
                .app_data(web::PayloadConfig::new(max_body))
                .app_data(web::Data::new(metrics.clone()))
                .configure(routes::ops)
                .service(web::scope("/api/v1").wrap(from_fn(crate::admission::admit)).configure(routes::api))
                .default_service(web::to(routes::not_found))
        })
        .backlog(settings.server.backlog)
        .shutdown_timeout(settings.server.shutdown_timeout_secs)
        .disable_signals();
        if settings.server.workers > 0 {
            server = server.workers(settings.server.workers);
        }
        let server = server.listen(listener)?.run();

        Ok(Self { server, state, writer, demo })
    }

    pub fn base_url(&self) -> &str {
        &self.state.base_url
    }

    pub fn demo(&self) -> Option<&demo::Demo> {
        self.demo.as_ref()
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// Serves until the server is stopped (by [`ServerHandle::stop`] or, with
    /// `stop_on_signals`, SIGINT/SIGTERM), then drains: actors stop, the journal is closed
    /// and everything appended is committed before this returns.
    pub async fn run(self, stop_on_signals: bool) -> anyhow::Result<()> {
        let Self { server, state, writer, .. } = self;
        if stop_on_signals {
            let handle = server.handle();
            tokio::spawn(async move {
                shutdown_signal().await;
                tracing::info!("shutdown requested, finishing in-flight requests");
                handle.stop(true).await;
            });
        }
        let housekeeping = tokio::spawn({
            let state = state.clone();
            async move {
                let mut tick = tokio::time::interval(Duration::from_secs(10));
                loop {
                    tick.tick().await;
                    state.admission.forget_idle();
                    telemetry::metrics().run_upkeep();
                }
            }
        });
        let served = server.await;
        housekeeping.abort();
        state.registry.shutdown();
        state.journal.close().await;
        let drained = tokio::time::timeout(Duration::from_secs(30), writer).await;
        match drained {
            Ok(Ok(())) => tracing::info!(durable = state.journal.durable(), "journal drained, bye"),
            Ok(Err(error)) => tracing::error!(%error, "journal writer failed"),
            Err(_) => {
                tracing::error!("journal writer did not drain within 30s; unacknowledged events may be lost")
            }
        }
        served.context("http server")
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

//! Builds and runs the whole platform: database, journal writer, stock actors (recovered from
//! the database before the first request, for the sales that can still change), the HTTP
//! server, and an orderly shutdown that stops taking requests, stops the actors and drains the
//! journal to disk.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{App, HttpServer, middleware::from_fn, web};
use actors::{Clock, Journal, OrderIds, SettlementRegistry, StockRegistry, SystemClock};
use anyhow::Context as _;
use persistence::{DatabaseConnection, WriterStatus, repo};
use providers::sms::SmsSender;
use rand::Rng as _;
use sandbox::Sandbox;
use sandbox::courier::CourierSandbox;
use sandbox::sms::SmsSandbox;
use sandbox::wechat_mp::WechatMpSandbox;
use tokio::task::JoinHandle;
use workflows::accounts::login::{LoginThrottle, PasswordWork};
use workflows::accounts::versions::TokenVersions;
use workflows::buyer_codes::LoginCodes;
use workflows::fulfilment::label::LabelFont;
use workflows::fulfilment::shipping::Fulfilment;
use workflows::notifications::Notifications;
use workflows::orders::export::Exports;
use workflows::payments::Payments;

use crate::admission::Admission;
use crate::auth::Tokens;
use crate::client::TrustedProxies;
use crate::wiring::{channel_clients, courier, live, sandbox_keys, sms, wechat_mp};
use crate::{routes, telemetry};
use persistence::health::{self, Health};
use settings::production;
use settings::{Mode, Settings};
use workflows::demo;

/// Shared by every handler.
pub struct AppState {
    pub db: DatabaseConnection,
    pub registry: Arc<StockRegistry>,
    pub journal: Journal,
    pub tokens: Tokens,
    pub admission: Admission,
    /// Whose `X-Forwarded-For` is believed about who is calling.
    pub proxies: TrustedProxies,
    pub clock: Arc<dyn Clock>,
    pub settings: Settings,
    pub base_url: String,
    /// The payment workflow: creation, reports, the active query, refunds, reconciliation.
    pub payments: Arc<Payments>,
    /// The bundled sandboxes, when this server serves them.
    pub sandbox: Option<Arc<Sandbox>>,
    /// Every password hash goes through it (bounded memory and CPU).
    pub passwords: PasswordWork,
    pub logins: LoginThrottle,
    pub token_versions: TokenVersions,
    pub health: Health,
    /// Login codes for buyers and the SMS port they go out through.
    pub login_codes: LoginCodes,
    /// The bundled SMS sandbox, when this server serves it.
    pub sms_sandbox: Option<Arc<SmsSandbox>>,
    /// Shipping, labels, tracking pushes, receipt and completion.
    pub fulfilment: Arc<Fulfilment>,
    /// The bundled courier sandbox, when this server serves it.
    pub courier_sandbox: Option<Arc<CourierSandbox>>,
    /// The merchants' order exports (files and jobs).
    pub exports: Arc<Exports>,
    /// The outbox worker that tells buyers what happened to their orders (SMS, WeChat), and
    /// what operators do with the messages that could not go.
    pub notifications: Arc<Notifications>,
    /// The bundled WeChat mini-program sandbox, when this server serves it.
    pub wechat_mp_sandbox: Option<Arc<WechatMpSandbox>>,
    /// The live platforms: bound shops, the refresh sweep.
    pub live: Arc<workflows::live::Live>,
    /// The bundled live-platform sandboxes, when this server serves them.
    pub douyin_sandbox: Option<Arc<sandbox::live::douyin::DouyinSandbox>>,
    pub kuaishou_sandbox: Option<Arc<sandbox::live::kuaishou::KuaishouSandbox>>,
    /// Who may sell: qualification review, documents, bans, takedowns.
    pub trust: Arc<crate::trust::TrustState>,
    /// Products, SKUs, pictures, import, the banned-word check, unsold units given back.
    pub catalogue: Arc<workflows::catalogue::Catalogue>,
}

impl AppState {
    /// Starts the stock actor of a stored flash sale, rebuilt from its orders.
    pub async fn start_sale(&self, terms: engine::SaleTerms) -> anyhow::Result<Arc<actors::SaleHandle>> {
        workflows::sales::start(&self.db, &self.registry, terms).await
    }

    /// The stock actor of a sale, started on demand for a settled one (see
    /// [`workflows::sales::running_or_started`]).
    pub async fn sale(&self, id: engine::FlashSaleId) -> anyhow::Result<Option<Arc<actors::SaleHandle>>> {
        workflows::sales::running_or_started(&self.db, &self.registry, id).await
    }
}

/// A platform that is listening and recovered, not yet serving until [`Application::run`].
pub struct Application {
    server: Server,
    state: web::Data<AppState>,
    writer: JoinHandle<()>,
    demo: Option<demo::Demo>,
    operator: Option<demo::SeededOperator>,
    /// The separate `/metrics` listener (`server.metrics_bind`).
    metrics_server: Option<(Server, SocketAddr)>,
    local_addr: SocketAddr,
    pages: web::Data<crate::pages::Pages>,
}

impl Application {
    /// Everything up to the first request. Must run inside an actix `System`.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    /// [`Application::build`] on another clock (tests move a manual one).
    pub async fn build_with_clock(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let problems = production::startup_problems(&settings);
        anyhow::ensure!(problems.is_empty(), "{}", production::refusal(&problems));
        let demo_mode = settings.mode == Mode::Demo;
        let metrics = telemetry::metrics();

        let db = persistence::connect(
            &settings.database.url,
            settings.database.max_connections,
            settings.database.sqlite_synchronous_full,
        )
        .await?;
        // Production refused to start without a configured secret: the settings table is only
        // ever read or written for secrets in demo mode.
        let secret = if settings.auth.token_secret.is_empty() && demo_mode {
            let fresh: [u8; 32] = rand::rng().random();
            let hex: String = fresh.iter().map(|b| format!("{b:02x}")).collect();
            repo::setting_or_insert(&db, "token_secret", hex).await?
        } else {
            settings.auth.token_secret.clone()
        };
        anyhow::ensure!(secret.len() >= 16, "auth.token_secret must be at least 16 characters");
        let pages = web::Data::new(crate::pages::Pages::new(secret.as_bytes()));

        // The order log first: what it holds and the database lacks is applied before anything
        // reads orders (the stock actors are rebuilt from the database below).
        let recovered = match settings.journal.log_path.as_str() {
            "" => None,
            path => {
                let recovered = persistence::order_log::recover(&db, std::path::Path::new(path))
                    .await
                    .with_context(|| format!("recovering the order log {path}"))?;
                if recovered.replayed > 0 || recovered.torn_bytes > 0 {
                    tracing::warn!(
                        path,
                        replayed = recovered.replayed,
                        torn_bytes = recovered.torn_bytes,
                        "order log: applied what the database lacked, dropped a torn last record"
                    );
                }
                Some(recovered)
            }
        };
        let last_seq = match &recovered {
            Some(recovered) => recovered.last_seq,
            None => persistence::order_log::applied_seq(&db).await?,
        };
        let (journal, receiver) =
            actors::journal::journal_after(last_seq, settings.journal.capacity, settings.journal.durable_ack);
        let writer_status = Arc::new(WriterStatus::default());
        let writer_settings = settings.writer(writer_status.clone());
        let writer = match recovered {
            Some(recovered) => tokio::spawn(persistence::run_writer_with_log(
                db.clone(),
                receiver,
                writer_settings,
                recovered.log,
                settings.journal.log_max_bytes,
            )),
            None => tokio::spawn(persistence::run_writer(db.clone(), receiver, writer_settings)),
        };
        let ids = Arc::new(OrderIds::new(clock.now(), repo::largest_order_id(&db).await?));
        let registry = Arc::new(
            StockRegistry::new(settings.stock_actors(), journal.clone(), clock.clone(), ids)
                .with_hold_caps(settings.hold_caps()),
        );

        let listener = TcpListener::bind(&settings.server.bind)
            .with_context(|| format!("binding {}", settings.server.bind))?;
        let addr = listener.local_addr()?;
        let metrics_listener = match settings.server.metrics_bind.as_str() {
            "" => None,
            bind => Some(TcpListener::bind(bind).with_context(|| format!("binding {bind} (metrics)"))?),
        };
        let base_url = if settings.server.public_url.is_empty() {
            format!("http://{addr}")
        } else {
            settings.server.public_url.trim_end_matches('/').to_owned()
        };

        let sandbox_keys = if demo_mode && settings.sandbox.enabled {
            Some(Arc::new(sandbox_keys(&db).await?))
        } else {
            None
        };
        let channels = channel_clients(&settings, &base_url, sandbox_keys.as_deref(), &clock)?;
        let sandbox =
            sandbox_keys.map(|keys| Arc::new(Sandbox::new(keys, settings.payment_sandbox(&base_url))));
        let (sms_client, sms_sandbox) = sms(&db, &settings, &base_url, &clock).await?;
        let sms_client: Arc<dyn SmsSender> = Arc::new(sms_client);
        let withdrawal_ids =
            Arc::new(OrderIds::new(clock.now(), persistence::money::largest_withdrawal_id(&db).await?));
        let settlements = Arc::new(SettlementRegistry::new(
            settings.settlement(),
            journal.clone(),
            clock.clone(),
            withdrawal_ids,
        ));
        let live_wiring = live(&db, &settings, &base_url, &clock).await?;
        let live = Arc::new(
            workflows::live::Live::new(
                db.clone(),
                live_wiring.platforms,
                live_wiring.token_key,
                (registry.clone(), journal.clone()),
                clock.clone(),
                settings.live_workflow(&base_url),
            )
            .with_settlements(settlements.clone()),
        );
        let login_codes = LoginCodes::new(
            settings.buyer_codes.rules(),
            &secret,
            sms_client.clone(),
            settings.sms.template_id_login.clone(),
        );
        let (wechat_mp_client, wechat_mp_sandbox) = wechat_mp(&db, &settings, &base_url, &clock).await?;
        let notifications = Arc::new(Notifications::new(
            db.clone(),
            sms_client,
            wechat_mp_client.map(Arc::new),
            settings.notifications.clone(),
            clock.clone(),
        ));

        let payments = Arc::new(Payments::new(
            db.clone(),
            channels,
            registry.clone(),
            settlements,
            journal.clone(),
            clock.clone(),
            settings.payment_workflow(),
        ));
        let (courier_client, courier_sandbox) = courier(&db, &settings, &base_url, &clock).await?;
        let c = &settings.couriers;
        let font = match LabelFont::load(std::path::Path::new(&c.label_font_path), c.label_font_index) {
            Ok(font) => Some(font),
            Err(error) => {
                tracing::warn!(%error, "no label font: shipping works, labels are refused");
                None
            }
        };
        let fulfilment = Arc::new(Fulfilment::new(
            db.clone(),
            Arc::new(courier_client),
            clock.clone(),
            settings.fulfilment_workflow(),
            font,
        ));
        let exports = Arc::new(Exports::new(db.clone(), clock.clone(), settings.export_settings())?);
        let trust = Arc::new(
            crate::trust::TrustState::build(
                &db,
                &settings,
                &base_url,
                &clock,
                registry.clone(),
                journal.clone(),
            )
            .await?,
        );
        let catalogue = Arc::new(workflows::catalogue::Catalogue {
            db: db.clone(),
            registry: registry.clone(),
            clock: clock.clone(),
            words: settings.catalogue.dictionary()?,
            settings: settings.catalogue.clone(),
            store: Arc::new(workflows::merchants::store::FsStore::new(&settings.catalogue.images_dir)),
        });
        let auth = &settings.auth;
        let state = web::Data::new(AppState {
            tokens: Tokens::new(secret.as_bytes()),
            admission: Admission::new(&settings.admission_limits()),
            proxies: TrustedProxies::parse(&settings.server.trusted_proxies)?,
            db,
            registry,
            journal,
            clock,
            base_url,
            settings: settings.clone(),
            payments,
            sandbox,
            passwords: PasswordWork::new(settings.password_work()),
            logins: LoginThrottle::new(settings.login_throttle()),
            token_versions: TokenVersions::new(
                auth.token_version_cache_entries,
                Duration::from_secs(auth.token_version_cache_secs),
            ),
            health: Health::new(writer_status),
            login_codes,
            sms_sandbox,
            fulfilment,
            courier_sandbox,
            exports,
            notifications,
            wechat_mp_sandbox,
            live,
            douyin_sandbox: live_wiring.douyin_sandbox,
            kuaishou_sandbox: live_wiring.kuaishou_sandbox,
            trust,
            catalogue,
        });
        state.health.probe(&state.db).await;

        // Recovery: the actor of every sale that can still change (not ended, or holding a
        // pending order) is rebuilt from the orders before traffic is taken. Settled sales get
        // none: they are read from the database, and started on demand for a late payment.
        let sales = repo::flash_sales_that_can_change(&state.db, state.clock.now()).await?;
        let recovered = sales.len();
        for terms in sales {
            state.start_sale(terms).await?;
        }
        tracing::info!(flash_sales = recovered, "stock actors recovered from the database");

        let demo = if demo_mode && settings.demo.seed {
            demo::seed_if_empty(&state.db, &state.registry, state.clock.now()).await?
        } else {
            None
        };
        // Production has operators only from `flashsale operator add`.
        let operator = if demo_mode {
            let (username, password) = (&settings.operator.username, &settings.operator.password);
            demo::seed_operator(&state.db, username, password, state.clock.now()).await?
        } else {
            None
        };
        if !demo_mode && persistence::access::operator_count(&state.db).await? == 0 {
            tracing::warn!("no operator account yet: create one with `flashsale operator add`");
        }

        let max_body = settings.server.max_body_bytes;
        let server_state = state.clone();
        let server_pages = pages.clone();
        let sandbox_data = state.sandbox.clone().map(web::Data::from);
        let sms_sandbox_data = state.sms_sandbox.clone().map(web::Data::from);
        let courier_sandbox_data = state.courier_sandbox.clone().map(web::Data::from);
        let wechat_mp_sandbox_data = state.wechat_mp_sandbox.clone().map(web::Data::from);
        let douyin_data = state.douyin_sandbox.clone().map(web::Data::from);
        let kuaishou_data = state.kuaishou_sandbox.clone().map(web::Data::from);
        let verification_data = state.trust.sandbox.clone().map(web::Data::from);
        let mut server = HttpServer::new(move || {
            let mut app = App::new()
                .app_data(server_state.clone())
                .app_data(routes::json_config(max_body))
                .app_data(routes::path_config())
                .app_data(web::PayloadConfig::new(max_body))
                .app_data(web::Data::new(metrics.clone()))
                .app_data(server_pages.clone())
                .wrap(from_fn(crate::admission::fence))
                .configure(routes::ops)
                .service(
                    web::scope("/api/v1")
                        .wrap(from_fn(crate::admission::admit))
                        .wrap(from_fn(crate::pages::session::cookie_bearer))
                        .configure(routes::api)
                        .configure(crate::pages::api),
                )
                .configure(crate::pages::configure);
            if let Some(sandbox) = &sandbox_data {
                let mut scope = web::scope("/sandbox").app_data(sandbox.clone());
                if let Some(sms) = &sms_sandbox_data {
                    scope = scope.app_data(sms.clone());
                }
                if let Some(courier) = &courier_sandbox_data {
                    scope = scope.app_data(courier.clone());
                }
                if let Some(mp) = &wechat_mp_sandbox_data {
                    scope = scope.app_data(mp.clone());
                }
                if let Some(douyin) = &douyin_data {
                    scope = scope.app_data(douyin.clone());
                }
                if let Some(kuaishou) = &kuaishou_data {
                    scope = scope.app_data(kuaishou.clone());
                }
                if let Some(verification) = &verification_data {
                    scope = scope.app_data(verification.clone());
                }
                app = app.service(scope.configure(sandbox::configure));
            }
            app.default_service(web::to(routes::not_found))
        })
        .backlog(settings.server.backlog)
        .shutdown_timeout(settings.server.shutdown_timeout_secs)
        .disable_signals();
        if settings.server.workers > 0 {
            server = server.workers(settings.server.workers);
        }
        let server = server.listen(listener)?.run();
        let metrics_server = match metrics_listener {
            None => None,
            Some(listener) => {
                let bound = listener.local_addr()?;
                let data = (state.clone(), web::Data::new(metrics.clone()));
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(data.0.clone())
                        .app_data(data.1.clone())
                        .route("/metrics", web::get().to(routes::ops::metrics_private))
                        .default_service(web::to(routes::not_found))
                })
                .workers(1)
                .disable_signals()
                .listen(listener)?
                .run();
                Some((server, bound))
            }
        };

        Ok(Self { server, state, writer, demo, operator, metrics_server, local_addr: addr, pages })
    }

    /// The admin account seeded on this start (demo mode, no operator yet).
    pub fn seeded_operator(&self) -> Option<&demo::SeededOperator> {
        self.operator.as_ref()
    }

    /// The address the API listens on (the public URL may differ, behind a proxy).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Where `/metrics` is served without a token, if anywhere.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_server.as_ref().map(|(_, addr)| *addr)
    }

    /// The bundled sandboxes, when served.
    pub fn sandbox(&self) -> Option<Arc<Sandbox>> {
        self.state.sandbox.clone()
    }

    pub fn base_url(&self) -> &str {
        &self.state.base_url
    }

    /// The fan page's short link of a sale (`/s/{code}`).
    pub fn share_url(&self, sale: engine::FlashSaleId) -> Option<String> {
        self.pages.share.encode(sale).map(|code| crate::pages::share::short_url(&self.state, &code))
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
        let Self { server, state, writer, metrics_server, .. } = self;
        let metrics_server = metrics_server.map(|(server, _)| {
            let handle = server.handle();
            (tokio::spawn(server), handle)
        });
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
                let mut tick = tokio::time::interval(health::PROBE_EVERY);
                loop {
                    tick.tick().await;
                    state.admission.forget_idle();
                    state.logins.forget_idle(std::time::Instant::now());
                    // A sale that ended with nothing held has no timer to wake it: this is
                    // what lets its actor leave.
                    state.registry.tick_ended();
                    telemetry::metrics().run_upkeep();
                    state.health.probe(&state.db).await;
                }
            }
        });
        let mut background = state.payments.clone().spawn_background();
        background.push(state.fulfilment.clone().spawn_sweep());
        // Unsold units of ended sales back to their SKU (each sale once, whenever it runs).
        background.push(state.catalogue.clone().spawn_sweep());
        background.push(state.exports.clone().spawn_cleanup(state.fulfilment.settings.sweep_interval));
        background.push(state.trust.spawn_sweep(Duration::from_secs(state.settings.trust.review_sweep_secs)));
        // Stopped by abort like the rest: a message it was sending when stopped is under a
        // lease and is sent again once the lease ends (at least once, deduplicated by key).
        background.push(tokio::spawn({
            let notifications = state.notifications.clone();
            async move { notifications.run(std::future::pending::<()>()).await }
        }));
        background.push(tokio::spawn({
            let live = state.live.clone();
            let every = Duration::from_secs(state.settings.live.refresh_interval_secs);
            async move {
                let mut tick = tokio::time::interval(every);
                loop {
                    tick.tick().await;
                    if let Err(error) = live.refresh_due().await {
                        tracing::warn!(%error, "live grant refresh sweep failed");
                    }
                }
            }
        }));
        background.push(tokio::spawn({
            let live = state.live.clone();
            let every = Duration::from_secs(state.settings.live.poll_interval_secs);
            async move {
                let mut tick = tokio::time::interval(every);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    if let Err(error) = live.poll_once().await {
                        tracing::warn!(%error, "live order polling failed");
                    }
                    // After the orders are in: what the platforms still hold of ended sales.
                    if let Err(error) = live.take_back_ended().await {
                        tracing::warn!(%error, "taking live slices back failed");
                    }
                    // Leases whose platform stock call failed, tried again on their backoff.
                    if let Err(error) = live.retry_leases().await {
                        tracing::warn!(%error, "retrying failed leases failed");
                    }
                    // Waybills of shipped platform orders, and retries of those that failed.
                    if let Err(error) = live.send_waybills().await {
                        tracing::warn!(%error, "sending waybills to the live platforms failed");
                    }
                }
            }
        }));
        background.push(tokio::spawn({
            let live = state.live.clone();
            let every = Duration::from_millis(state.settings.live.rebalance_interval_ms);
            async move {
                let mut tick = tokio::time::interval(every);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    // Our page ran out while a platform holds units: half of them come back.
                    if let Err(error) = live.rebalance().await {
                        tracing::warn!(%error, "rebalancing live slices failed");
                    }
                }
            }
        }));
        let served = server.await;
        if let Some((task, handle)) = metrics_server {
            handle.stop(true).await;
            let _ = task.await;
        }
        housekeeping.abort();
        for task in background {
            task.abort();
        }
        state.payments.settlements.shutdown();
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

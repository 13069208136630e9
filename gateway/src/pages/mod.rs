//! The pages people open: server-rendered HTML (maud), zh-CN first, mobile first, with the
//! stylesheet and a little plain script embedded in the binary ([`assets`]).
//!
//! Every page answer goes through [`html`], which sets the content security policy (scripts,
//! styles, connections and forms from this origin only; no inline script; no framing) and the
//! other protective headers. The layout ([`layout`]) and the stylesheet are shared: the fan's
//! page is the first user, the consoles are meant to reuse them.
//!
//! - `GET /s/{code}`: a fan's page of a flash sale ([`fan`]); `/s/{code}/live`: its live
//!   figures from memory; `/s/{code}/o/{order}`: an order's page; `/s/{code}/qr.png|svg`.
//! - `POST /s/session`: a login code for the page's HttpOnly cookie ([`session`]).
//! - `GET /api/v1/flash-sales/{id}/share`: the short link and QR codes ([`share`]).
//! - `/console/…`: the merchant console ([`console`]); `/admin/…`: the operator console
//!   ([`admin`]). Both are reached first at `/console` and `/admin`. The merchant's
//!   qualification page ([`qualification`]); the operators' review queue, reports and bans
//!   ([`moderation`]).

pub mod admin;
pub mod assets;
pub mod catalog;
pub mod console;
pub mod fan;
pub mod layout;
pub mod live_console;
pub mod moderation;
pub mod preview;
pub mod products;
pub mod qualification;
pub mod session;
pub mod share;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, HttpResponseBuilder, web};
use maud::Markup;

/// What the pages keep besides the application state: share codes, the sale facts and the
/// live boards' order figures.
pub struct Pages {
    pub share: share::ShareCodes,
    pub catalog: catalog::Catalog,
    pub boards: workflows::dashboard::Boards,
}

impl Pages {
    pub fn new(token_secret: &[u8]) -> Self {
        Self {
            share: share::ShareCodes::new(token_secret),
            catalog: catalog::Catalog::default(),
            boards: workflows::dashboard::Boards::default(),
        }
    }
}

/// The policy of every page. Product pictures may come from the merchant's own image host
/// (`https:`); nothing else leaves this origin.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' https: data:; connect-src 'self'; form-action 'self'; base-uri 'none'; \
     frame-ancestors 'none'; manifest-src 'self'";

/// Headers every page carries.
pub fn protect(builder: &mut HttpResponseBuilder) -> &mut HttpResponseBuilder {
    builder
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "same-origin"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .content_type("text/html; charset=utf-8")
}

/// A page: per-fan content, never stored by shared caches.
pub fn html(status: StatusCode, markup: Markup) -> HttpResponse {
    let mut builder = HttpResponse::build(status);
    protect(&mut builder)
        .insert_header((header::CACHE_CONTROL, "private, no-cache"))
        .body(markup.into_string())
}

/// A page with the CSRF cookie set when the request had none.
pub fn with_csrf(
    state: &crate::AppState,
    request: &actix_web::HttpRequest,
    render: impl FnOnce(&str) -> Markup,
) -> HttpResponse {
    let (token, fresh) = session::csrf_token(request);
    let mut answer = html(StatusCode::OK, render(&token));
    if fresh {
        let _ = answer.add_cookie(&session::csrf_cookie(state, token));
    }
    answer
}

/// `303 See Other` to `location` (after a page finds no session, or to a console's home).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

pub fn not_found_page() -> HttpResponse {
    html(
        StatusCode::NOT_FOUND,
        layout::page(
            "页面不存在",
            None,
            maud::html! {
                main.narrow {
                    h1 { "页面不存在" }
                    p { "链接可能已失效，请回到直播间重新点击商品链接。" }
                }
            },
        ),
    )
}

/// The page routes, mounted at the root.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/assets/{name}", web::get().to(assets::serve))
        .route("/s/session", web::post().to(session::create))
        .route("/s/{code}", web::get().to(fan::sale_page))
        .route("/s/{code}/live", web::get().to(fan::live))
        .route("/s/{code}/qr.png", web::get().to(share::qr_png))
        .route("/s/{code}/qr.svg", web::get().to(share::qr_svg))
        .route("/s/{code}/o/{order}", web::get().to(fan::order_page))
        .route("/pay/qr.svg", web::get().to(share::pay_qr_svg))
        .route("/console", web::get().to(console::home))
        .route("/console/login", web::get().to(console::login_page))
        .route("/console/signup", web::get().to(console::signup_page))
        .route("/console/session", web::post().to(console::sign_in))
        .route("/console/logout", web::post().to(console::sign_out))
        .route("/console/sales/new", web::get().to(console::new_sale_page))
        .route("/console/sales/{id}", web::get().to(console::board))
        .route("/console/sales/{id}/figures", web::get().to(console::figures))
        .route("/console/sales/{id}/platforms", web::get().to(live_console::sale_page))
        .route("/console/platforms", web::get().to(live_console::shops_page))
        .route("/console/platforms/{platform}/connect", web::get().to(live_console::connect))
        .route("/console/orders", web::get().to(console::orders_page))
        .route("/console/orders/{id}", web::get().to(console::order_page))
        .route("/console/products", web::get().to(console::products))
        .route("/console/products/import", web::get().to(products::import_page))
        .route("/console/products/{id}", web::get().to(products::editor))
        .route("/console/dashboard", web::get().to(console::dashboard_page))
        .route("/console/dashboard.csv", web::get().to(console::dashboard_export))
        .route("/console/dashboard.xlsx", web::get().to(console::dashboard_export))
        .route("/console/money", web::get().to(console::money_page))
        .route("/console/money/ledger.csv", web::get().to(console::ledger_csv))
        .route("/console/qualification", web::get().to(qualification::page))
        .route("/admin", web::get().to(admin::home))
        .route("/admin/login", web::get().to(admin::login_page))
        .route("/admin/session", web::post().to(admin::sign_in))
        .route("/admin/logout", web::post().to(admin::sign_out))
        .route("/admin/reviews", web::get().to(admin::reviews))
        .route("/admin/withdrawals", web::get().to(admin::withdrawals))
        .route("/admin/merchants", web::get().to(admin::merchants))
        .route("/admin/reconciliation", web::get().to(admin::reconciliation))
        .route("/admin/ledger", web::get().to(admin::ledger))
        .route("/admin/qualifications", web::get().to(moderation::qualifications))
        .route("/admin/reports", web::get().to(moderation::reports))
        .route("/admin/bans", web::get().to(moderation::bans))
        .route("/admin/products", web::get().to(admin::product_reviews));
}

/// The page routes under `/api/v1`.
pub fn api(cfg: &mut web::ServiceConfig) {
    cfg.service(share::share);
}

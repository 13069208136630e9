//! The merchant console (`/console`): sign-up and sign-in (the HttpOnly cookie session),
//! sales with their live boards and share links, products, the dashboard with its exports,
//! and money (balance, withdrawals, ledger).
//!
//! Pages read what they show through the same repositories and workflows as the JSON routes;
//! what they change, their script (`assets/console.js`) changes through the JSON API with the
//! page's cookie (`X-Session: merchant`) and CSRF token. A live board polls
//! [`figures`]: the sale actor's gauge (memory) and the order figures kept for a second
//! ([`workflows::dashboard::Boards`]), so open boards cost one grouped read per sale a second.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use engine::{BeijingDay, Fen, FlashSaleId, MerchantId, StockCounts};
use maud::{Markup, html};
use persistence::money::StatementFilter;
use persistence::{money, repo, reports};
use serde::Deserialize;
use serde_json::json;
use workflows::dashboard::{self, Period};
use workflows::orders::{ListError, OrderQuery, ShownAddress};
use workflows::statements::{self, account_name};

use super::catalog;
use super::fan::unavailable_page;
use super::layout::{Console, beijing, console_page, yuan};
use super::session::{self, MERCHANT_COOKIE};
use super::{Pages, not_found_page, see_other, with_csrf};
use crate::AppState;
use crate::routes::merchants::{MerchantError, issue_token};

const NAV: [(&str, &str); 7] = [
    ("/console", "秒杀"),
    ("/console/orders", "订单"),
    ("/console/products", "商品"),
    ("/console/dashboard", "数据"),
    ("/console/money", "资金"),
    ("/console/qualification", "资质"),
    ("/console/platforms", "直播平台"),
];
/// Sales listed on the home page.
const SALES_LISTED: u64 = 50;

/// The signed-in merchant and its shop name, or `None` (no cookie, or its token no longer good).
pub(super) async fn merchant_of(state: &AppState, request: &HttpRequest) -> Option<(MerchantId, String)> {
    let token = request.cookie(MERCHANT_COOKIE)?;
    let id = crate::auth::merchant_of_token(state, token.value()).await.ok()?;
    let name = repo::merchant_display_name(&state.db, id).await.ok().flatten().unwrap_or_default();
    Some((id, name))
}

pub(super) fn trouble(error: &dyn std::fmt::Display) -> HttpResponse {
    tracing::error!(%error, "rendering a console page");
    unavailable_page()
}

/// A console page for a signed-in merchant.
pub(super) fn frame(
    state: &AppState,
    request: &HttpRequest,
    title: &str,
    active: &str,
    shop: &str,
    body: Markup,
) -> HttpResponse {
    with_csrf(state, request, |csrf| {
        console_page(title, csrf, Console::Merchant, &NAV, active, Some(shop), body)
    })
}

macro_rules! signed_in {
    ($state:expr, $request:expr) => {
        match merchant_of(&$state, &$request).await {
            Some(found) => found,
            None => return see_other("/console/login"),
        }
    };
}

// ---- sign-up, sign-in, sign-out ------------------------------------------------------------

/// `GET /console/login`.
pub async fn login_page(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    if merchant_of(&state, &request).await.is_some() {
        return see_other("/console");
    }
    with_csrf(&state, &request, |csrf| {
        let body = html! {
            div.narrow {
                h1 { "商家登录" }
                form.card.stack data-api="POST /console/session" data-then="/console" novalidate {
                    div.field {
                        label for="phone" { "手机号" }
                        input #phone name="phone" type="tel" inputmode="numeric" autocomplete="username" maxlength="11" required;
                    }
                    div.field {
                        label for="password" { "密码" }
                        input #password name="password" type="password" autocomplete="current-password" required;
                    }
                    button.primary type="submit" { "登录" }
                    p.form-error role="alert" {}
                }
                p.center { "还没有账号？" a href="/console/signup" { "免费注册" } }
            }
        };
        console_page("登录", csrf, Console::Merchant, &[], "", None, body)
    })
}

/// `GET /console/signup`.
pub async fn signup_page(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    with_csrf(&state, &request, |csrf| {
        let body = html! {
            div.narrow {
                h1 { "注册商家账号" }
                p.muted { "免费注册，注册后即可上架商品、开启直播间秒杀。" }
                form.card.stack data-api="POST /api/v1/merchants" data-login="/console/session" data-then="/console" novalidate {
                    div.field {
                        label for="display_name" { "店铺名称" }
                        input #display_name name="display_name" type="text" maxlength="64" autocomplete="organization" required;
                    }
                    div.field {
                        label for="phone" { "手机号" }
                        input #phone name="phone" type="tel" inputmode="numeric" autocomplete="username" maxlength="11" required;
                    }
                    div.field {
                        label for="password" { "密码（至少 8 位）" }
                        input #password name="password" type="password" autocomplete="new-password" minlength="8" required;
                    }
                    button.primary type="submit" { "注册并登录" }
                    p.form-error role="alert" {}
                }
                p.center { "已有账号？" a href="/console/login" { "登录" } }
            }
        };
        console_page("注册", csrf, Console::Merchant, &[], "", None, body)
    })
}

#[derive(Deserialize)]
pub struct Credentials {
    phone: String,
    password: String,
}

/// `POST /console/session {phone, password}`: the log-in of `POST /api/v1/sessions`, answered
/// with the token in the HttpOnly cookie instead of the body.
pub async fn sign_in(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Json<Credentials>,
) -> Result<HttpResponse, actix_web::Error> {
    if !session::csrf_ok(&request) {
        return Err(session::csrf_refused().into());
    }
    let (token, _, merchant_id) = issue_token(&state, &body.phone, &body.password).await?;
    let ttl = state.settings.auth.merchant_token_ttl_secs;
    Ok(HttpResponse::Ok()
        .cookie(session::session_cookie(&state, MERCHANT_COOKIE, token, ttl))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "merchant_id": merchant_id })))
}

/// `POST /console/logout`: this browser's session ends (the API's revoke ends all of them).
pub async fn sign_out(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, MerchantError> {
    if !session::csrf_ok(&request) {
        return Err(MerchantError::Shared(session::csrf_refused()));
    }
    Ok(HttpResponse::Ok().cookie(session::ended_cookie(&state, MERCHANT_COOKIE)).json(json!({})))
}

// ---- sales ----------------------------------------------------------------------------------

/// A sale's figures from its actor's gauge while it has one; `None` for a settled sale.
fn gauge_of(state: &AppState, id: FlashSaleId) -> Option<StockCounts> {
    state.registry.get(id).map(|sale| sale.gauge.counts())
}

fn phase_label(phase: &str) -> &'static str {
    match phase {
        "scheduled" => "未开始",
        "live" => "进行中",
        "sold_out" => "已抢光",
        _ => "已结束",
    }
}

/// `GET /console`: the merchant's sales, newest first.
pub async fn home(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    let (merchant, shop) = signed_in!(state, request);
    let sales = match reports::sales_of_merchant(&state.db, merchant, SALES_LISTED).await {
        Ok(sales) => sales,
        Err(error) => return trouble(&error),
    };
    let now = state.clock.now();
    let body = html! {
        div.page-head {
            h1 { "我的秒杀" }
            a.button.primary-small href="/console/sales/new" { "新建秒杀" }
        }
        @if sales.is_empty() {
            div.card.empty {
                p { "还没有秒杀活动。" }
                p { "先在 " a href="/console/products" { "商品" } " 页添加商品，再点「新建秒杀」设置秒杀价、数量和时间。" }
            }
        } @else {
            div.table-wrap tabindex="0" {
                table {
                    thead { tr { th { "活动" } th.number { "秒杀价" } th.number { "剩余 / 总量" } th { "状态" } th { "开始（北京时间）" } } }
                    tbody {
                        @for terms in &sales {
                            @let counts = gauge_of(&state, terms.id);
                            @let phase = match counts {
                                Some(c) => catalog::phase(terms, &c, now),
                                None if now < terms.starts_at => "scheduled",
                                None => "ended",
                            };
                            tr {
                                td { a href=(format!("/console/sales/{}", terms.id)) { (terms.title) } }
                                td.number { (yuan(terms.price_fen)) }
                                td.number { @if let Some(c) = counts { (c.available) } @else { "—" } " / " (terms.quantity) }
                                td { span.state data-state=(phase) { (phase_label(phase)) } }
                                td.nowrap { (beijing(terms.starts_at)) }
                            }
                        }
                    }
                }
            }
        }
    };
    frame(&state, &request, "我的秒杀", "/console", &shop, body)
}

/// `datetime-local`'s value for an instant, in Beijing time.
fn local_input(at: engine::Timestamp) -> String {
    beijing(at).replace(' ', "T")
}

/// How a SKU is named in the picker: its spec values (颜色 白 · 尺码 S) and code.
fn sku_choice(sku: &persistence::catalogue::SkuRecord) -> String {
    if sku.values.is_empty() {
        return sku.code.clone();
    }
    let values: Vec<String> = sku.values.iter().map(|(name, value)| format!("{name} {value}")).collect();
    format!("{} · {}", values.join(" · "), sku.code)
}

/// `GET /console/sales/new`: the form, with a SKU picker for a product of several SKUs.
pub async fn new_sale_page(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    let (merchant, shop) = signed_in!(state, request);
    let products = match persistence::catalogue::details_of_merchant(&state.db, merchant).await {
        Ok(products) => products,
        Err(error) => return trouble(&error),
    };
    // The SKU picker shows the first product's SKUs; the script shows the chosen product's.
    let first = products.first().map(|p| p.product.id);
    let first_has_several = products.first().is_some_and(|p| p.skus.len() > 1);
    let now = state.clock.now();
    let starts = engine::Timestamp(now.as_millis() - now.as_millis() % 60_000 + 60_000);
    let ends = engine::Timestamp(starts.as_millis() + 3_600_000);
    let body = html! {
        h1 { "新建秒杀" }
        @if products.is_empty() {
            div.card.empty {
                p { "秒杀需要先有商品。" }
                p { a href="/console/products" { "去添加商品" } }
            }
        } @else {
            form.card.stack.form-grid data-api="POST /api/v1/flash-sales" data-then="/console/sales/{flash_sale_id}" novalidate {
                div.field.wide {
                    label for="product_id" { "商品" }
                    select #product_id name="product_id" data-kind="int" required {
                        @for detail in &products {
                            option value=(detail.product.id.0) { (detail.product.title) "（库存 " (detail.product.stock) "）" }
                        }
                    }
                }
                // The sale's units come out of one SKU: picked here when the product has several,
                // sent all the same when it has one.
                div.field.wide #sku-field hidden[!first_has_several] {
                    label for="sku_id" { "规格" }
                    select #sku_id name="sku_id" data-kind="int" data-follows="product_id" required {
                        @for detail in &products {
                            @let other = Some(detail.product.id) != first;
                            @for (n, sku) in detail.skus.iter().enumerate() {
                                option value=(sku.id) data-product=(detail.product.id.0) data-stock=(sku.stock)
                                    hidden[other] disabled[other] selected[!other && n == 0] {
                                    (sku_choice(sku)) "（库存 " (sku.stock) "）"
                                }
                            }
                        }
                    }
                }
                div.field {
                    label for="price" { "秒杀价（元）" }
                    input #price name="price_fen" data-kind="yuan" type="text" inputmode="decimal" placeholder="例如 19.90" required;
                }
                div.field {
                    label for="quantity" { "秒杀数量（件）" }
                    input #quantity name="quantity" data-kind="int" type="number" min="1" value="100" required;
                }
                div.field {
                    label for="per_buyer_limit" { "每人限购（件）" }
                    input #per_buyer_limit name="per_buyer_limit" data-kind="int" type="number" min="1" value="2" required;
                }
                div.field {
                    label for="payment_window" { "支付时限（分钟）" }
                    input #payment_window name="payment_window_secs" data-kind="minutes" type="number" min="1" value="15" required;
                }
                div.field {
                    label for="starts_at" { "开始时间（北京时间）" }
                    input #starts_at name="starts_at" data-kind="beijing" type="datetime-local" value=(local_input(starts)) required;
                }
                div.field {
                    label for="ends_at" { "结束时间（北京时间）" }
                    input #ends_at name="ends_at" data-kind="beijing" type="datetime-local" value=(local_input(ends)) required;
                }
                div.wide {
                    button.primary type="submit" { "创建秒杀" }
                    p.form-error role="alert" {}
                }
            }
        }
    };
    frame(&state, &request, "新建秒杀", "/console", &shop, body)
}

/// The sale's facts when it is this merchant's.
async fn own_sale(
    state: &AppState,
    pages: &Pages,
    merchant: MerchantId,
    id: i64,
) -> Result<std::sync::Arc<catalog::SaleFacts>, HttpResponse> {
    match pages.catalog.facts(state, FlashSaleId(id)).await {
        Ok(Some(facts)) if facts.terms.merchant_id == merchant => Ok(facts),
        Ok(_) => Err(not_found_page()),
        Err(error) => Err(trouble(&error)),
    }
}

/// `GET /console/sales/{id}`: the live board and the share link.
pub async fn board(
    state: web::Data<AppState>,
    pages: web::Data<Pages>,
    request: HttpRequest,
    id: web::Path<i64>,
) -> HttpResponse {
    let (merchant, shop) = signed_in!(state, request);
    let facts = match own_sale(&state, &pages, merchant, id.into_inner()).await {
        Ok(facts) => facts,
        Err(answer) => return answer,
    };
    let figures = match figures_of(&state, &pages, &facts).await {
        Ok(figures) => figures,
        Err(error) => return trouble(&error),
    };
    let terms = &facts.terms;
    let code = pages.share.encode(terms.id).unwrap_or_default();
    let link = super::share::short_url(&state, &code);
    let number = |key: &str| figures[key].as_i64().unwrap_or(0);
    let tile = |key: &'static str, label: &'static str, money: bool| {
        let value = if money { yuan(Fen(number(key))) } else { number(key).to_string() };
        html! { div.tile { span.tile-label { (label) } strong #(format!("f-{key}")) data-money[money] { (value) } } }
    };
    let phase = figures["state"].as_str().unwrap_or("ended");
    let body = html! {
        div.page-head {
            div {
                h1 { (terms.title) }
                p.muted {
                    span.state #f-state data-state=(phase) { (phase_label(phase)) }
                    " " (beijing(terms.starts_at)) " – " (beijing(terms.ends_at)) "（北京时间）· 秒杀价 " (yuan(terms.price_fen)) " · 每人限购 " (terms.per_buyer_limit) " 件"
                }
                p { a #platforms-link href=(format!("/console/sales/{}/platforms", terms.id)) { "抖店 · 快手小店售卖 ›" } }
            }
        }
        section #board data-figures=(format!("/console/sales/{}/figures", terms.id)) aria-label="实时数据" {
            div.tiles aria-live="polite" {
                (tile("available", "剩余库存", false))
                (tile("reserved", "待支付锁定", false))
                (tile("sold", "已售", false))
                (tile("orders", "订单数", false))
                div.tile { span.tile-label { "每秒订单" } strong #f-rate { "0" } }
                (tile("gmv_fen", "GMV", true))
                (tile("average_order_fen", "客单价", true))
                (tile("buyers", "下单买家", false))
                (tile("paid_fen", "已付款金额", true))
            }
            figure.card.chart-card {
                svg #chart viewBox="0 0 300 90" role="img" aria-labelledby="chart-caption" preserveAspectRatio="none" {
                    path.chart-grid d="M0 89.5H300M0 45H300" {}
                    path #chart-line.chart-line d="M0 90" {}
                }
                figcaption #chart-caption { "每秒订单（最近 2 分钟），峰值 " span #chart-peak { "0" } " 单/秒" }
            }
        }
        section.card aria-labelledby="share-title" {
            h2 #share-title { "直播间链接与二维码" }
            p.muted { "复制链接粘贴到直播间评论区或购物车，或下载二维码贴在直播画面上。" }
            div.share-row {
                label.visually-hidden for="share-url" { "秒杀短链接" }
                input #share-url type="text" readonly value=(link);
                button.secondary #copy type="button" data-copy="share-url" { "复制链接" }
            }
            p.copy-note #copy-note role="status" {}
            div.qr-row {
                img.qr src=(format!("/s/{code}/qr.svg")) alt="秒杀短链接的二维码" width="160" height="160";
                div.stack-links {
                    a.button.secondary href=(format!("/s/{code}/qr.png")) download=(format!("flash-sale-{}.png", terms.id)) { "下载 PNG" }
                    a.button.secondary href=(format!("/s/{code}/qr.svg")) download=(format!("flash-sale-{}.svg", terms.id)) { "下载 SVG（印刷）" }
                    a href=(link) target="_blank" rel="noopener" { "打开粉丝页" }
                }
            }
        }
    };
    frame(&state, &request, &terms.title, "/console", &shop, body)
}

/// The board's figures: counts from the actor's gauge (memory) while it has one, order figures
/// from the one-second memory of [`workflows::dashboard::Boards`].
async fn figures_of(
    state: &AppState,
    pages: &Pages,
    facts: &catalog::SaleFacts,
) -> Result<serde_json::Value, persistence::DbErr> {
    let terms = &facts.terms;
    let (orders, buyers) = pages.boards.figures(&state.db, terms.id).await?;
    // The actor's gauge while it runs; for a settled sale its stored orders (platform doors and
    // restocks included), read once.
    let counts =
        catalog::live_counts(state, facts).await.map_err(|e| persistence::DbErr::Custom(format!("{e:#}")))?;
    let now = state.clock.now();
    Ok(json!({
        "available": counts.available,
        "reserved": counts.reserved,
        "sold": counts.sold,
        "quantity": counts.quantity,
        "orders": orders.orders,
        "paid_orders": orders.paid_orders,
        "gmv_fen": orders.amount_fen,
        "paid_fen": orders.paid_fen,
        "average_order_fen": dashboard::average_order_fen(&orders),
        "buyers": buyers,
        "state": catalog::phase(terms, &counts, now),
        "now_ms": now.as_millis(),
    }))
}

/// `GET /console/sales/{id}/figures`: what the board polls.
pub async fn figures(
    state: web::Data<AppState>,
    pages: web::Data<Pages>,
    request: HttpRequest,
    id: web::Path<i64>,
) -> HttpResponse {
    let refused = || {
        HttpResponse::Unauthorized()
            .json(json!({"error": {"code": "unauthorized", "message": "sign in to the console again"}}))
    };
    let Some(token) = request.cookie(MERCHANT_COOKIE) else { return refused() };
    let Ok(merchant) = crate::auth::merchant_of_token(&state, token.value()).await else { return refused() };
    let facts = match pages.catalog.facts(&state, FlashSaleId(id.into_inner())).await {
        Ok(Some(facts)) if facts.terms.merchant_id == merchant => facts,
        Ok(_) => {
            return HttpResponse::NotFound().json(
                json!({"error": {"code": "flash_sale_not_found", "message": "no such flash sale of yours"}}),
            );
        }
        Err(error) => return trouble(&error),
    };
    match figures_of(&state, &pages, &facts).await {
        Ok(figures) => HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(figures),
        Err(error) => {
            tracing::error!(%error, "reading a board's figures");
            HttpResponse::ServiceUnavailable().insert_header((header::RETRY_AFTER, "2")).finish()
        }
    }
}

// ---- orders ---------------------------------------------------------------------------------

fn order_state_label(state: &str) -> &'static str {
    match state {
        "pending_payment" => "待付款",
        "paid" => "待发货",
        "shipped" => "已发货",
        "completed" => "已完成",
        "expired" => "已过期",
        "cancelled" => "已取消",
        "refunded" => "已退款",
        _ => "—",
    }
}

/// Where an order ships to, as much as the merchant may see.
fn ship_to(address: Option<&ShownAddress>) -> String {
    match address {
        None => "—".to_owned(),
        Some(ShownAddress::Whole(a)) => {
            format!("{} {} {} {} {} {}", a.name, a.phone.as_str(), a.province, a.city, a.district, a.detail)
        }
        Some(ShownAddress::Masked(a)) => {
            format!("{} {} {} {} {}", a.name, a.phone, a.province, a.city, a.district)
        }
    }
}

#[derive(Deserialize)]
pub struct OrdersQuery {
    state: Option<String>,
    cursor: Option<String>,
}

/// `GET /console/orders?state=…&cursor=…`: the list of `workflows::orders::list`, the same as
/// `GET /api/v1/merchants/me/orders`, filters in the URL.
pub async fn orders_page(
    state: web::Data<AppState>,
    request: HttpRequest,
    query: web::Query<OrdersQuery>,
) -> HttpResponse {
    let (merchant, shop) = signed_in!(state, request);
    let wanted = query.state.as_deref().filter(|s| !s.is_empty());
    let listing = OrderQuery {
        state: wanted,
        cursor: query.cursor.as_deref(),
        limit: Some(30),
        ..OrderQuery::default()
    };
    let (page, refused) = match workflows::orders::list(&state.db, merchant, &listing).await {
        Ok(page) => (Some(page), None),
        Err(ListError::Db(error)) => return trouble(&error),
        Err(other) => (None, Some(other.to_string())),
    };
    let current = wanted.unwrap_or("");
    let body = html! {
        h1 { "订单" }
        nav.filters-row aria-label="按状态筛选" {
            @for (value, label) in [("", "全部"), ("pending_payment", "待付款"), ("to_ship", "待发货"), ("shipped", "已发货"), ("completed", "已完成"), ("refunded", "已退款")] {
                @let link = if value.is_empty() { "/console/orders".to_owned() } else { format!("/console/orders?state={value}") };
                @if value == current {
                    a.chip href=(link) aria-current="page" { (label) }
                } @else {
                    a.chip href=(link) { (label) }
                }
            }
        }
        @if let Some(message) = refused { p.form-error { (message) } }
        @if let Some(page) = &page {
            @if page.rows.is_empty() {
                div.card.empty { p { "没有这个状态的订单。粉丝下单后会出现在这里。" } }
            } @else {
                div.table-wrap tabindex="0" {
                    table {
                        thead { tr { th { "订单" } th.number { "件数" } th.number { "金额" } th { "状态" } th { "下单时间" } th { "收货" } } }
                        tbody {
                            @for row in &page.rows {
                                tr {
                                    td { a href=(format!("/console/orders/{}", row.order.id.0)) { (row.order.id.0) } }
                                    td.number { (row.order.quantity) }
                                    td.number { (yuan(row.order.amount_fen)) }
                                    td { (order_state_label(row.order.state.as_str())) }
                                    td.nowrap { (beijing(row.order.created_at)) }
                                    td { (ship_to(row.address.as_ref())) }
                                }
                            }
                        }
                    }
                }
                @if let Some(next) = &page.next {
                    p { a.button.secondary href=(format!("/console/orders?state={current}&cursor={next}")) { "下一页" } }
                }
            }
        }
    };
    frame(&state, &request, "订单", "/console/orders", &shop, body)
}

/// `GET /console/orders/{id}`: one order (`workflows::orders::detail`): its state, money, the
/// address as the merchant may see it, the shipment.
pub async fn order_page(
    state: web::Data<AppState>,
    request: HttpRequest,
    id: web::Path<i64>,
) -> HttpResponse {
    let (merchant, shop) = signed_in!(state, request);
    let row = match workflows::orders::detail(&state.db, merchant, engine::OrderId(id.into_inner())).await {
        Ok(Some(row)) => row,
        Ok(None) => return not_found_page(),
        Err(error) => return trouble(&error),
    };
    let order = &row.order;
    let body = html! {
        p { a href="/console/orders" { "‹ 订单" } }
        h1 { "订单 " (order.id.0) }
        dl.card.facts {
            dt { "状态" } dd #order-state { (order_state_label(order.state.as_str())) }
            dt { "秒杀活动" } dd { a href=(format!("/console/sales/{}", order.flash_sale_id.0)) { (order.flash_sale_id.0) } }
            dt { "件数" } dd { (order.quantity) }
            dt { "金额" } dd { (yuan(order.amount_fen)) }
            dt { "下单时间" } dd { (beijing(order.created_at)) }
            dt { "收货" } dd { (ship_to(row.address.as_ref())) }
            @if let Some(shipment) = &row.shipment {
                dt { "快递" } dd { (shipment.courier) " " (shipment.waybill_no) }
                dt { "物流" } dd { (shipment.tracking_state) }
            }
        }
    };
    frame(&state, &request, &format!("订单 {}", order.id.0), "/console/orders", &shop, body)
}

// ---- products -------------------------------------------------------------------------------

/// `GET /console/products`: the list (state, low-stock badge) and the form to add one.
pub async fn products(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    let (merchant, shop) = signed_in!(state, request);
    let details = match persistence::catalogue::details_of_merchant(&state.db, merchant).await {
        Ok(details) => details,
        Err(error) => return trouble(&error),
    };
    let body = html! {
        h1 { "商品" }
        p { a href="/console/products/import" { "批量导入（Excel / CSV）" } }
        @if details.is_empty() {
            div.card.empty { p { "还没有商品。在下面填写标题、原价和库存即可上架第一件商品。" } }
        } @else {
            div.table-wrap tabindex="0" {
                table {
                    thead { tr { th { "商品" } th { "状态" } th { span.visually-hidden { "库存预警" } } th.number { "原价" } th.number { "可分配库存" } th { span.visually-hidden { "操作" } } } }
                    tbody {
                        @for product in &details {
                            tr {
                                td { (product.product.title) }
                                (super::products::state_cells(product))
                                td.number { (product.product.stock) }
                                td { a href=(format!("/console/products/{}", product.product.id.0)) aria-label=(format!("编辑 {}", product.product.title)) { "编辑" } }
                            }
                        }
                    }
                }
            }
        }
        section.card aria-labelledby="new-product" {
            h2 #new-product { "添加商品" }
            form.stack.form-grid data-api="POST /api/v1/products" data-then="reload" novalidate {
                div.field.wide {
                    label for="title" { "商品标题" }
                    input #title name="title" type="text" maxlength="120" required;
                }
                div.field {
                    label for="price" { "原价（元）" }
                    input #price name="price_fen" data-kind="yuan" type="text" inputmode="decimal" placeholder="例如 129.00" required;
                }
                div.field {
                    label for="stock" { "库存（件）" }
                    input #stock name="stock" data-kind="int" type="number" min="0" value="100" required;
                }
                div.field.wide {
                    label for="image_url" { "商品图片地址（https，可不填）" }
                    input #image_url name="image_url" type="url" placeholder="https://";
                }
                div.field.wide {
                    label for="description" { "描述（可不填）" }
                    textarea #description name="description" rows="3" maxlength="5000" {}
                }
                div.wide {
                    button.primary type="submit" { "上架商品" }
                    p.form-error role="alert" {}
                }
            }
            p.muted { "多规格商品（颜色 × 尺码等）请用批量导入，或接口 POST /api/v1/products 的 specs 与 skus。" }
        }
    };
    frame(&state, &request, "商品", "/console/products", &shop, body)
}

// ---- dashboard ------------------------------------------------------------------------------

#[derive(Deserialize)]
pub struct PeriodQuery {
    /// `day` (default), `week` or `month`.
    period: Option<String>,
    /// `yyyy-MM-dd` in Beijing; today when absent.
    date: Option<String>,
}

impl PeriodQuery {
    fn period(&self, today: BeijingDay) -> Period {
        let day = self
            .date
            .as_deref()
            .and_then(|raw| chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok())
            .and_then(|d| {
                use chrono::Datelike as _;
                BeijingDay::from_ymd(d.year(), d.month(), d.day())
            })
            .unwrap_or(today);
        match self.period.as_deref() {
            Some("week") => Period::Week(day),
            Some("month") => Period::Month(day),
            _ => Period::Day(day),
        }
    }
}

/// `GET /console/dashboard?period=day|week|month&date=yyyy-MM-dd`.
pub async fn dashboard_page(
    state: web::Data<AppState>,
    request: HttpRequest,
    query: web::Query<PeriodQuery>,
) -> HttpResponse {
    let (merchant, shop) = signed_in!(state, request);
    let today = BeijingDay::of(state.clock.now());
    let period = query.period(today);
    let report = match dashboard::report(&state.db, merchant, period).await {
        Ok(report) => report,
        Err(error) => return trouble(&error),
    };
    let kind = match period {
        Period::Day(_) => "day",
        Period::Week(_) => "week",
        Period::Month(_) => "month",
    };
    let day = match period {
        Period::Day(d) | Period::Week(d) | Period::Month(d) => d,
    };
    let export = format!("period={kind}&date={day}");
    let t = &report.totals;
    let body = html! {
        h1 { "经营数据" }
        form.card.filters method="get" action="/console/dashboard" {
            div.field {
                label for="period" { "周期" }
                select #period name="period" {
                    option value="day" selected[kind == "day"] { "日" }
                    option value="week" selected[kind == "week"] { "周" }
                    option value="month" selected[kind == "month"] { "月" }
                }
            }
            div.field {
                label for="date" { "日期" }
                input #date name="date" type="date" value=(day.to_string());
            }
            button.secondary type="submit" { "查看" }
        }
        p.muted { "统计周期：" (period.label()) "（北京时间）。订单含待支付与已支付，不含已取消和超时未付。" }
        div.tiles {
            div.tile { span.tile-label { "订单数" } strong #d-orders { (t.orders) } }
            div.tile { span.tile-label { "GMV" } strong #d-gmv { (yuan(Fen(t.amount_fen))) } }
            div.tile { span.tile-label { "客单价" } strong { (yuan(Fen(dashboard::average_order_fen(t)))) } }
            div.tile { span.tile-label { "已付款" } strong { (yuan(Fen(t.paid_fen))) } }
            div.tile { span.tile-label { "件数" } strong { (t.units) } }
            div.tile { span.tile-label { "下单买家" } strong { (report.buyers) } }
        }
        p.exports {
            a.button.secondary href=(format!("/console/dashboard.csv?{export}")) download { "导出 CSV" }
            " "
            a.button.secondary href=(format!("/console/dashboard.xlsx?{export}")) download { "导出 Excel" }
        }
        section.card aria-labelledby="top-title" {
            h2 #top-title { "热销商品" }
            @if report.top_products.is_empty() {
                p.muted { "这个周期还没有订单。" }
            } @else {
                div.table-wrap tabindex="0" {
                    table {
                        thead { tr { th { "商品" } th.number { "订单" } th.number { "件数" } th.number { "GMV" } } }
                        tbody {
                            @for line in &report.top_products {
                                tr {
                                    td { (line.title) }
                                    td.number { (line.figures.orders) }
                                    td.number { (line.figures.units) }
                                    td.number { (yuan(Fen(line.figures.amount_fen))) }
                                }
                            }
                        }
                    }
                }
            }
        }
        section.card aria-labelledby="region-title" {
            h2 #region-title { "粉丝地域（按收货省份）" }
            @if report.regions.is_empty() {
                p.muted { "订单填写收货地址后，这里按省份显示订单分布。" }
            } @else {
                div.table-wrap tabindex="0" {
                    table {
                        thead { tr { th { "省份" } th.number { "订单" } th.number { "GMV" } } }
                        tbody {
                            @for region in &report.regions {
                                tr { td { (region.province) } td.number { (region.orders) } td.number { (yuan(Fen(region.amount_fen))) } }
                            }
                        }
                    }
                }
            }
        }
    };
    frame(&state, &request, "经营数据", "/console/dashboard", &shop, body)
}

fn download(content_type: &str, filename: String, bytes: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(bytes)
}

/// `GET /console/dashboard.csv` and `.xlsx`: the same report as a file.
pub async fn dashboard_export(
    state: web::Data<AppState>,
    request: HttpRequest,
    query: web::Query<PeriodQuery>,
) -> HttpResponse {
    let Some((merchant, _)) = merchant_of(&state, &request).await else { return see_other("/console/login") };
    let period = query.period(BeijingDay::of(state.clock.now()));
    let report = match dashboard::report(&state.db, merchant, period).await {
        Ok(report) => report,
        Err(error) => return trouble(&error),
    };
    let name = format!("dashboard-{}", period.label().replace(' ', ""));
    if request.path().ends_with(".xlsx") {
        match dashboard::xlsx(&report) {
            Ok(bytes) => download(
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                format!("{name}.xlsx"),
                bytes,
            ),
            Err(error) => trouble(&error),
        }
    } else {
        match dashboard::csv(&report) {
            Ok(bytes) => download("text/csv; charset=utf-8", format!("{name}.csv"), bytes),
            Err(error) => trouble(&error),
        }
    }
}

// ---- money ----------------------------------------------------------------------------------

fn withdrawal_label(state: &str) -> &'static str {
    match state {
        "requested" => "审核中",
        "paid" => "已打款",
        "rejected" => "已驳回",
        _ => "—",
    }
}

/// A ledger entry's kind as the merchant reads it; unknown kinds as stored.
fn kind_label(kind: &str) -> &str {
    match kind {
        "payment" => "订单收款",
        "review_release" => "风控审核通过",
        "review_rejection" => "风控驳回",
        "unmatched_payment" => "待退回的付款",
        "refund" => "退款",
        "withdrawal" => "申请提现",
        "withdrawal_paid" => "提现到账",
        "withdrawal_rejected" => "提现驳回",
        other => other,
    }
}

fn account_label(account: &str) -> &str {
    match account {
        "available" => "可提现",
        "pending" => "待结算",
        "withdrawing" => "提现中",
        other => other,
    }
}

/// `GET /console/money`: balances, a withdrawal, the withdrawals and the latest ledger lines.
pub async fn money_page(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    let (merchant, shop) = signed_in!(state, request);
    let read = async {
        let balances = money::balances(&state.db, merchant).await?;
        let withdrawals = money::withdrawals(&state.db, Some(merchant), None).await?;
        let (lines, total) =
            money::statement(&state.db, merchant, &StatementFilter::default(), 0, 20).await?;
        Ok::<_, persistence::DbErr>((balances, withdrawals, lines, total))
    };
    let (balances, withdrawals, lines, total) = match read.await {
        Ok(read) => read,
        Err(error) => return trouble(&error),
    };
    let body = html! {
        h1 { "资金" }
        div.tiles {
            div.tile { span.tile-label { "可提现" } strong #balance-available { (yuan(balances.available)) } }
            div.tile { span.tile-label { "待结算（含风控审核）" } strong #balance-pending { (yuan(balances.pending)) } }
            div.tile { span.tile-label { "提现中" } strong #balance-withdrawing { (yuan(balances.withdrawing)) } }
        }
        section.card aria-labelledby="withdraw-title" {
            h2 #withdraw-title { "申请提现" }
            p.muted { "提现需完成实名认证；到账前由平台财务审核。" }
            form.inline-form data-api="POST /api/v1/merchants/me/withdrawals" data-then="reload" novalidate {
                div.field {
                    label for="amount" { "金额（元）" }
                    input #amount name="amount_fen" data-kind="yuan" type="text" inputmode="decimal" required;
                }
                button.secondary type="submit" { "申请提现" }
                p.form-error role="alert" {}
            }
            @if !withdrawals.is_empty() {
                div.table-wrap tabindex="0" {
                    table {
                        thead { tr { th { "编号" } th.number { "金额" } th { "状态" } th { "申请时间" } th { "说明" } } }
                        tbody {
                            @for w in &withdrawals {
                                tr {
                                    td { (w.id.0) }
                                    td.number { (yuan(w.amount_fen)) }
                                    td { (withdrawal_label(w.state.as_str())) }
                                    td.nowrap { (beijing(w.created_at)) }
                                    td { (w.reason) }
                                }
                            }
                        }
                    }
                }
            }
        }
        section.card aria-labelledby="ledger-title" {
            div.page-head {
                h2 #ledger-title { "资金流水（最近 20 条，共 " (total) " 条）" }
                a.button.secondary href="/console/money/ledger.csv" download { "下载全部 CSV" }
            }
            @if lines.is_empty() {
                p.muted { "还没有资金流水。订单付款后，这里会出现收入记录。" }
            } @else {
                div.table-wrap tabindex="0" {
                    table {
                        thead { tr { th { "时间" } th { "类型" } th.number { "金额" } th { "账户" } th { "订单" } } }
                        tbody {
                            @for line in &lines {
                                tr {
                                    td.nowrap { (beijing(engine::Timestamp(line.created_at))) }
                                    td { (kind_label(&line.kind)) }
                                    td.number { (yuan(Fen(line.amount_fen))) }
                                    td { (account_label(account_name(&line.account))) }
                                    td { @if let Some(order) = line.order_id { (order) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    frame(&state, &request, "资金", "/console/money", &shop, body)
}

/// `GET /console/money/ledger.csv`: the statement of `GET /api/v1/merchants/me/ledger.csv`.
pub async fn ledger_csv(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    const MOST: u64 = 100_000;
    let Some((merchant, _)) = merchant_of(&state, &request).await else { return see_other("/console/login") };
    let lines = match money::statement(&state.db, merchant, &StatementFilter::default(), 0, MOST).await {
        Ok((lines, _)) => lines,
        Err(error) => return trouble(&error),
    };
    match statements::csv(&lines) {
        Ok(bytes) => download("text/csv; charset=utf-8", format!("ledger-{merchant}.csv"), bytes),
        Err(error) => trouble(&error),
    }
}

//! The operator console (`/admin`): sign-in (the HttpOnly cookie session), AML reviews,
//! withdrawals, merchants (KYC, MCN split), the daily reconciliation and the ledger check.
//!
//! Each page shows only to the roles whose duty it is ([`workflows::accounts::roles`]), and
//! the navigation only lists those. Decisions are made by the page's script through the same
//! `/api/v1/operator/…` routes as any client (`X-Session: operator`), so the role check and
//! the audit row of each action are the API's own.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Datelike as _;
use engine::books::WithdrawalState;
use engine::{BeijingDay, Fen};
use maud::{Markup, html};
use persistence::{money, reports};
use serde::Deserialize;
use serde_json::{Value, json};

use super::fan::unavailable_page;
use super::layout::{Console, beijing, console_page, yuan};
use super::session::{self, OPERATOR_COOKIE};
use super::{html as page_answer, see_other, with_csrf};
use crate::AppState;
use crate::access::{DutyKind, OperatorRole};
use crate::auth::Staff;
use crate::routes::operators::{OperatorsError, issue_token};

/// Every page of the console, with the duty it needs.
const PAGES: [(&str, &str, DutyKind); 9] = [
    ("/admin/reviews", "风控审核", DutyKind::AmlReview),
    ("/admin/products", "商品审核", DutyKind::ContentReview),
    ("/admin/withdrawals", "提现", DutyKind::Finance),
    ("/admin/merchants", "商家", DutyKind::Kyc),
    ("/admin/qualifications", "资质审核", DutyKind::Kyc),
    ("/admin/reports", "举报", DutyKind::Kyc),
    ("/admin/bans", "封禁", DutyKind::Kyc),
    ("/admin/reconciliation", "对账", DutyKind::Finance),
    ("/admin/ledger", "账本检查", DutyKind::Finance),
];
/// Merchants listed at once.
const MERCHANTS_LISTED: u64 = 200;

pub(super) fn role_label(role: OperatorRole) -> &'static str {
    match role {
        OperatorRole::Admin => "管理员",
        OperatorRole::Reviewer => "审核员",
        OperatorRole::Finance => "财务",
    }
}

pub(super) async fn staff_of(state: &AppState, request: &HttpRequest) -> Option<Staff> {
    let token = request.cookie(OPERATOR_COOKIE)?;
    crate::auth::staff_of_token(state, token.value()).await.ok()
}

pub(super) fn trouble(error: &dyn std::fmt::Display) -> HttpResponse {
    tracing::error!(%error, "rendering an operator page");
    unavailable_page()
}

/// A page of the console for `staff`, or 403 when its role lacks the page's duty.
pub(super) fn frame(
    state: &AppState,
    request: &HttpRequest,
    staff: &Staff,
    active: &str,
    title: &str,
    body: Markup,
) -> HttpResponse {
    let nav: Vec<(&str, &str)> = PAGES
        .iter()
        .filter(|(_, _, duty)| staff.role.may(*duty))
        .map(|(link, label, _)| (*link, *label))
        .collect();
    let who = format!("{}（{}）", staff.username, role_label(staff.role));
    with_csrf(state, request, |csrf| {
        console_page(title, csrf, Console::Operator, &nav, active, Some(&who), body)
    })
}

macro_rules! on_duty {
    ($state:expr, $request:expr, $duty:expr, $active:expr) => {{
        let Some(staff) = staff_of(&$state, &$request).await else { return see_other("/admin/login") };
        if !staff.role.may($duty) {
            let body = html! {
                h1 { "没有权限" }
                p { "这个页面需要其他角色（" (role_label(staff.role)) "不能处理）。请联系管理员。" }
            };
            let mut answer = frame(&$state, &$request, &staff, $active, "没有权限", body);
            *answer.status_mut() = StatusCode::FORBIDDEN;
            return answer;
        }
        staff
    }};
}

// ---- sign-in --------------------------------------------------------------------------------

/// `GET /admin/login`.
pub async fn login_page(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    if staff_of(&state, &request).await.is_some() {
        return see_other("/admin");
    }
    with_csrf(&state, &request, |csrf| {
        let body = html! {
            div.narrow {
                h1 { "运营人员登录" }
                form.card.stack data-api="POST /admin/session" data-then="/admin" novalidate {
                    div.field {
                        label for="username" { "用户名" }
                        input #username name="username" type="text" autocomplete="username" autocapitalize="none" required;
                    }
                    div.field {
                        label for="password" { "密码" }
                        input #password name="password" type="password" autocomplete="current-password" required;
                    }
                    button.primary type="submit" { "登录" }
                    p.form-error role="alert" {}
                }
                p.muted.center { "账号由管理员创建（flashsale operator add）。" }
            }
        };
        console_page("登录", csrf, Console::Operator, &[], "", None, body)
    })
}

#[derive(Deserialize)]
pub struct Credentials {
    username: String,
    password: String,
}

/// `POST /admin/session {username, password}`: the log-in of `POST /api/v1/operator/sessions`
/// (audited alike), answered with the token in the HttpOnly cookie.
pub async fn sign_in(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Json<Credentials>,
) -> Result<HttpResponse, actix_web::Error> {
    if !session::csrf_ok(&request) {
        return Err(session::csrf_refused().into());
    }
    let (token, _, staff) = issue_token(&state, &body.username, &body.password).await?;
    let ttl = state.settings.operator.token_ttl_secs;
    Ok(HttpResponse::Ok()
        .cookie(session::session_cookie(&state, OPERATOR_COOKIE, token, ttl))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "operator_id": staff.id, "role": staff.role.as_str() })))
}

/// `POST /admin/logout`.
pub async fn sign_out(
    state: web::Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, OperatorsError> {
    if !session::csrf_ok(&request) {
        return Err(OperatorsError::Shared(session::csrf_refused()));
    }
    Ok(HttpResponse::Ok().cookie(session::ended_cookie(&state, OPERATOR_COOKIE)).json(json!({})))
}

/// `GET /admin`: the first page this operator's role may see.
pub async fn home(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    let Some(staff) = staff_of(&state, &request).await else { return see_other("/admin/login") };
    match PAGES.iter().find(|(_, _, duty)| staff.role.may(*duty)) {
        Some((link, _, _)) => see_other(link),
        None => page_answer(StatusCode::FORBIDDEN, html! { p { "没有可用的页面" } }),
    }
}

// ---- AML reviews ----------------------------------------------------------------------------

/// `GET /admin/reviews`: payments held for review, each with approve and reject.
pub async fn reviews(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    let staff = on_duty!(state, request, DutyKind::AmlReview, "/admin/reviews");
    let held = match money::captures_under_review(&state.db).await {
        Ok(held) => held,
        Err(error) => return trouble(&error),
    };
    let body = html! {
        h1 { "风控审核" }
        p.muted { "单笔 ≥ ¥50,000.00 的付款先冻结在商家的待结算余额，通过后才可提现；驳回则原路退款给买家。" }
        @if held.is_empty() {
            div.card.empty { p { "没有待审核的付款。" } }
        } @else {
            div.table-wrap tabindex="0" {
                table {
                    thead { tr { th { "订单" } th { "商家" } th { "渠道" } th.number { "付款金额" } th.number { "商家应得" } th { "付款时间" } th { "处理" } } }
                    tbody {
                        @for c in &held {
                            tr #(format!("review-{}", c.order_id.0)) {
                                td { (c.order_id.0) }
                                td { (c.settlement.merchant_id.0) }
                                td { (c.settlement.channel.as_str()) }
                                td.number { (yuan(c.settlement.gross_fen)) }
                                td.number { (yuan(c.settlement.merchant_fen)) }
                                td.nowrap { (beijing(c.at)) }
                                td.actions {
                                    button.secondary type="button" data-call=(format!("POST /api/v1/operator/reviews/{}/approve", c.order_id.0)) { "通过" }
                                    button.danger type="button" data-call=(format!("POST /api/v1/operator/reviews/{}/reject", c.order_id.0)) { "驳回" }
                                }
                            }
                        }
                    }
                }
            }
            p.form-error #call-error role="alert" {}
        }
    };
    frame(&state, &request, &staff, "/admin/reviews", "风控审核", body)
}

// ---- product reviews ------------------------------------------------------------------------

/// `GET /admin/products`: products held for banned words, each with approve and reject (with
/// a reason).
pub async fn product_reviews(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    let staff = on_duty!(state, request, DutyKind::ContentReview, "/admin/products");
    let queue = match persistence::catalogue::review_queue(&state.db, 200).await {
        Ok(queue) => queue,
        Err(error) => return trouble(&error),
    };
    let body = html! {
        h1 { "商品审核" }
        p.muted { "标题、描述或规格含广告法禁用词的商品在此等待审核：通过即上架，驳回需写明原因，商家可见。每次决定都记入审计日志。" }
        @if queue.is_empty() {
            div.card.empty { p { "没有待审核的商品。" } }
        } @else {
            div.table-wrap tabindex="0" {
                table {
                    thead { tr { th { "商品" } th { "商家" } th { "标题" } th { "命中" } th { "处理" } } }
                    tbody {
                        @for p in &queue {
                            tr #(format!("product-{}", p.product.id.0)) {
                                td { (p.product.id.0) }
                                td { (p.product.merchant_id.0) }
                                td { (p.product.title) }
                                td { (p.state_reason.clone().unwrap_or_default()) }
                                td.actions {
                                    button.secondary type="button" data-call=(format!("POST /api/v1/operator/product-reviews/{}", p.product.id.0)) data-body="{\"decision\":\"approve\"}" { "通过" }
                                    label.visually-hidden for=(format!("reason-{}", p.product.id.0)) { "驳回原因" }
                                    input id=(format!("reason-{}", p.product.id.0)) type="text" maxlength="500" placeholder="驳回原因";
                                    button.danger type="button" data-call=(format!("POST /api/v1/operator/product-reviews/{}", p.product.id.0)) data-body="{\"decision\":\"reject\"}" data-reason=(format!("reason-{}", p.product.id.0)) { "驳回" }
                                }
                            }
                        }
                    }
                }
            }
            p.form-error #call-error role="alert" {}
        }
    };
    frame(&state, &request, &staff, "/admin/products", "商品审核", body)
}

// ---- withdrawals ----------------------------------------------------------------------------

#[derive(Deserialize)]
pub struct StateQuery {
    state: Option<String>,
}

/// `GET /admin/withdrawals?state=requested|paid|rejected`.
pub async fn withdrawals(
    state: web::Data<AppState>,
    request: HttpRequest,
    query: web::Query<StateQuery>,
) -> HttpResponse {
    let staff = on_duty!(state, request, DutyKind::Finance, "/admin/withdrawals");
    let wanted = query.state.as_deref().map_or(Some(WithdrawalState::Requested), WithdrawalState::parse);
    let list = match money::withdrawals(&state.db, None, wanted).await {
        Ok(list) => list,
        Err(error) => return trouble(&error),
    };
    let current = wanted.map_or("requested", |s| s.as_str());
    let body = html! {
        h1 { "提现" }
        nav.filters-row aria-label="按状态筛选" {
            @for (value, label) in [("requested", "待处理"), ("paid", "已打款"), ("rejected", "已驳回")] {
                @if value == current {
                    a.chip href=(format!("/admin/withdrawals?state={value}")) aria-current="page" { (label) }
                } @else {
                    a.chip href=(format!("/admin/withdrawals?state={value}")) { (label) }
                }
            }
        }
        @if list.is_empty() {
            div.card.empty { p { "没有这个状态的提现。" } }
        } @else {
            div.table-wrap tabindex="0" {
                table {
                    thead { tr { th { "编号" } th { "商家" } th.number { "金额" } th { "申请时间" } th { "处理" } } }
                    tbody {
                        @for w in &list {
                            tr {
                                td { (w.id.0) }
                                td { (w.merchant_id.0) }
                                td.number { (yuan(w.amount_fen)) }
                                td.nowrap { (beijing(w.created_at)) }
                                td.actions {
                                    @if w.state == WithdrawalState::Requested {
                                        button.secondary type="button" data-call=(format!("POST /api/v1/operator/withdrawals/{}/pay", w.id.0)) { "已打款" }
                                        label.visually-hidden for=(format!("reason-{}", w.id.0)) { "驳回原因" }
                                        input.reason #(format!("reason-{}", w.id.0)) type="text" placeholder="驳回原因";
                                        button.danger type="button" data-call=(format!("POST /api/v1/operator/withdrawals/{}/reject", w.id.0)) data-reason=(format!("reason-{}", w.id.0)) { "驳回" }
                                    } @else {
                                        (w.reason)
                                    }
                                }
                            }
                        }
                    }
                }
            }
            p.form-error #call-error role="alert" {}
        }
    };
    frame(&state, &request, &staff, "/admin/withdrawals", "提现", body)
}

// ---- merchants ------------------------------------------------------------------------------

/// `GET /admin/merchants`: KYC for reviewers, the MCN split for admins.
pub async fn merchants(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    let staff = on_duty!(state, request, DutyKind::Kyc, "/admin/merchants");
    let partners_duty = staff.role.may(DutyKind::Partners);
    let read = async {
        let list = reports::merchants(&state.db, MERCHANTS_LISTED).await?;
        let mut splits = Vec::with_capacity(list.len());
        for merchant in &list {
            splits.push(money::split_rule(&state.db, merchant.id).await?);
        }
        let partners = reports::partners(&state.db, 500).await?;
        Ok::<_, persistence::DbErr>((list, splits, partners))
    };
    let (list, splits, partners) = match read.await {
        Ok(read) => read,
        Err(error) => return trouble(&error),
    };
    let partner_name = |id: i64| partners.iter().find(|(p, _)| *p == id).map_or("?", |(_, n)| n.as_str());
    let body = html! {
        h1 { "商家" }
        div.table-wrap tabindex="0" {
            table {
                thead { tr { th { "编号" } th { "店铺" } th { "手机号" } th { "实名认证" } th { "分账（MCN）" } } }
                tbody {
                    @for (merchant, split) in list.iter().zip(&splits) {
                        tr {
                            td { (merchant.id.0) }
                            td { (merchant.display_name) }
                            td { (masked_phone(&merchant.phone)) }
                            td.actions {
                                @if merchant.kyc_verified {
                                    span.state data-state="live" { "已认证" }
                                    button.linkish type="button" data-call=(format!("PUT /api/v1/operator/merchants/{}/kyc", merchant.id.0)) data-body=r#"{"verified":false}"# { "撤销" }
                                } @else {
                                    span.state data-state="ended" { "未认证" }
                                    button.secondary type="button" data-call=(format!("PUT /api/v1/operator/merchants/{}/kyc", merchant.id.0)) data-body=r#"{"verified":true}"# { "认证通过" }
                                }
                            }
                            td {
                                @if split.partners().is_empty() { "无" }
                                @for (partner, bps) in split.partners() {
                                    (partner_name(partner.0)) " " (bps_text(*bps)) " "
                                }
                            }
                        }
                    }
                }
            }
        }
        p.form-error #call-error role="alert" {}
        @if partners_duty {
            section.card aria-labelledby="split-title" {
                h2 #split-title { "设置分账" }
                p.muted { "商家净收入按比例分给 MCN 机构；一个商家一条规则，保存后对新付款生效。" }
                @if partners.is_empty() {
                    p { "还没有 MCN 机构，请先在下面添加。" }
                } @else {
                    form.form-grid data-api="PUT /api/v1/operator/merchants/{merchant_id}/split" data-split="1" data-then="reload" novalidate {
                        div.field {
                            label for="split-merchant" { "商家编号" }
                            input #split-merchant name="merchant_id" data-kind="int" data-path="1" type="number" min="1" required;
                        }
                        div.field {
                            label for="split-partner" { "MCN 机构" }
                            select #split-partner name="partner_id" data-kind="int" {
                                @for (id, name) in &partners { option value=(id) { (name) } }
                            }
                        }
                        div.field {
                            label for="split-percent" { "分成比例（%）" }
                            input #split-percent name="bps" data-kind="percent" type="text" inputmode="decimal" placeholder="例如 10" required;
                        }
                        div.wide {
                            button.secondary type="submit" { "保存分账" }
                            p.form-error role="alert" {}
                        }
                    }
                }
                h2 { "添加 MCN 机构" }
                form.inline-form data-api="POST /api/v1/operator/partners" data-then="reload" novalidate {
                    div.field {
                        label for="partner-name" { "机构名称" }
                        input #partner-name name="name" type="text" maxlength="64" required;
                    }
                    button.secondary type="submit" { "添加" }
                    p.form-error role="alert" {}
                }
            }
        }
    };
    frame(&state, &request, &staff, "/admin/merchants", "商家", body)
}

fn masked_phone(phone: &str) -> String {
    if phone.len() == 11 && phone.is_ascii() {
        format!("{}****{}", &phone[..3], &phone[7..])
    } else {
        phone.to_owned()
    }
}

fn bps_text(bps: u32) -> String {
    format!("{}.{:02}%", bps / 100, bps % 100)
}

// ---- reconciliation and the ledger ----------------------------------------------------------

#[derive(Deserialize)]
pub struct DateQuery {
    date: Option<String>,
}

fn fen_cell(value: &Value) -> String {
    value.as_i64().map_or_else(|| "—".to_owned(), |fen| yuan(Fen(fen)))
}

/// `GET /admin/reconciliation?date=yyyy-MM-dd`: each channel's bill of a Beijing day against
/// the ledger, with every difference.
pub async fn reconciliation(
    state: web::Data<AppState>,
    request: HttpRequest,
    query: web::Query<DateQuery>,
) -> HttpResponse {
    let staff = on_duty!(state, request, DutyKind::Finance, "/admin/reconciliation");
    let today = BeijingDay::of(state.clock.now());
    let day = query
        .date
        .as_deref()
        .and_then(|raw| chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok())
        .and_then(|d| BeijingDay::from_ymd(d.year(), d.month(), d.day()))
        .unwrap_or(today);
    let report = match state.payments.reconcile(day).await {
        Ok(report) => report,
        Err(error) => return trouble(&error),
    };
    let reconciled = report["reconciled"] == true;
    let body = html! {
        h1 { "对账" }
        form.card.filters method="get" action="/admin/reconciliation" {
            div.field {
                label for="date" { "账单日（北京时间）" }
                input #date name="date" type="date" value=(day.to_string());
            }
            button.secondary type="submit" { "对账" }
        }
        p.verdict #verdict data-ok=(reconciled) { @if reconciled { "✓ " (day) " 渠道账单与账本一致" } @else { "✗ " (day) " 有差异，见下表" } }
        @for channel in report["channels"].as_array().into_iter().flatten() {
            section.card {
                h2 { (channel["channel"].as_str().unwrap_or_default()) }
                @if let Some(error) = channel["error"].as_str() {
                    p.form-error { "账单下载失败：" (error) }
                } @else {
                    div.table-wrap tabindex="0" {
                        table {
                            thead { tr { th { span.visually-hidden { "操作" } } th.number { "笔数" } th.number { "收款" } th.number { "退款" } } }
                            tbody {
                                @for (label, side) in [("渠道账单", "statement"), ("本方账本", "ledger")] {
                                    tr {
                                        th scope="row" { (label) }
                                        td.number { (channel[side]["lines"]) }
                                        td.number { (fen_cell(&channel[side]["paid_fen"])) }
                                        td.number { (fen_cell(&channel[side]["refunded_fen"])) }
                                    }
                                }
                            }
                        }
                    }
                    @let differences = channel["differences"].as_array().cloned().unwrap_or_default();
                    @if differences.is_empty() {
                        p.muted { "没有差异。" }
                    } @else {
                        div.table-wrap tabindex="0" {
                            table {
                                thead { tr { th { "交易号" } th { "类型" } th.number { "账单" } th.number { "账本" } th { "问题" } } }
                                tbody {
                                    @for d in &differences {
                                        tr {
                                            td { (d["transaction_id"].as_str().unwrap_or_default()) }
                                            td { (d["kind"].as_str().unwrap_or_default()) }
                                            td.number { (fen_cell(&d["statement_fen"])) }
                                            td.number { (fen_cell(&d["ledger_fen"])) }
                                            td { (d["issue"].as_str().unwrap_or_default()) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    frame(&state, &request, &staff, "/admin/reconciliation", "对账", body)
}

/// `GET /admin/ledger`: the ledger's invariants from the database.
pub async fn ledger(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    let staff = on_duty!(state, request, DutyKind::Finance, "/admin/ledger");
    let (sum, unbalanced, postings) = match money::ledger_check(&state.db).await {
        Ok(check) => check,
        Err(error) => return trouble(&error),
    };
    let balanced = sum == 0 && unbalanced.is_empty();
    let body = html! {
        h1 { "账本检查" }
        p.verdict #verdict data-ok=(balanced) { @if balanced { "✓ 账本平衡" } @else { "✗ 账本不平衡" } }
        dl.card.facts {
            dt { "记账凭证" } dd { (postings) " 笔" }
            dt { "全部分录之和" } dd { (yuan(Fen(sum))) }
            dt { "不平衡的凭证" } dd { (unbalanced.len()) }
        }
        @if !unbalanced.is_empty() {
            ul.card { @for op in &unbalanced { li { code { (op) } } } }
        }
    };
    frame(&state, &request, &staff, "/admin/ledger", "账本检查", body)
}

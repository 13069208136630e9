//! The fan's page of a flash sale, in three screens on one page: the sale (live units left,
//! countdown, limit), confirm (quantity, phone and SMS code, the shipping address — checked by
//! the server, each error next to its field), pay (WeChat Pay or Alipay); then the order's
//! page, which follows the order's state, shipment and tracking by itself.
//!
//! The page is complete as the server renders it (figures, prices, countdown as text); the
//! script (`assets/fan.js`) makes it live — the figures from [`live`], which reads the sale's
//! actor's gauge, never the database — and drives the buying through the same JSON API as
//! every other client, with the page's cookie instead of a Bearer token.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use engine::StockCounts;
use maud::{Markup, html};
use serde_json::json;

use super::catalog::{self, SaleFacts};
use super::layout::{page, yuan};
use super::session::BUYER_COOKIE;
use super::{Pages, html as page_answer, not_found_page, with_csrf};
use crate::AppState;

/// The sale's facts for a code, or the answer to give instead.
async fn facts_of(
    state: &AppState,
    pages: &Pages,
    code: &str,
) -> Result<std::sync::Arc<SaleFacts>, HttpResponse> {
    let id = pages.share.decode(code).ok_or_else(not_found_page)?;
    match pages.catalog.facts(state, id).await {
        Ok(Some(facts)) => Ok(facts),
        Ok(None) => Err(not_found_page()),
        Err(error) => {
            tracing::error!(%error, flash_sale_id = %id, "loading a sale's page");
            Err(unavailable_page())
        }
    }
}

pub(super) fn unavailable_page() -> HttpResponse {
    let body = html! { main.narrow { h1 { "请稍后再试" } p { "页面暂时无法打开，请稍后刷新。" } } };
    let mut answer = page_answer(StatusCode::SERVICE_UNAVAILABLE, page("请稍后再试", None, body));
    answer.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("2"));
    answer
}

/// `GET /s/{code}`.
pub async fn sale_page(
    state: web::Data<AppState>,
    pages: web::Data<Pages>,
    request: HttpRequest,
    code: web::Path<String>,
) -> HttpResponse {
    let facts = match facts_of(&state, &pages, &code).await {
        Ok(facts) => facts,
        Err(answer) => return answer,
    };
    let counts = match catalog::live_counts(&state, &facts).await {
        Ok(counts) => counts,
        Err(error) => {
            tracing::error!(%error, "reading a settled sale's figures");
            return unavailable_page();
        }
    };
    let signed_in = request.cookie(BUYER_COOKIE).is_some();
    with_csrf(&state, &request, |csrf| sale_view(&state, &facts, &counts, &code, signed_in, csrf))
}

fn sale_view(
    state: &AppState,
    facts: &SaleFacts,
    counts: &StockCounts,
    code: &str,
    signed_in: bool,
    csrf: &str,
) -> Markup {
    let terms = &facts.terms;
    let now = state.clock.now();
    let phase = catalog::phase(terms, counts, now);
    let saving = facts.original_price_fen.checked_sub(terms.price_fen).filter(|s| s.as_i64() > 0);
    let picture = if facts.image_url.starts_with("https://") {
        facts.image_url.clone()
    } else {
        super::assets::url("product.svg")
    };
    let sold_percent = if counts.quantity == 0 {
        100
    } else {
        u64::from(counts.quantity - counts.available) * 100 / u64::from(counts.quantity)
    };
    let limit = terms.per_buyer_limit.max(1);
    let body = html! {
        main.fan #fan data-code=(code) data-sale=(terms.id) data-now=(now.as_millis())
            data-starts=(terms.starts_at.as_millis()) data-ends=(terms.ends_at.as_millis())
            data-price=(terms.price_fen.as_i64()) data-limit=(limit) data-phase=(phase)
            data-signed-in=(if signed_in { "1" } else { "0" }) {
            section.screen #step-sale aria-labelledby="sale-title" {
                img.product-picture src=(picture) alt=(facts.product_title) width="720" height="720";
                div.card {
                    div.price-row {
                        span.flash-price { (yuan(terms.price_fen)) }
                        @if saving.is_some() { del.list-price { (yuan(facts.original_price_fen)) } }
                        @if let Some(saving) = saving { span.tag { "省" (yuan(saving)) } }
                    }
                    h1 #sale-title { (terms.title) }
                    p.countdown #countdown role="timer" { (countdown_text(phase, terms, now)) }
                    div.stock {
                        p { "剩余 " strong #available aria-live="polite" { (counts.available) } " / " (counts.quantity) " 件" }
                        progress #meter max=(counts.quantity) value=(counts.quantity - counts.available) aria-label=(format!("已抢 {sold_percent}%")) {}
                    }
                    p.limit { "每人限购 " strong { (limit) } " 件" }
                    ul.badges aria-label="服务保障" {
                        li { "微信支付 · 支付宝" }
                        li { "先到先得 绝不超卖" }
                        li { "未付款 " (terms.payment_window_secs / 60) " 分钟自动释放" }
                    }
                    @if !facts.shop_name.is_empty() { p.shop { "店铺：" (facts.shop_name) } }
                    @if !facts.description.is_empty() { p.description { (facts.description) } }
                }
                @if let Some(next) = &facts.next_stream { (super::preview::card(next)) }
                div.actionbar {
                    button.primary #buy type="button" disabled[phase != "live"] { (buy_label(phase)) }
                }
            }
            section.screen #step-confirm hidden aria-labelledby="confirm-title" {
                button.back type="button" data-back="step-sale" { "‹ 返回" }
                h1.screen-title #confirm-title { "确认订单" }
                form.card #confirm-form novalidate {
                    input type="hidden" name="csrf" value=(csrf);
                    p.summary { (terms.title) }
                    div.field {
                        label for="quantity" { "数量（限购 " (limit) " 件）" }
                        div.stepper {
                            button type="button" data-step="-1" aria-label="减少数量" { "−" }
                            input #quantity name="quantity" type="number" inputmode="numeric" min="1" max=(limit) value="1" required;
                            button type="button" data-step="1" aria-label="增加数量" { "+" }
                        }
                        p.field-error #quantity-error role="alert" {}
                    }
                    div #verify hidden[signed_in] {
                        div.field {
                            label for="phone" { "手机号" }
                            input #phone name="phone" type="tel" inputmode="numeric" autocomplete="tel" maxlength="11" placeholder="11 位手机号" required;
                            p.field-error #phone-error role="alert" {}
                        }
                        div.field {
                            label for="code" { "短信验证码" }
                            div.code-row {
                                input #code name="code" type="text" inputmode="numeric" autocomplete="one-time-code" maxlength="6" placeholder="6 位数字";
                                button.secondary #send-code type="button" { "获取验证码" }
                            }
                            p.field-error #code-error role="alert" {}
                        }
                    }
                    fieldset.address #address {
                        legend { "收货地址" }
                        (address_field("recv-name", "收货人", "text", "name", "姓名"))
                        (address_field("recv-phone", "联系电话", "tel", "tel", "11 位手机号"))
                        (address_field("province", "省", "text", "address-level1", "如 广东省"))
                        (address_field("city", "市", "text", "address-level2", "如 深圳市"))
                        (address_field("district", "区 / 县", "text", "address-level3", "如 南山区"))
                        (address_field("detail", "详细地址", "text", "street-address", "街道、楼栋、门牌号"))
                    }
                    p.total { "合计 " strong #total { (yuan(terms.price_fen)) } }
                    button.primary #place type="submit" { "提交订单" }
                    p.form-error #order-error role="alert" {}
                }
            }
            section.screen #step-pay hidden aria-labelledby="pay-title" {
                h1.screen-title #pay-title { "支付订单" }
                div.card {
                    p.summary { (terms.title) " × " span #pay-quantity { "1" } }
                    p.total { "应付 " strong #pay-amount {} }
                    p.countdown #pay-deadline role="timer" {}
                    fieldset.channels {
                        legend { "支付方式" }
                        label.channel { input type="radio" name="channel" value="wechat" checked; span { "微信支付" } }
                        label.channel { input type="radio" name="channel" value="alipay"; span { "支付宝" } }
                    }
                    button.primary #pay type="button" { "去支付" }
                    p.form-error #pay-error role="alert" {}
                    (pay_qr())
                }
            }
            noscript { p.form-error { "请开启浏览器的 JavaScript 后下单。" } }
        }
    };
    page(&terms.title, Some(csrf), body)
}

/// One field of the address, with the place its server-side error is shown.
fn address_field(id: &str, label: &str, kind: &str, autocomplete: &str, hint: &str) -> Markup {
    let error = format!("{id}-error");
    html! {
        div.field {
            label for=(id) { (label) }
            input id=(id) name=(id) type=(kind) autocomplete=(autocomplete) placeholder=(hint) required aria-describedby=(error);
            p.field-error id=(error) role="alert" {}
        }
    }
}

fn buy_label(phase: &str) -> &'static str {
    match phase {
        "scheduled" => "即将开抢",
        "ended" => "已结束",
        "sold_out" => "已抢光",
        _ => "立即抢购",
    }
}

fn countdown_text(phase: &str, terms: &engine::SaleTerms, now: engine::Timestamp) -> String {
    let left = |until: engine::Timestamp| {
        let secs = (until.as_millis() - now.as_millis()).max(0) / 1_000;
        format!("{:02}:{:02}:{:02}", secs / 3_600, secs / 60 % 60, secs % 60)
    };
    match phase {
        "scheduled" => format!("距开抢 {}", left(terms.starts_at)),
        "ended" => "秒杀已结束".to_owned(),
        _ => format!("距结束 {}", left(terms.ends_at)),
    }
}

/// `GET /s/{code}/live`: the figures the page keeps current, from memory.
pub async fn live(
    state: web::Data<AppState>,
    pages: web::Data<Pages>,
    code: web::Path<String>,
) -> HttpResponse {
    let facts = match facts_of(&state, &pages, &code).await {
        Ok(facts) => facts,
        Err(answer) => {
            let status = answer.status();
            return HttpResponse::build(status)
                .json(json!({"error": {"code": "flash_sale_not_found", "message": "no such flash sale"}}));
        }
    };
    let Ok(counts) = catalog::live_counts(&state, &facts).await else {
        return HttpResponse::ServiceUnavailable().insert_header((header::RETRY_AFTER, "2")).finish();
    };
    let now = state.clock.now();
    HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(json!({
        "available": counts.available,
        "quantity": counts.quantity,
        "state": catalog::phase(&facts.terms, &counts, now),
        "now_ms": now.as_millis(),
    }))
}

/// `GET /s/{code}/o/{order}`: the order's page; its figures come from the order API, read
/// with the page's cookie (so only its buyer sees them).
pub async fn order_page(
    state: web::Data<AppState>,
    pages: web::Data<Pages>,
    request: HttpRequest,
    path: web::Path<(String, i64)>,
) -> HttpResponse {
    let (code, order_id) = path.into_inner();
    let facts = match facts_of(&state, &pages, &code).await {
        Ok(facts) => facts,
        Err(answer) => return answer,
    };
    let terms = &facts.terms;
    let sale_link = format!("/s/{code}");
    with_csrf(&state, &request, |csrf| {
        let body = html! {
            main.fan #order data-code=(code) data-order=(order_id) data-sale=(terms.id) {
                section.screen aria-labelledby="order-title" {
                    div.card {
                        h1 #order-title { "订单 " (order_id) }
                        p.summary { (terms.title) }
                        p.order-state #order-state role="status" aria-live="polite" data-state="loading" { "正在查询订单…" }
                        dl.facts {
                            dt { "数量" } dd #order-quantity { "—" }
                            dt { "金额" } dd #order-amount { "—" }
                            dt { "下单时间" } dd #order-created { "—" }
                        }
                        ol.timeline #timeline aria-label="订单进度" {
                            li data-step="pending_payment" { "已下单" }
                            li data-step="paid" { "已支付" }
                            li data-step="shipped" { "已发货" }
                            li data-step="completed" { "已完成" }
                        }
                    }
                    div.card #shipment hidden {
                        h2 { "物流" }
                        p #ship-line {}
                        p.order-state #ship-state data-state="" {}
                        ol.tracking #tracking aria-label="物流轨迹" {}
                        button.primary #receive type="button" hidden { "确认收货" }
                        p.form-error #receive-error role="alert" {}
                    }
                    div.card #repay hidden {
                        fieldset.channels {
                            legend { "支付方式" }
                            label.channel { input type="radio" name="channel" value="wechat" checked; span { "微信支付" } }
                            label.channel { input type="radio" name="channel" value="alipay"; span { "支付宝" } }
                        }
                        button.primary #pay type="button" { "继续支付" }
                        p.form-error #pay-error role="alert" {}
                        (pay_qr())
                    }
                    p.center { a href=(sale_link) { "返回商品页" } }
                }
            }
        };
        page(&format!("订单 {order_id}"), Some(csrf), body)
    })
}

/// Where a desk's browser shows the channel's QR code (WeChat Native `code_url`, Alipay
/// precreate `qr_code`) to scan with a phone; the script fills it. In demo mode a button pays
/// as the scanning phone would, at the sandbox.
fn pay_qr() -> Markup {
    html! {
        div.pay-qr #pay-qr hidden {
            img #pay-qr-img width="220" height="220" alt="支付二维码";
            p #pay-qr-hint role="status" { "请用手机扫码支付，支付后本页自动跳转" }
            button.secondary #sandbox-pay type="button" hidden { "演示：模拟手机扫码付款" }
        }
    }
}

//! The merchant console's live platforms: the bound shops with their state and the buttons that
//! start the OAuth round trip (`/console/platforms/{platform}/connect` answers the 302 to the
//! platform's consent page, as the API's authorize does), and a sale's platforms — bind it to a
//! shop, see each slice (leased, sold there), take the units back. Every action goes through
//! the JSON API (`assets/console.js`), with the page's cookie.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use engine::FlashSaleId;
use maud::html;
use providers::live::Platform;
use workflows::live::SaleBindError;

use super::console::{frame, merchant_of};
use super::fan::unavailable_page;
use super::layout::beijing;
use super::{not_found_page, see_other};
use crate::AppState;

fn platform_name(platform: Platform) -> &'static str {
    match platform {
        Platform::Douyin => "抖店",
        Platform::Kuaishou => "快手小店",
    }
}

fn state_name(state: &str) -> &'static str {
    match state {
        "connected" => "已连接",
        "disconnected" => "已断开，请重新授权",
        "expired" => "授权已过期，请重新授权",
        _ => "未知",
    }
}

/// `GET /console/platforms`: the merchant's shops and the buttons to connect one.
pub async fn shops_page(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    let Some((merchant, shop_name)) = merchant_of(&state, &request).await else {
        return see_other("/console/login");
    };
    let shops = match state.live.shops(merchant).await {
        Ok(shops) => shops,
        Err(error) => {
            tracing::error!(%error, "listing live shops");
            return unavailable_page();
        }
    };
    let body = html! {
        h1 { "直播平台" }
        div.card {
            h2 { "已绑定的店铺" }
            @if shops.is_empty() {
                p.muted #no-shops { "还没有绑定店铺。连接抖店或快手小店后，秒杀可同时在直播间购物车里售卖，库存统一。" }
            } @else {
                table #shops {
                    thead { tr { th { "平台" } th { "店铺" } th { "状态" } th { "授权到期" } th { "说明" } } }
                    tbody {
                        @for shop in &shops {
                            tr data-platform=(shop.platform.as_str()) data-state=(shop.state.as_str()) {
                                td { (platform_name(shop.platform)) }
                                td { @if shop.shop_name.is_empty() { (shop.shop_id) } @else { (shop.shop_name) } }
                                td { (state_name(shop.state.as_str())) }
                                td { (beijing(shop.refresh_expires_at)) }
                                td { (shop.disconnected_reason.clone().unwrap_or_default()) }
                            }
                        }
                    }
                }
            }
        }
        div.card.stack {
            h2 { "连接店铺" }
            p.muted { "将跳转到平台的授权页面，授权后自动返回。" }
            @for platform in [Platform::Douyin, Platform::Kuaishou] {
                @if state.live.platform(platform).is_some() {
                    a.button.primary href=(format!("/console/platforms/{}/connect", platform.as_str())) {
                        "连接" (platform_name(platform))
                    }
                }
            }
        }
    };
    frame(&state, &request, "直播平台", "/console/platforms", &shop_name, body)
}

/// `GET /console/platforms/{platform}/connect`: starts the round trip (302 to the platform).
pub async fn connect(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let Some((merchant, _)) = merchant_of(&state, &request).await else {
        return see_other("/console/login");
    };
    let Some(platform) = Platform::parse(&path) else { return not_found_page() };
    match state.live.authorize(merchant, platform).await {
        Ok(url) => HttpResponse::Found().insert_header((header::LOCATION, url)).finish(),
        Err(error) => {
            tracing::warn!(%error, "starting a live platform binding from the console");
            see_other("/console/platforms")
        }
    }
}

/// `GET /console/sales/{id}/platforms`: where the sale is sold besides our page.
pub async fn sale_page(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<i64>,
) -> HttpResponse {
    let Some((merchant, shop_name)) = merchant_of(&state, &request).await else {
        return see_other("/console/login");
    };
    let sale = FlashSaleId(path.into_inner());
    let doors = match state.live.sale_doors(merchant, sale).await {
        Ok(doors) => doors,
        Err(SaleBindError::NotFound) => return not_found_page(),
        Err(error) => {
            tracing::error!(%error, "reading a sale's platforms");
            return unavailable_page();
        }
    };
    let connected: Vec<Platform> = match state.live.shops(merchant).await {
        Ok(shops) => shops
            .iter()
            .filter(|s| s.state.as_str() == "connected")
            .map(|s| s.platform)
            .filter(|p| !doors.iter().any(|d| d.platform == *p))
            .collect(),
        Err(_) => Vec::new(),
    };
    let body = html! {
        p { a href=(format!("/console/sales/{}", sale.0)) { "‹ 返回实时看板" } }
        h1 { "直播平台售卖" }
        div.card {
            h2 { "售卖中的平台" }
            @if doors.is_empty() {
                p.muted #no-doors { "这场秒杀只在本平台页面售卖。" }
            } @else {
                table #doors {
                    thead { tr { th { "平台" } th { "商品 ID" } th { "平台可售（已分配）" } th { "平台已售" } th {} } }
                    tbody {
                        @for door in &doors {
                            tr data-platform=(door.platform.as_str()) {
                                td { (platform_name(door.platform)) }
                                td { (door.item_id) }
                                td.num { (door.leased) }
                                td.num { (door.sold) }
                                td {
                                    button.secondary type="button"
                                        data-call=(format!("POST /api/v1/flash-sales/{}/platforms/{}/take-back", sale.0, door.platform.as_str())) {
                                        "收回库存"
                                    }
                                }
                            }
                        }
                    }
                }
                p.form-error #call-error role="alert" {}
            }
        }
        div.card {
            h2 { "同时在直播间售卖" }
            @if connected.is_empty() {
                p.muted { "没有可绑定的店铺。" a href="/console/platforms" { "去连接店铺" } }
            } @else {
                form.stack data-api=(format!("POST /api/v1/flash-sales/{}/platforms", sale.0)) data-then="reload" novalidate {
                    div.field {
                        label for="platform" { "平台" }
                        select #platform name="platform" {
                            @for platform in &connected {
                                option value=(platform.as_str()) { (platform_name(*platform)) }
                            }
                        }
                    }
                    button.primary type="submit" { "上架到直播间" }
                    p.form-error role="alert" {}
                }
            }
        }
    };
    frame(&state, &request, "直播平台售卖", "/console", &shop_name, body)
}

//! The Douyin shop (抖店) sandbox: its own app key and secret, the service market's consent
//! page, `token.create` / `token.refresh` (access 7 days, refresh 14 days), `product.addV2` /
//! `product.editV2`, `sku.syncStock`, `order.searchList`, `order.orderDetail` and
//! `order.logisticsAdd`, every call checked with `providers::live::douyin::protocol` and
//! refused in the platform's envelope; pushes signed with `event-sign`.
//!
//! Routes under `/sandbox/douyin`: `GET|POST /authorize` (consent), `POST /{method path}` (the
//! API, e.g. `/sku/syncStock`), and for tests and the demo `POST /items/{id}/buy` (a fan buys
//! from the platform's stock), `POST /orders/{id}/cancel`,
//! after-sales `POST /orders/{id}/refund` and `…/refund/agree`, `POST /orders/{id}/complete`,
//! `POST /grants/revoke`, `GET /items/{id}`. The retry schedule of pushes is not published:
//! the one here is chosen.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use engine::time::Clock;
use engine::{Fen, Timestamp};
use providers::live::douyin::protocol::{self, ApiError, codes};
use providers::live::{OrderStatus, PushKind, StockMove};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Item, Order, PushWire, Refusal, Shop, ShopSettings, Sku, TokenPolicy, pages};

/// Delays between push attempts (seconds; not published by the platform, chosen).
pub const DOUYIN_RETRY_SECS: [u64; 6] = [30, 60, 300, 900, 1_800, 3_600];

/// The app the sandbox knows.
#[derive(Clone)]
pub struct DouyinApp {
    pub app_key: String,
    pub app_secret: String,
    pub service_id: String,
    /// The callback registered for the service: where consent sends the merchant back.
    pub redirect_uri: String,
}

impl DouyinApp {
    /// A fresh app: a 19-digit app key and a secret, as the platform hands them out.
    pub fn generate(service_id: &str, redirect_uri: &str) -> Self {
        use rand::Rng as _;
        let key: u64 = rand::rng().random_range(7_000_000_000_000_000_000..7_999_999_999_999_999_999);
        Self {
            app_key: key.to_string(),
            app_secret: format!("{}-{}", super::random_text(8), super::random_text(27)),
            service_id: service_id.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
        }
    }
}

pub struct DouyinWire {
    app_key: String,
    app_secret: String,
}

fn wire_status(status: OrderStatus) -> i64 {
    match status {
        OrderStatus::Unpaid => 1,
        OrderStatus::Paid => 2,
        OrderStatus::Shipped => 3,
        OrderStatus::Cancelled => 4,
        OrderStatus::Completed => 5,
    }
}

fn secs(at: Timestamp) -> i64 {
    at.as_millis().div_euclid(1_000)
}

impl PushWire for DouyinWire {
    fn push(
        &self,
        order: &Order,
        kind: PushKind,
        message_id: &str,
        now: Timestamp,
    ) -> (Vec<(String, String)>, String) {
        let tag = match kind {
            PushKind::OrderCreated => protocol::tags::CREATED,
            PushKind::OrderPaid => protocol::tags::PAID,
            PushKind::OrderShipped => protocol::tags::SHIPPED,
            PushKind::OrderCompleted => protocol::tags::COMPLETED,
            PushKind::OrderCancelled => protocol::tags::CANCELLED[1],
            PushKind::RefundRequested => protocol::tags::REFUND_REQUESTED,
            PushKind::RefundAgreed => protocol::tags::REFUND_AGREED,
        };
        let mut data = json!({
            "p_id": order.order_id, "s_ids": [order.order_id], "shop_id": order.shop_id.parse::<i64>().unwrap_or(0),
            "order_status": wire_status(order.status), "order_type": 0, "biz": 2,
            "create_time": secs(order.created_at), "update_time": secs(now),
        });
        if let Some(paid) = order.paid_at {
            data["pay_time"] = json!(secs(paid));
            data["pay_amount"] = json!(order.amount_fen.as_i64());
        }
        let body =
            json!([{"tag": tag.to_string(), "msg_id": message_id, "data": data.to_string()}]).to_string();
        let sign = protocol::push_sign(&self.app_key, body.as_bytes(), &self.app_secret);
        (vec![("app-id".into(), self.app_key.clone()), ("event-sign".into(), sign)], body)
    }

    fn content_type(&self) -> &'static str {
        "application/json"
    }

    fn acknowledged(&self, status: u16, body: &str) -> bool {
        status == 200 && serde_json::from_str::<Value>(body).is_ok_and(|v| v["code"] == 0)
    }

    fn retry_secs(&self) -> &'static [u64] {
        &DOUYIN_RETRY_SECS
    }
}

pub struct DouyinSandbox {
    pub app: DouyinApp,
    pub shop: Arc<Shop<DouyinWire>>,
    /// The receivers' ciphers handed out in order details, for `order.batchDecrypt`.
    pub ciphers: super::Ciphers,
}

impl DouyinSandbox {
    pub fn new(app: DouyinApp, settings: ShopSettings, clock: Arc<dyn Clock>) -> Self {
        let policy = TokenPolicy {
            access_secs: protocol::ACCESS_TOKEN_SECS,
            refresh_secs: protocol::REFRESH_TOKEN_SECS,
            refresh_keeps_expiry: false,
        };
        let wire = DouyinWire { app_key: app.app_key.clone(), app_secret: app.app_secret.clone() };
        Self {
            app,
            shop: Arc::new(Shop::new(settings, policy, wire, clock)),
            ciphers: super::Ciphers::default(),
        }
    }

    /// One API call as the platform answers it (always HTTP 200).
    pub fn call(&self, path: &str, query: &[(String, String)], body: &[u8]) -> Value {
        let outcome = self.answer(path, query, body);
        protocol::answer_json(&outcome, &format!("{}", self.shop.mint()))
    }

    fn answer(&self, path: &str, query: &[(String, String)], body: &[u8]) -> Result<Value, ApiError> {
        let get = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let body = std::str::from_utf8(body)
            .map_err(|_| ApiError::new(codes::BAD_PARAMETER, "body is not utf-8"))?;
        let param_json = if body.trim().is_empty() {
            get("param_json").unwrap_or_else(|| "{}".into())
        } else {
            body.to_owned()
        };
        let call = protocol::verify_call(
            &get,
            &param_json,
            &self.app.app_key,
            &self.app.app_secret,
            self.shop.now(),
        )?;
        if protocol::method_path(&call.method) != format!("/{}", path.trim_start_matches('/')) {
            return Err(ApiError::new(codes::BAD_PARAMETER, "method does not match the path"));
        }
        let params: Value = serde_json::from_str(&param_json)
            .ok()
            .filter(Value::is_object)
            .ok_or_else(|| ApiError::new(codes::BAD_PARAMETER, "param_json is not a JSON object"))?;
        match call.method.as_str() {
            "token.create" => self.token_create(&params),
            "token.refresh" => self.token_refresh(&params),
            method => {
                let shop_id =
                    self.shop.shop_of(call.access_token.as_deref().unwrap_or_default()).map_err(refusal)?;
                self.business(method, &shop_id, &params)
            }
        }
    }

    fn grant_data(grant: super::GrantRecord, now: Timestamp) -> Value {
        json!({
            "access_token": grant.access_token,
            "expires_in": super::seconds_left(grant.access_expires_at, now),
            "refresh_token": grant.refresh_token,
            "scope": "SCOPE",
            "shop_id": grant.shop_id.parse::<i64>().unwrap_or(0),
            "shop_name": grant.shop_name,
        })
    }

    fn token_create(&self, params: &Value) -> Result<Value, ApiError> {
        if params["grant_type"] != "authorization_code" {
            return Err(ApiError::new(codes::BAD_PARAMETER, "grant_type must be authorization_code"));
        }
        let code = params["code"].as_str().unwrap_or_default();
        let grant = self.shop.exchange(code).map_err(refusal)?;
        Ok(Self::grant_data(grant, self.shop.now()))
    }

    fn token_refresh(&self, params: &Value) -> Result<Value, ApiError> {
        if params["grant_type"] != "refresh_token" {
            return Err(ApiError::new(codes::BAD_PARAMETER, "grant_type must be refresh_token"));
        }
        let grant =
            self.shop.refresh(params["refresh_token"].as_str().unwrap_or_default()).map_err(refusal)?;
        Ok(Self::grant_data(grant, self.shop.now()))
    }

    fn business(&self, method: &str, shop_id: &str, params: &Value) -> Result<Value, ApiError> {
        let shop = &self.shop;
        match method {
            "product.addV2" => {
                let out_item_id = int(&params["out_product_id"]).ok_or_else(|| bad("out_product_id"))?;
                let skus = spec_prices(params)?
                    .iter()
                    .map(|s| {
                        Ok(Sku {
                            sku_id: 0,
                            out_sku_id: int(&s["out_sku_id"]).ok_or_else(|| bad("out_sku_id"))?,
                            name: s["spec_detail_name1"].as_str().unwrap_or_default().to_owned(),
                            price_fen: Fen(int(&s["price"]).ok_or_else(|| bad("price"))?),
                            stock: u32::try_from(int(&s["stock_num"]).unwrap_or(0))
                                .map_err(|_| bad("stock_num"))?,
                        })
                    })
                    .collect::<Result<Vec<_>, ApiError>>()?;
                let item = Item {
                    item_id: 0,
                    shop_id: shop_id.to_owned(),
                    out_item_id,
                    title: text(&params["name"]).ok_or_else(|| bad("name"))?,
                    description: text(&params["description"]).unwrap_or_default(),
                    skus,
                };
                let item = shop.create_item(item).map_err(refusal)?;
                let skus: Vec<Value> = item
                    .skus
                    .iter()
                    .map(|s| json!({"sku_id": s.sku_id, "out_sku_id": s.out_sku_id}))
                    .collect();
                Ok(json!({"product_id": item.item_id, "out_product_id": item.out_item_id, "sku": skus}))
            }
            "product.editV2" => {
                let item_id = uint(&params["product_id"]).ok_or_else(|| bad("product_id"))?;
                let prices = spec_prices(params)?
                    .iter()
                    .map(|s| Some((int(&s["out_sku_id"])?, Fen(int(&s["price"])?))))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| bad("spec_prices"))?;
                let title = text(&params["name"]).ok_or_else(|| bad("name"))?;
                let description = text(&params["description"]).unwrap_or_default();
                shop.update_item(shop_id, item_id, &title, &description, &prices).map_err(refusal)?;
                Ok(json!({}))
            }
            "sku.syncStock" => {
                let item_id = uint(&params["product_id"]).ok_or_else(|| bad("product_id"))?;
                let sku_id = uint(&params["sku_id"]).ok_or_else(|| bad("sku_id"))?;
                let stock_num = int(&params["stock_num"]).ok_or_else(|| bad("stock_num"))?;
                let change = if params["incremental"] == true {
                    StockMove::By(stock_num)
                } else {
                    StockMove::Set(u32::try_from(stock_num).map_err(|_| bad("stock_num"))?)
                };
                let key = params["idempotent_id"].as_str();
                shop.change_stock(shop_id, item_id, sku_id, change, key).map_err(refusal)?;
                Ok(json!({}))
            }
            "order.searchList" => {
                let page = uint(&params["page"]).unwrap_or(0) as usize;
                let size = uint(&params["size"]).unwrap_or(20).clamp(1, 100) as usize;
                let since = Timestamp(int(&params["update_time_start"]).unwrap_or(0).saturating_mul(1_000));
                let until_secs = int(&params["update_time_end"]).unwrap_or(i64::MAX / 1_000);
                let until = Timestamp(until_secs.saturating_mul(1_000).saturating_add(999));
                let (orders, total) = shop.orders(shop_id, since, until, page.saturating_mul(size), size);
                let list: Vec<Value> = orders.iter().map(|o| order_json(o, &self.ciphers)).collect();
                Ok(json!({"shop_order_list": list, "total": total, "page": page, "size": size}))
            }
            "order.orderDetail" => {
                let order_id = uint(&params["shop_order_id"]).ok_or_else(|| bad("shop_order_id"))?;
                let order = shop
                    .order(shop_id, order_id)
                    .ok_or_else(|| ApiError::new(codes::BUSINESS, "no such order"))?;
                Ok(json!({"shop_order_detail": order_json(&order, &self.ciphers)}))
            }
            "order.batchDecrypt" => {
                let infos = params["cipher_infos"].as_array().ok_or_else(|| bad("cipher_infos"))?;
                if infos.is_empty() || infos.len() > protocol::DECRYPT_BATCH {
                    return Err(bad("cipher_infos: 1 to 50 items"));
                }
                let mut answers = Vec::with_capacity(infos.len());
                for info in infos {
                    let auth_id = text(&info["auth_id"]).ok_or_else(|| bad("auth_id"))?;
                    let cipher = text(&info["cipher_text"]).ok_or_else(|| bad("cipher_text"))?;
                    // Only the shop's own orders, and only a cipher of the order named.
                    let plain = auth_id
                        .parse::<u64>()
                        .ok()
                        .filter(|id| shop.order(shop_id, *id).is_some())
                        .and_then(|id| self.ciphers.open(id, &cipher));
                    answers.push(match plain {
                        Some(plain) => json!({"auth_id": auth_id, "cipher_text": cipher, "decrypt_text": plain,
                            "err_no": 0, "err_msg": "", "is_virtual_tel": false}),
                        None => json!({"auth_id": auth_id, "cipher_text": cipher, "decrypt_text": "",
                            "err_no": DECRYPT_REFUSED, "err_msg": "解密失败：密文与订单不匹配", "is_virtual_tel": false}),
                    });
                }
                Ok(json!({"decrypt_infos": answers, "custom_err": {"err_code": 0, "err_msg": ""}}))
            }
            "order.logisticsAdd" => {
                let order_id = uint(&params["order_id"]).ok_or_else(|| bad("order_id"))?;
                let company = text(&params["company_code"]).unwrap_or_default();
                let waybill = text(&params["logistics_code"]).unwrap_or_default();
                shop.ship(shop_id, order_id, &company, &waybill).map_err(refusal)?;
                Ok(json!({}))
            }
            other => Err(ApiError::new(
                codes::BAD_PARAMETER,
                format!("method {other} is not served by the sandbox"),
            )),
        }
    }
}

fn refusal(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::Grant(message) => ApiError::new(codes::GRANT_REVOKED, message),
        Refusal::AccessToken(message) => ApiError::new(codes::ACCESS_TOKEN, message),
        Refusal::Parameter(message) => ApiError::new(codes::BAD_PARAMETER, message),
        Refusal::Business(message) => ApiError::new(codes::BUSINESS, message),
    }
}

fn bad(field: &str) -> ApiError {
    ApiError::new(codes::BAD_PARAMETER, format!("{field} is missing or invalid"))
}

fn int(value: &Value) -> Option<i64> {
    value.as_i64().or_else(|| value.as_str()?.parse().ok())
}

fn uint(value: &Value) -> Option<u64> {
    int(value).and_then(|n| u64::try_from(n).ok())
}

fn text(value: &Value) -> Option<String> {
    value.as_str().map(str::to_owned)
}

/// `spec_prices`: a JSON string of an array (or, leniently, the array itself).
fn spec_prices(params: &Value) -> Result<Vec<Value>, ApiError> {
    let parsed = match &params["spec_prices"] {
        Value::String(s) => serde_json::from_str::<Value>(s).ok(),
        other => Some(other.clone()),
    };
    match parsed {
        Some(Value::Array(items)) if !items.is_empty() && items.len() <= 600 => Ok(items),
        _ => Err(bad("spec_prices")),
    }
}

/// `err_no` of a cipher the sandbox will not decrypt (chosen: the platform's is not confirmed).
const DECRYPT_REFUSED: i64 = 300_008;

fn order_json(order: &Order, ciphers: &super::Ciphers) -> Value {
    let id = order.order_id;
    let detail = format!("科技园路{}号", id % 1000);
    json!({
        "order_id": order.order_id.to_string(),
        "shop_id": order.shop_id.parse::<i64>().unwrap_or(0),
        "order_status": wire_status(order.status),
        "create_time": secs(order.created_at),
        "pay_time": order.paid_at.map_or(0, secs),
        "update_time": secs(order.updated_at),
        "pay_amount": order.amount_fen.as_i64(),
        "sku_order_list": [{
            "order_id": order.order_id.to_string(),
            "product_id": order.item_id.to_string(),
            "sku_id": order.sku_id.to_string(),
            "item_num": order.quantity,
            "pay_amount": order.amount_fen.as_i64(),
        }],
        // The receiver as the platform gives it: masked, and encrypted for order.batchDecrypt.
        "post_receiver": "抖**",
        "post_tel": "138****8000",
        "encrypt_post_receiver": ciphers.seal(id, "name", "抖音买家"),
        "encrypt_post_tel": ciphers.seal(id, "tel", "13800138000"),
        "post_addr": {
            "province": {"name": "广东省", "id": "44"},
            "city": {"name": "深圳市", "id": "4403"},
            "town": {"name": "南山区", "id": "440305"},
            "detail": "科技园路***",
            "encrypt_detail": ciphers.seal(id, "detail", &detail),
        },
        "logistics_info": order.waybill.iter().map(|(company, waybill)| json!({
            "tracking_no": waybill, "company": company, "company_name": company,
            "delivery_id": format!("{id}-1"), "ship_time": secs(order.updated_at),
        })).collect::<Vec<_>>(),
    })
}

fn off() -> HttpResponse {
    HttpResponse::NotFound()
        .json(json!({"error": {"code": "not_found", "message": "the douyin sandbox is not served here"}}))
}

fn pairs(request: &HttpRequest) -> Vec<(String, String)> {
    serde_urlencoded::from_str(request.query_string()).unwrap_or_default()
}

/// `POST /sandbox/douyin/{method path}`: the API.
async fn api(
    sandbox: Option<web::Data<DouyinSandbox>>,
    request: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let Some(sandbox) = sandbox else { return off() };
    if sandbox.shop.is_down(&path) {
        return HttpResponse::ServiceUnavailable().finish();
    }
    HttpResponse::Ok().json(sandbox.call(&path, &pairs(&request), &body))
}

/// `GET /sandbox/douyin/authorize?service_id&state`: the consent page.
async fn consent_page(sandbox: Option<web::Data<DouyinSandbox>>, request: HttpRequest) -> HttpResponse {
    let Some(sandbox) = sandbox else { return off() };
    let query = pairs(&request);
    let get = |n: &str| query.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str()).unwrap_or_default();
    if get("service_id") != sandbox.app.service_id {
        return pages::refused("unknown service_id");
    }
    let action = request.path().to_owned();
    pages::consent("抖店", &sandbox.app.app_key, "商品、订单、物流", &action, &[("state", get("state"))])
}

#[derive(Deserialize)]
struct ConsentForm {
    state: String,
    shop_name: String,
}

/// `POST /sandbox/douyin/authorize`: "授权" → 302 to the registered callback with code and state.
async fn consent(sandbox: Option<web::Data<DouyinSandbox>>, form: web::Form<ConsentForm>) -> HttpResponse {
    let Some(sandbox) = sandbox else { return off() };
    let name = form.shop_name.trim();
    if name.is_empty() || name.chars().count() > 40 || !pages::acceptable_redirect(&sandbox.app.redirect_uri)
    {
        return pages::refused("a shop name of at most 40 characters and a registered callback are needed");
    }
    let code = sandbox.shop.consent(name);
    pages::redirect(&sandbox.app.redirect_uri, &code, &form.state)
}

#[derive(Deserialize)]
pub(super) struct BuyBody {
    #[serde(default)]
    pub sku_id: Option<Value>,
    #[serde(default = "one")]
    pub quantity: u32,
    #[serde(default = "yes")]
    pub pay: bool,
}

fn one() -> u32 {
    1
}

fn yes() -> bool {
    true
}

/// A shipment made in a platform's own console.
#[derive(Debug, Deserialize)]
pub struct ConsoleShipment {
    pub company: String,
    pub waybill: String,
}

pub(super) fn fan_outcome(outcome: Result<Order, Refusal>) -> HttpResponse {
    match outcome {
        Ok(o) => HttpResponse::Created().json(json!({
            "order_id": o.order_id.to_string(), "item_id": o.item_id.to_string(), "sku_id": o.sku_id.to_string(),
            "quantity": o.quantity, "amount_fen": o.amount_fen, "paid": o.paid_at.is_some(),
        })),
        Err(Refusal::Business(m)) if m == "sold out" => {
            HttpResponse::Conflict().json(json!({"error": {"code": "sold_out", "message": "the platform's stock is sold out"}}))
        }
        Err(Refusal::Business(m)) => HttpResponse::Conflict().json(json!({"error": {"code": "refused", "message": m}})),
        Err(other) => HttpResponse::UnprocessableEntity().json(json!({"error": {"code": "invalid", "message": format!("{other:?}")}})),
    }
}

/// `POST /sandbox/douyin/items/{id}/buy`: a fan buys on the platform.
async fn buy(
    sandbox: Option<web::Data<DouyinSandbox>>,
    path: web::Path<u64>,
    body: web::Json<BuyBody>,
) -> HttpResponse {
    let Some(sandbox) = sandbox else { return off() };
    let sku = body.sku_id.as_ref().and_then(uint);
    fan_outcome(sandbox.shop.buy(path.into_inner(), sku, body.quantity, body.pay))
}

/// `POST /sandbox/douyin/orders/{id}/refund`: the buyer asks for a refund (after-sales).
async fn refund(sandbox: Option<web::Data<DouyinSandbox>>, path: web::Path<u64>) -> HttpResponse {
    let Some(sandbox) = sandbox else { return off() };
    fan_outcome(sandbox.shop.after_sale(path.into_inner(), false))
}

/// `POST /sandbox/douyin/orders/{id}/ship {company, waybill}`: the merchant ships in the
/// platform's own console (the courier in the platform's code); the order then lists it.
async fn ship_in_console(
    sandbox: Option<web::Data<DouyinSandbox>>,
    path: web::Path<u64>,
    body: web::Json<super::douyin::ConsoleShipment>,
) -> HttpResponse {
    let Some(sandbox) = sandbox else { return off() };
    fan_outcome(sandbox.shop.ship_in_console(path.into_inner(), &body.company, &body.waybill))
}

/// `POST /sandbox/douyin/orders/{id}/refund/agree`: the merchant agrees on the platform.
async fn agree_refund(sandbox: Option<web::Data<DouyinSandbox>>, path: web::Path<u64>) -> HttpResponse {
    let Some(sandbox) = sandbox else { return off() };
    fan_outcome(sandbox.shop.after_sale(path.into_inner(), true))
}

/// `POST /sandbox/douyin/orders/{id}/complete`: the buyer confirms receipt.
async fn complete(sandbox: Option<web::Data<DouyinSandbox>>, path: web::Path<u64>) -> HttpResponse {
    let Some(sandbox) = sandbox else { return off() };
    fan_outcome(sandbox.shop.complete(path.into_inner()))
}

async fn cancel(sandbox: Option<web::Data<DouyinSandbox>>, path: web::Path<u64>) -> HttpResponse {
    let Some(sandbox) = sandbox else { return off() };
    fan_outcome(sandbox.shop.cancel(path.into_inner()))
}

#[derive(Deserialize)]
pub(super) struct RevokeBody {
    #[serde(default)]
    pub shop_id: Option<String>,
}

/// `POST /sandbox/douyin/grants/revoke {shop_id?}`: the merchant cancels the authorisation.
async fn revoke(sandbox: Option<web::Data<DouyinSandbox>>, body: web::Json<RevokeBody>) -> HttpResponse {
    let Some(sandbox) = sandbox else { return off() };
    HttpResponse::Ok().json(json!({"revoked": sandbox.shop.revoke(body.shop_id.as_deref())}))
}

pub(super) fn item_json(item: Option<Item>) -> HttpResponse {
    match item {
        Some(i) => HttpResponse::Ok().json(json!({
            "item_id": i.item_id.to_string(), "out_item_id": i.out_item_id, "title": i.title,
            "skus": i.skus.iter().map(|s| json!({"sku_id": s.sku_id.to_string(), "out_sku_id": s.out_sku_id, "price_fen": s.price_fen, "stock": s.stock})).collect::<Vec<_>>(),
        })),
        None => HttpResponse::NotFound().json(json!({"error": {"code": "not_found", "message": "no such item"}})),
    }
}

async fn show_item(sandbox: Option<web::Data<DouyinSandbox>>, path: web::Path<u64>) -> HttpResponse {
    let Some(sandbox) = sandbox else { return off() };
    item_json(sandbox.shop.item(path.into_inner()))
}

/// Mounts the Douyin sandbox (inside `/sandbox`); the API's catch-all comes last.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/douyin/authorize", web::get().to(consent_page))
        .route("/douyin/authorize", web::post().to(consent))
        .service(
            web::resource("/douyin/items/{id}/buy").app_data(pages::json_config()).route(web::post().to(buy)),
        )
        .route("/douyin/items/{id}", web::get().to(show_item))
        .route("/douyin/orders/{id}/cancel", web::post().to(cancel))
        .route("/douyin/orders/{id}/refund", web::post().to(refund))
        .route("/douyin/orders/{id}/refund/agree", web::post().to(agree_refund))
        .route("/douyin/orders/{id}/ship", web::post().to(ship_in_console))
        .route("/douyin/orders/{id}/complete", web::post().to(complete))
        .service(
            web::resource("/douyin/grants/revoke")
                .app_data(pages::json_config())
                .route(web::post().to(revoke)),
        )
        .route("/douyin/{method:.+}", web::post().to(api));
}

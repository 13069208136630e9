//! The Kuaishou shop (快手小店) sandbox: its own app key, app secret, sign secret and message
//! key; the consent page (`/oauth/authorize`), `/oauth2/access_token` and
//! `/oauth2/refresh_token` (access 2 days, refresh 180 days kept across refreshes), and the
//! `open.*` methods the platform uses (`item.new`, `item.edit`, `item.sku.list.get`,
//! `item.sku.stock.update`, `order.cursor.list`, `order.detail`, `seller.order.goods.deliver`),
//! each checked with `providers::live::kuaishou::protocol`; pushes encrypted with the message
//! key on the platform's schedule (5, 10, 20, 30, 60 minutes, compressed by `retry_scale`).
//!
//! Routes under `/sandbox/kuaishou`: `GET|POST /oauth/authorize`, `GET /oauth2/access_token`,
//! `POST /oauth2/refresh_token`, `GET|POST /open/{method path}`, and for tests and the demo
//! `POST /items/{id}/buy`, `POST /orders/{id}/cancel`,
//! after-sales `POST /orders/{id}/refund` and `…/refund/agree`, `POST /orders/{id}/complete`,
//! `POST /grants/revoke`, `POST /push/heartbeat` (one `test: true` push), `GET /items/{id}`.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use engine::time::Clock;
use engine::{Fen, Timestamp};
use providers::live::kuaishou::protocol::{self, ApiError, TokenAnswer, codes, events};
use providers::live::{OrderStatus, PushKind, StockMove};
use serde::Deserialize;
use serde_json::{Value, json};

use super::douyin::{BuyBody, RevokeBody, fan_outcome, item_json};
use super::{GrantRecord, Item, Order, PushWire, Refusal, Shop, ShopSettings, Sku, TokenPolicy, pages};

/// Delays between push attempts, seconds: 5, 10, 20, 30 and 60 minutes.
pub const KUAISHOU_RETRY_SECS: [u64; 5] = [300, 600, 1_200, 1_800, 3_600];

/// The app the sandbox knows.
#[derive(Clone)]
pub struct KuaishouApp {
    pub app_key: String,
    pub app_secret: String,
    pub sign_secret: String,
    /// Base64 of 32 random bytes.
    pub message_key: String,
}

impl KuaishouApp {
    /// A fresh app: `ks` + digits, secrets, and a 32-byte message key.
    pub fn generate() -> Self {
        use base64::Engine as _;
        use rand::Rng as _;
        let digits: u64 = rand::rng().random_range(100_000_000_000_000_000..999_999_999_999_999_999);
        let key: [u8; 32] = rand::rng().random();
        Self {
            app_key: format!("ks{digits}"),
            app_secret: super::random_text(22),
            sign_secret: super::random_text(32),
            message_key: base64::engine::general_purpose::STANDARD.encode(key),
        }
    }
}

pub struct KuaishouWire {
    app_key: String,
    message_key: String,
}

fn wire_status(status: OrderStatus) -> i64 {
    match status {
        OrderStatus::Unpaid => 10,
        OrderStatus::Paid => 30,
        OrderStatus::Shipped => 40,
        OrderStatus::Completed => 70,
        OrderStatus::Cancelled => 80,
    }
}

impl PushWire for KuaishouWire {
    fn push(
        &self,
        order: &Order,
        kind: PushKind,
        message_id: &str,
        now: Timestamp,
    ) -> (Vec<(String, String)>, String) {
        let event = match kind {
            PushKind::OrderCreated => events::ADD_ORDER,
            PushKind::OrderPaid => events::PAY_SUCCESS,
            PushKind::OrderShipped | PushKind::OrderCompleted | PushKind::OrderCancelled => {
                events::STATUS_CHANGE
            }
            PushKind::RefundRequested => events::ADD_REFUND,
            PushKind::RefundAgreed => events::REFUND_SUCCESS,
        };
        let status = match kind {
            PushKind::OrderCreated => 10,
            PushKind::OrderPaid => 30,
            _ => wire_status(order.status),
        };
        let info = json!({"oid": order.order_id, "openId": order.shop_id, "status": status, "updateTime": now.as_millis()});
        let message = json!({
            "eventId": message_id, "bizId": order.order_id, "userId": 0, "openId": order.shop_id,
            "appKey": self.app_key, "event": event, "info": info.to_string(), "createTime": now.as_millis(), "test": false,
        });
        let body = protocol::encrypt_push(&self.message_key, message.to_string().as_bytes())
            .expect("the sandbox's key is valid");
        (Vec::new(), body)
    }

    fn content_type(&self) -> &'static str {
        "text/plain;charset=UTF-8"
    }

    fn acknowledged(&self, status: u16, body: &str) -> bool {
        status == 200 && serde_json::from_str::<Value>(body).is_ok_and(|v| v["result"] == 1)
    }

    fn retry_secs(&self) -> &'static [u64] {
        &KUAISHOU_RETRY_SECS
    }

    fn heartbeat(&self, now: Timestamp) -> Option<(Vec<(String, String)>, String)> {
        let message = json!({
            "eventId": format!("test-{}", now.as_millis()), "bizId": 0, "userId": 0, "openId": "",
            "appKey": self.app_key, "event": "kwaishop_test", "info": "{}", "createTime": now.as_millis(), "test": true,
        });
        let body = protocol::encrypt_push(&self.message_key, message.to_string().as_bytes()).ok()?;
        Some((Vec::new(), body))
    }
}

pub struct KuaishouSandbox {
    pub app: KuaishouApp,
    pub shop: Arc<Shop<KuaishouWire>>,
    /// The receivers' ciphers handed out in orders, for `open.order.decrypt.batch`.
    pub ciphers: super::Ciphers,
}

impl KuaishouSandbox {
    pub fn new(app: KuaishouApp, settings: ShopSettings, clock: Arc<dyn Clock>) -> Result<Self, String> {
        protocol::encrypt_push(&app.message_key, b"")?;
        let policy = TokenPolicy {
            access_secs: protocol::ACCESS_TOKEN_SECS,
            refresh_secs: protocol::REFRESH_TOKEN_SECS,
            refresh_keeps_expiry: true,
        };
        let wire = KuaishouWire { app_key: app.app_key.clone(), message_key: app.message_key.clone() };
        Ok(Self {
            app,
            shop: Arc::new(Shop::new(settings, policy, wire, clock)),
            ciphers: super::Ciphers::default(),
        })
    }

    fn token_answer(&self, outcome: Result<GrantRecord, Refusal>) -> TokenAnswer {
        let now = self.shop.now();
        match outcome {
            Ok(g) => TokenAnswer {
                result: protocol::RESULT_OK,
                access_token: g.access_token,
                expires_in: super::seconds_left(g.access_expires_at, now),
                refresh_token: g.refresh_token,
                refresh_token_expires_in: super::seconds_left(g.refresh_expires_at, now),
                open_id: g.shop_id,
                scopes: vec!["merchant_item".into(), "merchant_order".into(), "merchant_logistics".into()],
                ..TokenAnswer::default()
            },
            Err(Refusal::Grant(message)) => TokenAnswer {
                result: codes::GRANT_REVOKED,
                error: codes::INVALID_GRANT.into(),
                error_msg: message.into(),
                ..TokenAnswer::default()
            },
            Err(other) => TokenAnswer {
                result: codes::BAD_PARAMETER,
                error: "invalid_request".into(),
                error_msg: format!("{other:?}"),
                ..TokenAnswer::default()
            },
        }
    }

    fn app_checked(&self, params: &[(String, String)], grant_type: &str) -> Result<(), Box<TokenAnswer>> {
        let get = |n: &str| params.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        if get("app_id") != Some(self.app.app_key.as_str())
            || get("app_secret") != Some(self.app.app_secret.as_str())
        {
            return Err(Box::new(TokenAnswer {
                result: codes::UNKNOWN_APP,
                error: "invalid_client".into(),
                error_msg: "app_id 或 app_secret 错误".into(),
                ..TokenAnswer::default()
            }));
        }
        if get("grant_type") != Some(grant_type) {
            return Err(Box::new(TokenAnswer {
                result: codes::BAD_PARAMETER,
                error: "unsupported_grant_type".into(),
                error_msg: format!("grant_type 应为 {grant_type}"),
                ..TokenAnswer::default()
            }));
        }
        Ok(())
    }

    /// `GET /oauth2/access_token`.
    pub fn access_token(&self, params: &[(String, String)]) -> TokenAnswer {
        if let Err(refused) = self.app_checked(params, "code") {
            return *refused;
        }
        let code = params.iter().find(|(k, _)| k == "code").map(|(_, v)| v.as_str()).unwrap_or_default();
        self.token_answer(self.shop.exchange(code))
    }

    /// `POST /oauth2/refresh_token`.
    pub fn refresh_token(&self, params: &[(String, String)]) -> TokenAnswer {
        if let Err(refused) = self.app_checked(params, "refresh_token") {
            return *refused;
        }
        let token =
            params.iter().find(|(k, _)| k == "refresh_token").map(|(_, v)| v.as_str()).unwrap_or_default();
        self.token_answer(self.shop.refresh(token))
    }

    /// One API call as the platform answers it (always HTTP 200).
    pub fn call(&self, path: &str, params: &[(String, String)]) -> Value {
        protocol::answer_json(&self.answer(path, params))
    }

    fn answer(&self, path: &str, params: &[(String, String)]) -> Result<Value, ApiError> {
        let call = protocol::verify_call(params, &self.app.app_key, &self.app.sign_secret, self.shop.now())?;
        if protocol::method_path(&call.method) != format!("/open/{}", path.trim_start_matches('/')) {
            return Err(ApiError::new(codes::BAD_PARAMETER, "method 与路径不符"));
        }
        let shop_id = self.shop.shop_of(&call.access_token).map_err(refusal)?;
        self.business(&call.method, &shop_id, &call.param)
    }

    fn business(&self, method: &str, shop_id: &str, p: &Value) -> Result<Value, ApiError> {
        let shop = &self.shop;
        match method {
            "open.item.new" => {
                let skus = sku_list(p)?
                    .iter()
                    .map(|s| {
                        Ok(Sku {
                            sku_id: 0,
                            out_sku_id: int(&s["relSkuId"]).ok_or_else(|| bad("relSkuId"))?,
                            name: s["skuNick"].as_str().unwrap_or_default().to_owned(),
                            price_fen: Fen(int(&s["skuSalePrice"]).ok_or_else(|| bad("skuSalePrice"))?),
                            stock: u32::try_from(int(&s["skuStock"]).unwrap_or(0))
                                .map_err(|_| bad("skuStock"))?,
                        })
                    })
                    .collect::<Result<Vec<_>, ApiError>>()?;
                let item = Item {
                    item_id: 0,
                    shop_id: shop_id.to_owned(),
                    out_item_id: int(&p["relItemId"]).ok_or_else(|| bad("relItemId"))?,
                    title: p["title"].as_str().ok_or_else(|| bad("title"))?.to_owned(),
                    description: p["details"].as_str().unwrap_or_default().to_owned(),
                    skus,
                };
                let item = shop.create_item(item).map_err(refusal)?;
                let skus: Vec<Value> = item
                    .skus
                    .iter()
                    .map(|s| json!({"kwaiSkuId": s.sku_id, "relSkuId": s.out_sku_id}))
                    .collect();
                Ok(json!({"itemId": item.item_id, "relItemId": item.out_item_id, "skuList": skus}))
            }
            "open.item.edit" => {
                let item_id = uint(&p["itemId"]).ok_or_else(|| bad("itemId"))?;
                let prices = sku_list(p)?
                    .iter()
                    .map(|s| Some((int(&s["relSkuId"])?, Fen(int(&s["skuSalePrice"])?))))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| bad("skuList"))?;
                let title = p["title"].as_str().ok_or_else(|| bad("title"))?;
                let details = p["details"].as_str().unwrap_or_default();
                shop.update_item(shop_id, item_id, title, details, &prices).map_err(refusal)?;
                Ok(json!({}))
            }
            "open.item.sku.list.get" => {
                let item_id = uint(&p["kwaiItemId"]).ok_or_else(|| bad("kwaiItemId"))?;
                let item = shop
                    .item(item_id)
                    .filter(|i| i.shop_id == shop_id)
                    .ok_or_else(|| ApiError::new(codes::BUSINESS, "商品不存在"))?;
                let skus: Vec<Value> = item
                    .skus
                    .iter()
                    .map(|s| json!({"kwaiSkuId": s.sku_id, "relSkuId": s.out_sku_id, "skuStock": s.stock, "skuSalePrice": s.price_fen.as_i64()}))
                    .collect();
                Ok(json!({"skuList": skus}))
            }
            "open.item.sku.stock.update" => {
                let item_id = uint(&p["kwaiItemId"]).ok_or_else(|| bad("kwaiItemId"))?;
                let sku_id = uint(&p["skuId"]).ok_or_else(|| bad("skuId"))?;
                let amount = int(&p["skuChangeStock"])
                    .filter(|n| (1..9_999_999).contains(n))
                    .ok_or_else(|| bad("skuChangeStock"))?;
                let delta = match int(&p["changeType"]) {
                    Some(1) => amount,
                    Some(2) => -amount,
                    _ => return Err(bad("changeType")),
                };
                shop.change_stock(shop_id, item_id, sku_id, StockMove::By(delta), None).map_err(refusal)?;
                Ok(json!({}))
            }
            "open.order.cursor.list" => {
                let size = uint(&p["pageSize"]).unwrap_or(50).clamp(1, 50) as usize;
                let offset: usize = p["cursor"]
                    .as_str()
                    .filter(|c| !c.is_empty())
                    .map_or(Ok(0), str::parse)
                    .map_err(|_| bad("cursor"))?;
                let since = Timestamp(int(&p["beginTime"]).unwrap_or(0));
                let until = Timestamp(int(&p["endTime"]).unwrap_or(i64::MAX));
                let (orders, total) = shop.orders(shop_id, since, until, offset, size);
                let next = offset + orders.len();
                let cursor = if next >= total { "nomore".to_owned() } else { next.to_string() };
                let list: Vec<Value> = orders.iter().map(|o| order_json(o, &self.ciphers)).collect();
                Ok(json!({"cursor": cursor, "orderList": list}))
            }
            "open.order.detail" => {
                let order_id = uint(&p["oid"]).ok_or_else(|| bad("oid"))?;
                let order = shop
                    .order(shop_id, order_id)
                    .ok_or_else(|| ApiError::new(codes::BUSINESS, "订单不存在"))?;
                Ok(order_json(&order, &self.ciphers))
            }
            "open.order.decrypt.batch" => {
                let items = p["batchDecryptList"].as_array().ok_or_else(|| bad("batchDecryptList"))?;
                if items.is_empty() || items.len() > protocol::DECRYPT_BATCH {
                    return Err(bad("batchDecryptList: 1 to 100 items"));
                }
                let mut results = Vec::with_capacity(items.len());
                for item in items {
                    let biz_id = uint(&item["bizId"])
                        .or_else(|| item["bizId"].as_str().and_then(|s| s.parse().ok()))
                        .ok_or_else(|| bad("bizId"))?;
                    let cipher = item["encryptedData"].as_str().ok_or_else(|| bad("encryptedData"))?;
                    // Only the shop's own orders, and only a cipher of the order named.
                    let plain = shop.order(shop_id, biz_id).and_then(|_| self.ciphers.open(biz_id, cipher));
                    results.push(match plain {
                        Some(plain) => json!({"bizId": biz_id.to_string(), "encryptedData": cipher,
                            "decryptedData": plain, "errorCode": protocol::DECRYPTED, "errorMsg": ""}),
                        None => json!({"bizId": biz_id.to_string(), "encryptedData": cipher,
                            "decryptedData": null, "errorCode": DECRYPT_REFUSED, "errorMsg": "解密失败"}),
                    });
                }
                Ok(json!({"batchDecryptResultList": results}))
            }
            "open.seller.order.goods.deliver" => {
                let order_id = uint(&p["orderId"]).ok_or_else(|| bad("orderId"))?;
                let company = int(&p["expressCode"]).ok_or_else(|| bad("expressCode"))?.to_string();
                let waybill = p["expressNo"].as_str().unwrap_or_default();
                shop.ship(shop_id, order_id, &company, waybill).map_err(refusal)?;
                Ok(json!({}))
            }
            other => Err(ApiError::new(codes::BAD_PARAMETER, format!("沙箱不提供 {other}"))),
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
    ApiError::new(codes::BAD_PARAMETER, format!("{field} 缺失或无效"))
}

fn int(value: &Value) -> Option<i64> {
    value.as_i64().or_else(|| value.as_str()?.parse().ok())
}

fn uint(value: &Value) -> Option<u64> {
    int(value).and_then(|n| u64::try_from(n).ok())
}

fn sku_list(p: &Value) -> Result<Vec<Value>, ApiError> {
    match &p["skuList"] {
        Value::Array(items) if !items.is_empty() && items.len() <= 600 => Ok(items.clone()),
        _ => Err(bad("skuList")),
    }
}

/// `errorCode` of a cipher the sandbox will not decrypt (chosen: the platform's is not confirmed).
const DECRYPT_REFUSED: i64 = 2;

fn order_json(order: &Order, ciphers: &super::Ciphers) -> Value {
    let id = order.order_id;
    let detail = format!("文三路{}号", id % 1000);
    json!({
        "orderBaseInfo": {
            "oid": order.order_id, "sellerOpenId": order.shop_id, "status": wire_status(order.status),
            "createTime": order.created_at.as_millis(), "payTime": order.paid_at.map_or(0, Timestamp::as_millis),
            "updateTime": order.updated_at.as_millis(), "totalFee": order.amount_fen.as_i64(),
        },
        "orderItemInfo": {"itemId": order.item_id, "skuId": order.sku_id, "num": order.quantity},
        // The receiver as the platform gives it: masked, and encrypted for open.order.decrypt.batch.
        "orderAddress": {
            "consignee": null, "mobile": null, "address": null,
            "desensitiseConsignee": "快**", "desensitiseMobile": "139****9000", "desensitiseAddress": "文三路***",
            "encryptedConsignee": ciphers.seal(id, "consignee", "快手买家"),
            "encryptedMobile": ciphers.seal(id, "mobile", "13900139000"),
            "encryptedAddress": ciphers.seal(id, "address", &detail),
            "province": "浙江省", "city": "杭州市", "district": "西湖区",
        },
        "orderLogisticsInfo": order.waybill.iter().map(|(code, waybill)| json!({
            "expressNo": waybill, "expressCode": code.parse::<i64>().unwrap_or(9999), "logisticsId": id,
        })).collect::<Vec<_>>(),
    })
}

fn off() -> HttpResponse {
    HttpResponse::NotFound()
        .json(json!({"error": {"code": "not_found", "message": "the kuaishou sandbox is not served here"}}))
}

fn query_pairs(request: &HttpRequest) -> Vec<(String, String)> {
    serde_urlencoded::from_str(request.query_string()).unwrap_or_default()
}

/// The query string's parameters and, for a form body, the form's.
fn all_pairs(request: &HttpRequest, body: &[u8]) -> Vec<(String, String)> {
    let mut pairs = query_pairs(request);
    let form = request
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if form || (!body.is_empty() && !body.starts_with(b"{")) {
        pairs.extend(serde_urlencoded::from_bytes::<Vec<(String, String)>>(body).unwrap_or_default());
    }
    pairs
}

async fn api(
    sandbox: Option<web::Data<KuaishouSandbox>>,
    request: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let Some(sandbox) = sandbox else { return off() };
    if sandbox.shop.is_down(&path) {
        return HttpResponse::ServiceUnavailable().finish();
    }
    HttpResponse::Ok().json(sandbox.call(&path, &all_pairs(&request, &body)))
}

async fn access_token(
    sandbox: Option<web::Data<KuaishouSandbox>>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let Some(sandbox) = sandbox else { return off() };
    HttpResponse::Ok().json(sandbox.access_token(&all_pairs(&request, &body)))
}

async fn refresh_token(
    sandbox: Option<web::Data<KuaishouSandbox>>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let Some(sandbox) = sandbox else { return off() };
    HttpResponse::Ok().json(sandbox.refresh_token(&all_pairs(&request, &body)))
}

async fn consent_page(sandbox: Option<web::Data<KuaishouSandbox>>, request: HttpRequest) -> HttpResponse {
    let Some(sandbox) = sandbox else { return off() };
    let query = query_pairs(&request);
    let get = |n: &str| query.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str()).unwrap_or_default();
    if get("app_id") != sandbox.app.app_key
        || get("response_type") != "code"
        || !pages::acceptable_redirect(get("redirect_uri"))
    {
        return pages::refused("app_id, response_type=code and an http(s) redirect_uri are needed");
    }
    let action = request.path().to_owned();
    pages::consent(
        "快手小店",
        &sandbox.app.app_key,
        get("scope"),
        &action,
        &[("redirect_uri", get("redirect_uri")), ("state", get("state"))],
    )
}

#[derive(Deserialize)]
struct ConsentForm {
    redirect_uri: String,
    state: String,
    shop_name: String,
}

async fn consent(sandbox: Option<web::Data<KuaishouSandbox>>, form: web::Form<ConsentForm>) -> HttpResponse {
    let Some(sandbox) = sandbox else { return off() };
    let name = form.shop_name.trim();
    if name.is_empty() || name.chars().count() > 40 || !pages::acceptable_redirect(&form.redirect_uri) {
        return pages::refused("a shop name of at most 40 characters and an http(s) redirect_uri are needed");
    }
    let code = sandbox.shop.consent(name);
    pages::redirect(&form.redirect_uri, &code, &form.state)
}

async fn buy(
    sandbox: Option<web::Data<KuaishouSandbox>>,
    path: web::Path<u64>,
    body: web::Json<BuyBody>,
) -> HttpResponse {
    let Some(sandbox) = sandbox else { return off() };
    let sku = body.sku_id.as_ref().and_then(uint);
    fan_outcome(sandbox.shop.buy(path.into_inner(), sku, body.quantity, body.pay))
}

/// `POST /sandbox/kuaishou/orders/{id}/refund`: the buyer asks for a refund (after-sales).
async fn refund(sandbox: Option<web::Data<KuaishouSandbox>>, path: web::Path<u64>) -> HttpResponse {
    let Some(sandbox) = sandbox else { return off() };
    fan_outcome(sandbox.shop.after_sale(path.into_inner(), false))
}

/// `POST /sandbox/kuaishou/orders/{id}/ship {company, waybill}`: the merchant ships in the
/// platform's own console (the courier in the platform's code); the order then lists it.
async fn ship_in_console(
    sandbox: Option<web::Data<KuaishouSandbox>>,
    path: web::Path<u64>,
    body: web::Json<super::douyin::ConsoleShipment>,
) -> HttpResponse {
    let Some(sandbox) = sandbox else { return off() };
    fan_outcome(sandbox.shop.ship_in_console(path.into_inner(), &body.company, &body.waybill))
}

/// `POST /sandbox/kuaishou/orders/{id}/refund/agree`: the merchant agrees on the platform.
async fn agree_refund(sandbox: Option<web::Data<KuaishouSandbox>>, path: web::Path<u64>) -> HttpResponse {
    let Some(sandbox) = sandbox else { return off() };
    fan_outcome(sandbox.shop.after_sale(path.into_inner(), true))
}

/// `POST /sandbox/kuaishou/orders/{id}/complete`: the buyer confirms receipt.
async fn complete(sandbox: Option<web::Data<KuaishouSandbox>>, path: web::Path<u64>) -> HttpResponse {
    let Some(sandbox) = sandbox else { return off() };
    fan_outcome(sandbox.shop.complete(path.into_inner()))
}

async fn cancel(sandbox: Option<web::Data<KuaishouSandbox>>, path: web::Path<u64>) -> HttpResponse {
    let Some(sandbox) = sandbox else { return off() };
    fan_outcome(sandbox.shop.cancel(path.into_inner()))
}

async fn revoke(sandbox: Option<web::Data<KuaishouSandbox>>, body: web::Json<RevokeBody>) -> HttpResponse {
    let Some(sandbox) = sandbox else { return off() };
    HttpResponse::Ok().json(json!({"revoked": sandbox.shop.revoke(body.shop_id.as_deref())}))
}

/// `POST /sandbox/kuaishou/push/heartbeat`: sends one `test: true` push now.
async fn heartbeat(sandbox: Option<web::Data<KuaishouSandbox>>) -> HttpResponse {
    let Some(sandbox) = sandbox else { return off() };
    HttpResponse::Ok().json(json!({"acknowledged": sandbox.shop.heartbeat().await}))
}

async fn show_item(sandbox: Option<web::Data<KuaishouSandbox>>, path: web::Path<u64>) -> HttpResponse {
    let Some(sandbox) = sandbox else { return off() };
    item_json(sandbox.shop.item(path.into_inner()))
}

/// Mounts the Kuaishou sandbox (inside `/sandbox`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/kuaishou/oauth/authorize", web::get().to(consent_page))
        .route("/kuaishou/oauth/authorize", web::post().to(consent))
        .route("/kuaishou/oauth2/access_token", web::get().to(access_token))
        .route("/kuaishou/oauth2/access_token", web::post().to(access_token))
        .route("/kuaishou/oauth2/refresh_token", web::post().to(refresh_token))
        .service(
            web::resource("/kuaishou/items/{id}/buy")
                .app_data(pages::json_config())
                .route(web::post().to(buy)),
        )
        .route("/kuaishou/items/{id}", web::get().to(show_item))
        .route("/kuaishou/orders/{id}/cancel", web::post().to(cancel))
        .route("/kuaishou/orders/{id}/refund", web::post().to(refund))
        .route("/kuaishou/orders/{id}/refund/agree", web::post().to(agree_refund))
        .route("/kuaishou/orders/{id}/ship", web::post().to(ship_in_console))
        .route("/kuaishou/orders/{id}/complete", web::post().to(complete))
        .service(
            web::resource("/kuaishou/grants/revoke")
                .app_data(pages::json_config())
                .route(web::post().to(revoke)),
        )
        .route("/kuaishou/push/heartbeat", web::post().to(heartbeat))
        .route("/kuaishou/open/{method:.+}", web::post().to(api))
        .route("/kuaishou/open/{method:.+}", web::get().to(api));
}

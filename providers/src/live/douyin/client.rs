//! [`DouyinShop`]: the Douyin shop open platform behind [`LivePlatform`]. Every call is a
//! signed POST to `{gateway}/{method with '.' → '/'}` with the system parameters in the query
//! string and `param_json` as the body, answered by the `{code, msg, sub_code, data}` envelope;
//! the signing time comes from the injected clock.

use std::collections::HashMap;
use std::sync::Arc;

use engine::Timestamp;
use engine::time::Clock;
use serde_json::{Value, json};

use super::protocol::{self, CipherInfo, DecryptInfo, Envelope, OrderWire, TokenData, codes};
use crate::live::{
    Grant, ItemRef, ItemSpec, LiveError, LiveFuture, LivePlatform, OrderPage, PUSH_MAX_AGE_MS, Platform,
    PlatformOrder, Push, PushRefused, Shipment, StockChange, StockMove,
};

/// Orders asked for per `order.searchList` page.
const PAGE_SIZE: u64 = 100;

/// Where and as which app to call. `Debug` is not derived: it would print the secret.
#[derive(Clone)]
pub struct DouyinShopConfig {
    /// `https://openapi-fxg.jinritemai.com`, or the sandbox's `…/sandbox/douyin`.
    pub gateway: String,
    /// The service market's authorize page (`https://fuwu.jinritemai.com/authorize`), or the
    /// sandbox's consent page.
    pub authorize_url: String,
    /// The app's service in the service market (`service_id` of the authorize URL).
    pub service_id: String,
    pub app_key: String,
    pub app_secret: String,
}

/// A signed call as the client sends it: exposed so tests can compare it with another signer.
#[derive(Debug, Clone)]
pub struct PreparedCall {
    pub url: String,
    pub query: Vec<(&'static str, String)>,
    pub body: String,
}

pub struct DouyinShop {
    http: reqwest::Client,
    config: DouyinShopConfig,
    clock: Arc<dyn Clock>,
}

fn refused(envelope: &Envelope) -> LiveError {
    let code =
        if envelope.sub_code.is_empty() { envelope.code.to_string() } else { envelope.sub_code.clone() };
    let message = if envelope.sub_msg.is_empty() { envelope.msg.clone() } else { envelope.sub_msg.clone() };
    if envelope.sub_code == codes::GRANT_REVOKED.1 {
        LiveError::Revoked { code, message }
    } else if envelope.sub_code == codes::ACCESS_TOKEN.1 {
        LiveError::Unauthorized { code, message }
    } else {
        LiveError::Refused { code, message }
    }
}

fn bad(what: &str) -> impl Fn(serde_json::Error) -> LiveError + '_ {
    move |e| LiveError::BadAnswer(format!("{what}: {e}"))
}

impl DouyinShop {
    /// The receivers' encrypted fields of `wires`, decrypted by `order.batchDecrypt` in calls
    /// of at most [`protocol::DECRYPT_BATCH`]: cipher → plain text. A cipher the platform
    /// would not decrypt, or a call that failed, leaves its order without a receiver (logged)
    /// rather than holding the order itself back: its units and its money do not wait on it.
    async fn decrypt(&self, access_token: &str, wires: &[OrderWire]) -> HashMap<String, String> {
        let infos: Vec<CipherInfo> = wires
            .iter()
            .flat_map(|w| {
                w.ciphers()
                    .into_iter()
                    .map(|c| CipherInfo { auth_id: w.order_id.clone(), cipher_text: c.to_owned() })
            })
            .collect();
        let mut plain = HashMap::with_capacity(infos.len());
        for chunk in infos.chunks(protocol::DECRYPT_BATCH) {
            let answer =
                self.call("order.batchDecrypt", json!({"cipher_infos": chunk}), Some(access_token)).await;
            let decrypted = answer.and_then(|data| {
                serde_json::from_value::<Vec<DecryptInfo>>(data["decrypt_infos"].clone())
                    .map_err(bad("decrypt_infos"))
            });
            match decrypted {
                Ok(infos) => {
                    for info in infos {
                        if info.err_no == 0 && !info.decrypt_text.is_empty() {
                            plain.insert(info.cipher_text, info.decrypt_text);
                        } else {
                            tracing::warn!(order = %info.auth_id, err_no = info.err_no, err_msg = %info.err_msg,
                                "douyin would not decrypt a receiver field");
                        }
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "douyin order.batchDecrypt failed; receivers left unread")
                }
            }
        }
        plain
    }

    pub fn new(
        config: DouyinShopConfig,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, String> {
        reqwest::Url::parse(&config.gateway)
            .map_err(|e| format!("douyin gateway {:?}: {e}", config.gateway))?;
        for (name, value) in [("app_key", &config.app_key), ("app_secret", &config.app_secret)] {
            if value.trim().is_empty() {
                return Err(format!("douyin.{name} is empty"));
            }
        }
        Ok(Self { http, config, clock })
    }

    /// The signed call of `method` with `params` at `at`.
    pub fn prepare(
        &self,
        method: &str,
        params: &Value,
        access_token: Option<&str>,
        at: Timestamp,
    ) -> PreparedCall {
        let body = protocol::param_json(params);
        let timestamp = protocol::beijing_time(at);
        let c = &self.config;
        let query =
            protocol::signed_query(&c.app_key, &c.app_secret, method, &body, &timestamp, access_token);
        let url = format!("{}{}", c.gateway.trim_end_matches('/'), protocol::method_path(method));
        PreparedCall { url, query, body }
    }

    async fn call(
        &self,
        method: &str,
        params: Value,
        access_token: Option<&str>,
    ) -> Result<Value, LiveError> {
        let prepared = self.prepare(method, &params, access_token, self.clock.now());
        let response = self
            .http
            .post(&prepared.url)
            .query(&prepared.query)
            .header("Content-Type", "application/json")
            .body(prepared.body)
            .send()
            .await
            .map_err(|e| LiveError::Transport(e.without_url().to_string()))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| LiveError::Transport(e.without_url().to_string()))?;
        if !status.is_success() {
            return Err(LiveError::Transport(format!("http status {status}")));
        }
        let envelope: Envelope = serde_json::from_slice(&body).map_err(bad("not a douyin answer"))?;
        if envelope.code != protocol::CODE_OK {
            return Err(refused(&envelope));
        }
        Ok(envelope.data)
    }

    fn grant(&self, data: Value) -> Result<Grant, LiveError> {
        let token: TokenData = serde_json::from_value(data).map_err(bad("token data"))?;
        let now = self.clock.now();
        Ok(Grant {
            access_token: token.access_token,
            refresh_token: token.refresh_token,
            access_expires_at: now.plus_millis(token.expires_in.saturating_mul(1_000)),
            refresh_expires_at: now.plus_millis(protocol::REFRESH_TOKEN_SECS * 1_000),
            shop_id: token.shop_id,
            shop_name: token.shop_name,
            scopes: token.scope.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
        })
    }

    /// `spec_prices`, a JSON string in `product.addV2` / `product.editV2`.
    fn spec_prices(item: &ItemSpec, with_stock: bool) -> String {
        let skus: Vec<Value> = item
            .skus
            .iter()
            .map(|s| {
                let mut sku = json!({"out_sku_id": s.out_sku_id, "price": s.price_fen.as_i64(), "spec_detail_name1": s.name});
                if with_stock {
                    sku["stock_num"] = json!(s.stock);
                }
                sku
            })
            .collect();
        Value::Array(skus).to_string()
    }

    fn item_ref(data: &Value) -> Result<ItemRef, LiveError> {
        let id = |v: &Value| v.as_str().map(str::to_owned).or_else(|| v.as_i64().map(|n| n.to_string()));
        let item_id = id(&data["product_id"]).ok_or_else(|| LiveError::BadAnswer("no product_id".into()))?;
        let skus = data["sku"]
            .as_array()
            .ok_or_else(|| LiveError::BadAnswer("no sku list".into()))?
            .iter()
            .map(|s| {
                let ours = s["out_sku_id"].as_i64().or_else(|| s["out_sku_id"].as_str()?.parse().ok());
                Some((ours?, id(&s["sku_id"])?))
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| LiveError::BadAnswer("a sku without ids".into()))?;
        Ok(ItemRef { item_id, skus })
    }
}

impl LivePlatform for DouyinShop {
    fn platform(&self) -> Platform {
        Platform::Douyin
    }

    /// Douyin's authorize URL carries no redirect URI: the service market sends the merchant
    /// to the callback registered for the service, so `redirect_uri` is not part of it.
    fn authorize_url(&self, state: &str, _redirect_uri: &str) -> String {
        let query =
            serde_urlencoded::to_string([("service_id", self.config.service_id.as_str()), ("state", state)])
                .expect("strings encode");
        format!("{}?{query}", self.config.authorize_url)
    }

    fn exchange_code<'a>(&'a self, code: &'a str) -> LiveFuture<'a, Grant> {
        Box::pin(async move {
            let data = self
                .call("token.create", json!({"code": code, "grant_type": "authorization_code"}), None)
                .await?;
            self.grant(data)
        })
    }

    fn refresh<'a>(&'a self, grant: &'a Grant) -> LiveFuture<'a, Grant> {
        Box::pin(async move {
            let params = json!({"refresh_token": grant.refresh_token, "grant_type": "refresh_token"});
            let data = self.call("token.refresh", params, None).await?;
            self.grant(data)
        })
    }

    fn create_item<'a>(&'a self, access_token: &'a str, item: &'a ItemSpec) -> LiveFuture<'a, ItemRef> {
        Box::pin(async move {
            let names: Vec<&str> = item.skus.iter().map(|s| s.name.as_str()).collect();
            let params = json!({
                "name": item.title,
                "description": item.description,
                "out_product_id": item.out_item_id,
                "specs": format!("规格|{}", names.join(",")),
                "spec_prices": Self::spec_prices(item, true),
                "pay_type": 1,
                "commit": true,
            });
            let data = self.call("product.addV2", params, Some(access_token)).await?;
            Self::item_ref(&data)
        })
    }

    fn update_item<'a>(
        &'a self,
        access_token: &'a str,
        item: &'a ItemRef,
        spec: &'a ItemSpec,
    ) -> LiveFuture<'a, ()> {
        Box::pin(async move {
            let params = json!({
                "product_id": item.item_id,
                "name": spec.title,
                "description": spec.description,
                "spec_prices": Self::spec_prices(spec, false),
                "commit": true,
            });
            self.call("product.editV2", params, Some(access_token)).await.map(|_| ())
        })
    }

    fn change_stock<'a>(&'a self, access_token: &'a str, change: &'a StockChange) -> LiveFuture<'a, ()> {
        Box::pin(async move {
            let (incremental, stock_num) = match change.change {
                StockMove::Set(stock) => (false, i64::from(stock)),
                StockMove::By(delta) => (true, delta),
            };
            let params = json!({
                "product_id": change.item_id,
                "sku_id": change.sku_id,
                "stock_num": stock_num,
                "incremental": incremental,
                "idempotent_id": change.idempotency_key,
            });
            self.call("sku.syncStock", params, Some(access_token)).await.map(|_| ())
        })
    }

    fn orders<'a>(
        &'a self,
        access_token: &'a str,
        since: Timestamp,
        until: Timestamp,
        page: Option<&'a str>,
    ) -> LiveFuture<'a, OrderPage> {
        Box::pin(async move {
            let page: u64 =
                page.map_or(Ok(0), str::parse).map_err(|_| LiveError::BadAnswer("page cursor".into()))?;
            let params = json!({
                "page": page,
                "size": PAGE_SIZE,
                "update_time_start": since.as_millis().div_euclid(1_000),
                "update_time_end": until.as_millis().div_euclid(1_000),
                "order_by": "update_time",
                "order_asc": true,
            });
            let data = self.call("order.searchList", params, Some(access_token)).await?;
            let wires: Vec<OrderWire> =
                serde_json::from_value(data["shop_order_list"].clone()).map_err(bad("shop_order_list"))?;
            let plain = self.decrypt(access_token, &wires).await;
            let orders = wires
                .iter()
                .map(|w| w.to_order(&|cipher| plain.get(cipher).cloned()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(LiveError::BadAnswer)?;
            let total = data["total"].as_u64().unwrap_or(0);
            let next = ((page + 1) * PAGE_SIZE < total).then(|| (page + 1).to_string());
            Ok(OrderPage { orders, next })
        })
    }

    fn order<'a>(&'a self, access_token: &'a str, order_id: &'a str) -> LiveFuture<'a, PlatformOrder> {
        Box::pin(async move {
            let data = self
                .call("order.orderDetail", json!({"shop_order_id": order_id}), Some(access_token))
                .await?;
            let wire: OrderWire = serde_json::from_value(data["shop_order_detail"].clone())
                .map_err(bad("shop_order_detail"))?;
            let plain = self.decrypt(access_token, std::slice::from_ref(&wire)).await;
            wire.to_order(&|cipher| plain.get(cipher).cloned()).map_err(LiveError::BadAnswer)
        })
    }

    fn ship<'a>(&'a self, access_token: &'a str, shipment: &'a Shipment) -> LiveFuture<'a, ()> {
        Box::pin(async move {
            let params = json!({
                "order_id": shipment.order_id,
                "company_code": shipment.company_code,
                "logistics_code": shipment.waybill_no,
            });
            self.call("order.logisticsAdd", params, Some(access_token)).await.map(|_| ())
        })
    }

    fn open_push(
        &self,
        header: &dyn Fn(&str) -> Option<String>,
        body: &[u8],
        now: Timestamp,
    ) -> Result<Push, PushRefused> {
        protocol::open_push(&self.config.app_key, &self.config.app_secret, header, body, now, PUSH_MAX_AGE_MS)
    }

    fn push_ack(&self) -> &'static str {
        protocol::PUSH_ACK
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Stopped;

    impl Clock for Stopped {
        fn now(&self) -> Timestamp {
            Timestamp(1_795_651_200_000)
        }
    }

    fn shop(gateway: &str) -> DouyinShop {
        DouyinShop::new(
            DouyinShopConfig {
                gateway: gateway.into(),
                authorize_url: "https://fuwu.jinritemai.com/authorize".into(),
                service_id: "26".into(),
                app_key: "7152331588175513100".into(),
                app_secret: "a1b2c3d4-e5f6-7890-abcd-ef1234567890".into(),
            },
            reqwest::Client::new(),
            Arc::new(Stopped),
        )
        .unwrap()
    }

    /// The same vector as the protocol's test, reached through the client's own request.
    #[test]
    fn a_prepared_call_carries_the_independent_signature() {
        let params = json!({"sku_id": 123, "product_id": "3600000000000", "stock_num": 50, "incremental": false,
                            "idempotent_id": "lease-1", "extra": {"b": 1, "a": "直播/秒杀"}});
        let call = shop("http://127.0.0.1:9/sandbox/douyin/").prepare(
            "sku.syncStock",
            &params,
            Some("tok"),
            Stopped.now(),
        );
        assert_eq!(call.url, "http://127.0.0.1:9/sandbox/douyin/sku/syncStock");
        let get = |n: &str| call.query.iter().find(|(k, _)| *k == n).map(|(_, v)| v.as_str());
        assert_eq!(get("timestamp"), Some("2026-11-26 08:00:00"));
        assert_eq!(get("sign"), Some("49342e1d1ea014114f857677a11a97daac50f8c5a123c8a53c9498e60b5656bc"));
        assert_eq!(
            (get("v"), get("sign_method"), get("access_token")),
            (Some("2"), Some("hmac-sha256"), Some("tok"))
        );
    }

    #[test]
    fn the_authorize_url_names_the_service_and_the_state() {
        assert_eq!(
            shop("http://x").authorize_url("s t&1", "ignored"),
            "https://fuwu.jinritemai.com/authorize?service_id=26&state=s+t%261"
        );
    }

    #[test]
    fn refusals_tell_a_dead_grant_from_a_stale_token_and_the_rest() {
        let envelope = |sub: &str| Envelope {
            code: 1,
            msg: "m".into(),
            sub_code: sub.into(),
            sub_msg: String::new(),
            data: Value::Null,
        };
        assert!(refused(&envelope(codes::GRANT_REVOKED.1)).is_revoked());
        assert!(matches!(refused(&envelope(codes::ACCESS_TOKEN.1)), LiveError::Unauthorized { .. }));
        assert!(matches!(refused(&envelope(codes::BAD_SIGNATURE.1)), LiveError::Refused { .. }));
    }

    #[tokio::test]
    async fn an_unreachable_gateway_is_a_transport_error() {
        let outcome = shop("http://127.0.0.1:9").exchange_code("code").await;
        assert!(matches!(outcome, Err(LiveError::Transport(_))), "{outcome:?}");
    }
}

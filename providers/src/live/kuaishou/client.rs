//! [`KuaishouShop`]: the Kuaishou shop open platform behind [`LivePlatform`]. Token calls go to
//! `/oauth2/…` with the app id and secret; every API call is a form POST to
//! `{openapi}/{method with '.' → '/'}` signed with the sign secret; pushes are opened with the
//! message key. The signing time comes from the injected clock.

use std::collections::HashMap;
use std::sync::Arc;

use engine::Timestamp;
use engine::time::Clock;
use serde_json::{Value, json};

use super::protocol::{self, DecryptItem, Envelope, OrderWire, TokenAnswer, codes};
use crate::live::{
    Grant, ItemRef, ItemSpec, LiveError, LiveFuture, LivePlatform, OrderPage, PUSH_MAX_AGE_MS, Platform,
    PlatformOrder, Push, PushRefused, Shipment, StockChange, StockMove,
};

/// Orders asked for per `open.order.cursor.list` page (the platform's maximum).
const PAGE_SIZE: u32 = 50;
/// The cursor that says there is nothing more.
const NO_MORE: &str = "nomore";

/// Where and as which app to call. `Debug` is not derived: it would print the secrets.
#[derive(Clone)]
pub struct KuaishouShopConfig {
    /// `https://openapi.kwaixiaodian.com`, or the sandbox's `…/sandbox/kuaishou`.
    pub openapi: String,
    /// `https://open.kwaixiaodian.com/oauth/authorize`, or the sandbox's consent page.
    pub authorize_url: String,
    pub app_key: String,
    pub app_secret: String,
    pub sign_secret: String,
    /// The message key (Base64) pushes are encrypted with.
    pub message_key: String,
    /// The permissions asked for, e.g. `merchant_item`, `merchant_order`, `merchant_logistics`.
    pub scopes: Vec<String>,
}

pub struct KuaishouShop {
    http: reqwest::Client,
    config: KuaishouShopConfig,
    clock: Arc<dyn Clock>,
}

fn refused(result: i64, message: String) -> LiveError {
    let code = result.to_string();
    match result {
        codes::GRANT_REVOKED => LiveError::Revoked { code, message },
        codes::ACCESS_TOKEN => LiveError::Unauthorized { code, message },
        _ => LiveError::Refused { code, message },
    }
}

fn bad(what: &str) -> impl Fn(serde_json::Error) -> LiveError + '_ {
    move |e| LiveError::BadAnswer(format!("{what}: {e}"))
}

fn transport(e: reqwest::Error) -> LiveError {
    LiveError::Transport(e.without_url().to_string())
}

impl KuaishouShop {
    pub fn new(
        config: KuaishouShopConfig,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, String> {
        reqwest::Url::parse(&config.openapi)
            .map_err(|e| format!("kuaishou openapi {:?}: {e}", config.openapi))?;
        for (name, value) in [
            ("app_key", &config.app_key),
            ("app_secret", &config.app_secret),
            ("sign_secret", &config.sign_secret),
            ("message_key", &config.message_key),
        ] {
            if value.trim().is_empty() {
                return Err(format!("kuaishou.{name} is empty"));
            }
        }
        protocol::encrypt_push(&config.message_key, b"").map_err(|e| format!("kuaishou.message_key: {e}"))?;
        Ok(Self { http, config, clock })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.openapi.trim_end_matches('/'))
    }

    /// The signed form of `method` with `param` at `timestamp_ms`.
    pub fn prepare(
        &self,
        method: &str,
        param: &Value,
        access_token: &str,
        timestamp_ms: i64,
    ) -> Vec<(&'static str, String)> {
        let c = &self.config;
        protocol::signed_params(
            &c.app_key,
            &c.sign_secret,
            method,
            access_token,
            &param.to_string(),
            timestamp_ms,
        )
    }

    /// The receivers' encrypted fields of `wires`, decrypted by `open.order.decrypt.batch` in
    /// calls of at most [`protocol::DECRYPT_BATCH`]: cipher → plain text. A cipher the platform
    /// would not decrypt, or a call that failed, leaves its order without a receiver (logged)
    /// rather than holding the order itself back.
    async fn decrypt(&self, access_token: &str, wires: &[OrderWire]) -> HashMap<String, String> {
        let items: Vec<DecryptItem> = wires
            .iter()
            .flat_map(|w| {
                let oid = w.order_base_info.oid.to_string();
                w.ciphers()
                    .into_iter()
                    .map(move |c| DecryptItem { biz_id: oid.clone(), encrypted_data: c.to_owned() })
            })
            .collect();
        let mut plain = HashMap::with_capacity(items.len());
        for chunk in items.chunks(protocol::DECRYPT_BATCH) {
            let answer =
                self.call("open.order.decrypt.batch", json!({"batchDecryptList": chunk}), access_token).await;
            match answer
                .and_then(|data| protocol::decrypt_results(&data).map_err(bad("batchDecryptResultList")))
            {
                Ok(results) => {
                    for result in results {
                        match result
                            .decrypted_data
                            .filter(|d| result.error_code == protocol::DECRYPTED && !d.is_empty())
                        {
                            Some(text) => {
                                plain.insert(result.encrypted_data, text);
                            }
                            None => tracing::warn!(
                                error_code = result.error_code,
                                error_msg = result.error_msg.as_deref().unwrap_or_default(),
                                "kuaishou would not decrypt a receiver field"
                            ),
                        }
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "kuaishou open.order.decrypt.batch failed; receivers left unread")
                }
            }
        }
        plain
    }

    async fn call(&self, method: &str, param: Value, access_token: &str) -> Result<Value, LiveError> {
        let form = self.prepare(method, &param, access_token, self.clock.now().as_millis());
        let response = self
            .http
            .post(self.url(&protocol::method_path(method)))
            .form(&form)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        let body = response.bytes().await.map_err(transport)?;
        if !status.is_success() {
            return Err(LiveError::Transport(format!("http status {status}")));
        }
        let envelope: Envelope = serde_json::from_slice(&body).map_err(bad("not a kuaishou answer"))?;
        if envelope.result != protocol::RESULT_OK {
            return Err(refused(envelope.result, envelope.error_msg));
        }
        Ok(envelope.data)
    }

    async fn token(&self, request: reqwest::RequestBuilder) -> Result<Grant, LiveError> {
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        let body = response.bytes().await.map_err(transport)?;
        if !status.is_success() {
            return Err(LiveError::Transport(format!("http status {status}")));
        }
        let answer: TokenAnswer = serde_json::from_slice(&body).map_err(bad("token answer"))?;
        if answer.result != protocol::RESULT_OK {
            let message = if answer.error_msg.is_empty() { answer.error.clone() } else { answer.error_msg };
            return Err(if answer.error == codes::INVALID_GRANT {
                LiveError::Revoked { code: answer.error, message }
            } else {
                LiveError::Refused { code: format!("{}:{}", answer.result, answer.error), message }
            });
        }
        if answer.access_token.is_empty() || answer.refresh_token.is_empty() || answer.expires_in <= 0 {
            return Err(LiveError::BadAnswer("token answer without tokens".into()));
        }
        let now = self.clock.now();
        Ok(Grant {
            access_token: answer.access_token,
            refresh_token: answer.refresh_token,
            access_expires_at: now.plus_millis(answer.expires_in.saturating_mul(1_000)),
            refresh_expires_at: now.plus_millis(answer.refresh_token_expires_in.saturating_mul(1_000)),
            shop_id: answer.open_id,
            shop_name: String::new(),
            scopes: answer.scopes,
        })
    }

    fn sku_list(item: &ItemSpec, with_stock: bool) -> Vec<Value> {
        item.skus
            .iter()
            .map(|s| {
                let mut sku = json!({"relSkuId": s.out_sku_id, "skuSalePrice": s.price_fen.as_i64(), "skuNick": s.name});
                if with_stock {
                    sku["skuStock"] = json!(s.stock);
                }
                sku
            })
            .collect()
    }

    /// The platform's stock of a SKU now (`open.item.sku.list.get`).
    async fn stock_of(&self, access_token: &str, item_id: &str, sku_id: &str) -> Result<i64, LiveError> {
        let data = self
            .call("open.item.sku.list.get", json!({"kwaiItemId": item_id, "skuStatus": 1}), access_token)
            .await?;
        let skus = data["skuList"].as_array().ok_or_else(|| LiveError::BadAnswer("no skuList".into()))?;
        skus.iter()
            .find(|s| s["kwaiSkuId"].as_i64().map(|n| n.to_string()).as_deref() == Some(sku_id))
            .and_then(|s| s["skuStock"].as_i64())
            .ok_or_else(|| LiveError::BadAnswer(format!("sku {sku_id} not listed")))
    }
}

fn number(id: &str) -> Result<i64, LiveError> {
    id.parse().map_err(|_| LiveError::Refused {
        code: "local".into(),
        message: format!("{id:?} is not a kuaishou id"),
    })
}

impl LivePlatform for KuaishouShop {
    fn platform(&self) -> Platform {
        Platform::Kuaishou
    }

    fn authorize_url(&self, state: &str, redirect_uri: &str) -> String {
        let scope = self.config.scopes.join(",");
        let query = serde_urlencoded::to_string([
            ("app_id", self.config.app_key.as_str()),
            ("redirect_uri", redirect_uri),
            ("scope", scope.as_str()),
            ("response_type", "code"),
            ("state", state),
        ])
        .expect("strings encode");
        format!("{}?{query}", self.config.authorize_url)
    }

    fn exchange_code<'a>(&'a self, code: &'a str) -> LiveFuture<'a, Grant> {
        Box::pin(async move {
            let c = &self.config;
            let query = [
                ("app_id", c.app_key.as_str()),
                ("grant_type", "code"),
                ("code", code),
                ("app_secret", c.app_secret.as_str()),
            ];
            self.token(self.http.get(self.url("/oauth2/access_token")).query(&query)).await
        })
    }

    fn refresh<'a>(&'a self, grant: &'a Grant) -> LiveFuture<'a, Grant> {
        Box::pin(async move {
            let c = &self.config;
            let form = [
                ("grant_type", "refresh_token"),
                ("refresh_token", grant.refresh_token.as_str()),
                ("app_id", c.app_key.as_str()),
                ("app_secret", c.app_secret.as_str()),
            ];
            self.token(self.http.post(self.url("/oauth2/refresh_token")).form(&form)).await
        })
    }

    fn create_item<'a>(&'a self, access_token: &'a str, item: &'a ItemSpec) -> LiveFuture<'a, ItemRef> {
        Box::pin(async move {
            let param = json!({
                "title": item.title,
                "relItemId": item.out_item_id,
                "details": item.description,
                "skuList": Self::sku_list(item, true),
            });
            let data = self.call("open.item.new", param, access_token).await?;
            let item_id = data["itemId"].as_i64().ok_or_else(|| LiveError::BadAnswer("no itemId".into()))?;
            let skus = data["skuList"]
                .as_array()
                .ok_or_else(|| LiveError::BadAnswer("no skuList".into()))?
                .iter()
                .map(|s| Some((s["relSkuId"].as_i64()?, s["kwaiSkuId"].as_i64()?.to_string())))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| LiveError::BadAnswer("a sku without ids".into()))?;
            Ok(ItemRef { item_id: item_id.to_string(), skus })
        })
    }

    fn update_item<'a>(
        &'a self,
        access_token: &'a str,
        item: &'a ItemRef,
        spec: &'a ItemSpec,
    ) -> LiveFuture<'a, ()> {
        Box::pin(async move {
            let mut skus = Self::sku_list(spec, false);
            for (sku, wanted) in skus.iter_mut().zip(&spec.skus) {
                if let Some(id) = item.sku_id(wanted.out_sku_id) {
                    sku["skuId"] = json!(number(id)?);
                }
            }
            let param = json!({"itemId": number(&item.item_id)?, "title": spec.title, "details": spec.description, "skuList": skus});
            self.call("open.item.edit", param, access_token).await.map(|_| ())
        })
    }

    /// Kuaishou moves stock only by deltas (`changeType` 1 adds, 2 takes away): a `Set` reads
    /// the SKU's stock and moves it by the difference, so repeating it changes nothing more.
    fn change_stock<'a>(&'a self, access_token: &'a str, change: &'a StockChange) -> LiveFuture<'a, ()> {
        Box::pin(async move {
            let delta = match change.change {
                StockMove::By(delta) => delta,
                StockMove::Set(stock) => {
                    i64::from(stock) - self.stock_of(access_token, &change.item_id, &change.sku_id).await?
                }
            };
            if delta == 0 {
                return Ok(());
            }
            let param = json!({
                "kwaiItemId": number(&change.item_id)?,
                "skuId": number(&change.sku_id)?,
                "skuChangeStock": delta.unsigned_abs(),
                "changeType": if delta > 0 { 1 } else { 2 },
            });
            self.call("open.item.sku.stock.update", param, access_token).await.map(|_| ())
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
            let param = json!({
                "orderViewStatus": 1,
                "pageSize": PAGE_SIZE,
                "sort": 2,
                "queryType": 2,
                "beginTime": since.as_millis(),
                "endTime": until.as_millis(),
                "cursor": page.unwrap_or(""),
            });
            let data = self.call("open.order.cursor.list", param, access_token).await?;
            let wires: Vec<OrderWire> =
                serde_json::from_value(data["orderList"].clone()).map_err(bad("orderList"))?;
            let plain = self.decrypt(access_token, &wires).await;
            let orders = wires
                .iter()
                .map(|w| w.to_order(&|cipher| plain.get(cipher).cloned()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(LiveError::BadAnswer)?;
            let cursor = data["cursor"].as_str().unwrap_or(NO_MORE);
            let next = (cursor != NO_MORE && !cursor.is_empty()).then(|| cursor.to_owned());
            Ok(OrderPage { orders, next })
        })
    }

    fn order<'a>(&'a self, access_token: &'a str, order_id: &'a str) -> LiveFuture<'a, PlatformOrder> {
        Box::pin(async move {
            let data =
                self.call("open.order.detail", json!({"oid": number(order_id)?}), access_token).await?;
            let wire: OrderWire = serde_json::from_value(data).map_err(bad("order detail"))?;
            let plain = self.decrypt(access_token, std::slice::from_ref(&wire)).await;
            wire.to_order(&|cipher| plain.get(cipher).cloned()).map_err(LiveError::BadAnswer)
        })
    }

    fn ship<'a>(&'a self, access_token: &'a str, shipment: &'a Shipment) -> LiveFuture<'a, ()> {
        Box::pin(async move {
            let param = json!({
                "orderId": number(&shipment.order_id)?,
                "expressCode": number(&shipment.company_code)?,
                "expressNo": shipment.waybill_no,
            });
            self.call("open.seller.order.goods.deliver", param, access_token).await.map(|_| ())
        })
    }

    fn open_push(
        &self,
        _header: &dyn Fn(&str) -> Option<String>,
        body: &[u8],
        now: Timestamp,
    ) -> Result<Push, PushRefused> {
        protocol::open_push(&self.config.app_key, &self.config.message_key, body, now, PUSH_MAX_AGE_MS)
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

    fn shop(openapi: &str) -> KuaishouShop {
        KuaishouShop::new(
            KuaishouShopConfig {
                openapi: openapi.into(),
                authorize_url: "https://open.kwaixiaodian.com/oauth/authorize".into(),
                app_key: "ks123456789".into(),
                app_secret: "app-secret".into(),
                sign_secret: "sign-secret-0123".into(),
                message_key: "MDEyMzQ1Njc4OWFiY2RlZg==".into(),
                scopes: vec!["merchant_item".into(), "merchant_order".into()],
            },
            reqwest::Client::new(),
            Arc::new(Stopped),
        )
        .unwrap()
    }

    /// The protocol test's vector, reached through the client's own form.
    #[test]
    fn a_prepared_call_carries_the_independent_signature() {
        let param: Value =
            serde_json::from_str(r#"{"changeType":1,"kwaiItemId":100,"skuChangeStock":5,"skuId":200}"#)
                .unwrap();
        let form = shop("http://x").prepare(
            "open.item.sku.stock.update",
            &param,
            "ChFvYXV0aC5hY2Nlc3NUb2tlbg",
            Stopped.now().0,
        );
        let get = |n: &str| form.iter().find(|(k, _)| *k == n).map(|(_, v)| v.as_str());
        assert_eq!(get("sign"), Some("XUyfEjYQ2AjD04aEIxP9SbOjGj0DM1oVeg5jCBldto8="));
    }

    #[test]
    fn the_authorize_url_carries_app_redirect_scopes_and_state() {
        assert_eq!(
            shop("http://x").authorize_url("st", "https://shop.example/cb?x=1"),
            "https://open.kwaixiaodian.com/oauth/authorize?app_id=ks123456789&redirect_uri=https%3A%2F%2Fshop.example%2Fcb%3Fx%3D1&scope=merchant_item%2Cmerchant_order&response_type=code&state=st"
        );
    }

    #[test]
    fn refusals_tell_a_cancelled_grant_from_a_stale_token_and_the_rest() {
        assert!(refused(codes::GRANT_REVOKED, "m".into()).is_revoked());
        assert!(matches!(refused(codes::ACCESS_TOKEN, "m".into()), LiveError::Unauthorized { .. }));
        assert!(matches!(refused(codes::BAD_SIGNATURE, "m".into()), LiveError::Refused { .. }));
    }

    #[test]
    fn a_message_key_that_is_not_a_key_is_refused_at_construction() {
        let mut config = shop("http://x").config.clone();
        config.message_key = "c2hvcnQ=".into();
        assert!(KuaishouShop::new(config, reqwest::Client::new(), Arc::new(Stopped)).is_err());
    }

    #[tokio::test]
    async fn an_unreachable_platform_is_a_transport_error() {
        let outcome = shop("http://127.0.0.1:9").exchange_code("code").await;
        assert!(matches!(outcome, Err(LiveError::Transport(_))), "{outcome:?}");
    }
}

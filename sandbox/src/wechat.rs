//! The WeChat Pay API v3 sandbox: verifies the merchant's request signatures, signs its
//! answers with the platform key, encrypts notification resources with the APIv3 key.
//!
//! As the real service: every answer and notification carries `Request-ID` and
//! `Wechatpay-Signature-Type`, every 2xx is signed (the `204` of a close too), times are whole
//! seconds, an unpaid trade's query leaves out what is not decided yet, refunds are
//! `PROCESSING` before `SUCCESS`, and bills come gzipped on `tar_type=GZIP` with the SHA1 of
//! the original file. A `time_expire` not in the documented format is refused, so a client
//! cannot drift from it unnoticed.

use actix_web::{HttpRequest, HttpResponse, web};
use engine::Fen;
use engine::ledger::Channel;
use providers::crypto::nonce;
use providers::payments::alipay::protocol::alipay_time;
use providers::payments::wechat::bill::{bill_hash, gzip_bill};
use providers::payments::wechat::protocol::{
    self as protocol, SignedHeaders, Transaction, TransactionAmount, is_wechat_time, wechat_time,
};
use providers::payments::yuan::format_yuan;
use serde_json::{Value, json};

use super::{Notification, RefundStatus, Sandbox, SandboxRefund, Trade, TradeState};

/// A `Request-ID` as WeChat Pay writes them: 32 hex digits in UUID groups.
fn request_id() -> String {
    let hex = nonce(32).to_ascii_lowercase();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

impl Sandbox {
    fn sign_headers(&self, body: &str, timestamp: i64) -> SignedHeaders {
        protocol::sign_body(
            &self.keys.wechat_platform,
            &self.settings.wechat_platform_serial,
            body,
            timestamp,
            &nonce(32),
        )
    }

    /// A signed answer, as WeChat Pay sends them.
    fn answer(&self, status: actix_web::http::StatusCode, body: Value) -> HttpResponse {
        let text = body.to_string();
        self.signed(status, &text).content_type("application/json").body(text)
    }

    /// A signed answer without a body (`204 No Content`): the signature covers the empty body.
    fn answer_empty(&self, status: actix_web::http::StatusCode) -> HttpResponse {
        self.signed(status, "").finish()
    }

    fn signed(&self, status: actix_web::http::StatusCode, body: &str) -> actix_web::HttpResponseBuilder {
        let mut response = HttpResponse::build(status);
        response.insert_header((protocol::REQUEST_ID, request_id()));
        for (name, value) in self.sign_headers(body, self.now().as_millis() / 1_000).pairs() {
            response.insert_header((name, value.to_owned()));
        }
        response
    }

    fn error(&self, status: actix_web::http::StatusCode, code: &str, message: &str) -> HttpResponse {
        HttpResponse::build(status)
            .insert_header((protocol::REQUEST_ID, request_id()))
            .json(json!({ "code": code, "message": message }))
    }

    pub(crate) fn wechat_transaction(&self, trade: &Trade, amount: Fen) -> Transaction {
        let (state, description) = match (trade.state, trade.refunds.is_empty()) {
            (TradeState::Success, true) => ("SUCCESS", "支付成功"),
            (TradeState::Success, false) => ("REFUND", "转入退款"),
            (TradeState::Closed, _) => ("CLOSED", "已关闭"),
            (TradeState::NotPay, _) => ("NOTPAY", "订单未支付"),
        };
        let paid = trade.state == TradeState::Success;
        Transaction {
            mchid: self.settings.wechat_mchid.clone(),
            appid: self.settings.wechat_appid.clone(),
            out_trade_no: trade.out_trade_no.clone(),
            // Empty until paid: left out of the answer, as WeChat Pay does.
            transaction_id: trade.transaction_id.clone(),
            trade_type: trade.trade_type.clone(),
            trade_state: state.into(),
            trade_state_desc: description.into(),
            success_time: trade.paid_at.map(wechat_time).unwrap_or_default(),
            amount: TransactionAmount {
                total: amount.as_i64(),
                payer_total: if paid { amount.as_i64() } else { 0 },
                currency: "CNY".into(),
            },
        }
    }

    /// A `TRANSACTION.SUCCESS` notification about `trade`, saying `amount`, signed at
    /// `timestamp`. Tests change the amount or the time to forge what a real attacker could
    /// not (a correctly signed wrong amount, a stale one).
    pub fn wechat_notification(&self, trade: &Trade, amount: Fen, timestamp: i64) -> Notification {
        let transaction = self.wechat_transaction(trade, amount);
        let plaintext = serde_json::to_vec(&transaction).expect("a transaction serialises");
        let resource = protocol::encrypt_resource(
            &self.keys.wechat_api_v3_key,
            "transaction",
            &plaintext,
            "transaction",
            &nonce(12),
        );
        let notification = protocol::Notification {
            id: format!("EV-{}", self.mint("")),
            create_time: wechat_time(self.now()),
            resource_type: "encrypt-resource".into(),
            event_type: "TRANSACTION.SUCCESS".into(),
            summary: "支付成功".into(),
            resource,
        };
        let body = serde_json::to_string(&notification).expect("a notification serialises");
        let headers = self.sign_headers(&body, timestamp);
        let request_id = (protocol::REQUEST_ID.to_owned(), request_id());
        Notification {
            url: trade.notify_url.clone(),
            headers: std::iter::once(request_id)
                .chain(headers.pairs().iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())))
                .collect(),
            content_type: "application/json",
            body,
        }
    }

    /// Checks the merchant's `Authorization` on a request; `path` is what the merchant signed.
    fn verify_request(&self, req: &HttpRequest, body: &str) -> Result<(), String> {
        let header = req
            .headers()
            .get("Authorization")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| "missing Authorization".to_owned())?;
        let auth = protocol::parse_authorization(header).map_err(|e| e.to_string())?;
        if auth.mchid != self.settings.wechat_mchid || auth.serial_no != self.settings.wechat_merchant_serial
        {
            return Err("unknown merchant or certificate serial".into());
        }
        let full = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let path = full.find("/v3/").map(|i| &full[i..]).unwrap_or(full);
        protocol::verify_request(
            &self.keys.wechat_merchant.to_public_key(),
            &auth,
            req.method().as_str(),
            path,
            body,
            self.now().as_millis() / 1_000,
        )
        .map_err(|e| e.to_string())
    }

    fn sign_error(&self, message: String) -> HttpResponse {
        self.error(actix_web::http::StatusCode::UNAUTHORIZED, "SIGN_ERROR", &message)
    }

    /// What every API call passes first: the channel is up and the merchant signed the request.
    fn gate(&self, req: &HttpRequest, body: &str) -> Option<HttpResponse> {
        self.unavailable().or_else(|| self.verify_request(req, body).err().map(|m| self.sign_error(m)))
    }

    fn unavailable(&self) -> Option<HttpResponse> {
        self.is_down(Channel::Wechat).then(|| {
            self.error(
                actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
                "SYSTEM_ERROR",
                "系统繁忙，请稍后重试",
            )
        })
    }
}

async fn create(
    sandbox: web::Data<Sandbox>,
    kind: web::Path<String>,
    req: HttpRequest,
    body: String,
) -> HttpResponse {
    use actix_web::http::StatusCode;
    if let Some(refused) = sandbox.gate(&req, &body) {
        return refused;
    }
    let Ok(request) = serde_json::from_str::<Value>(&body) else {
        return sandbox.error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "body is not JSON");
    };
    let text = |name: &str| request[name].as_str().unwrap_or_default().to_owned();
    let total = request["amount"]["total"].as_i64().unwrap_or(0);
    if text("mchid") != sandbox.settings.wechat_mchid || text("appid") != sandbox.settings.wechat_appid {
        return sandbox.error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "appid and mchid do not match");
    }
    let out_trade_no = text("out_trade_no");
    if total <= 0 || !(6..=32).contains(&out_trade_no.len()) || text("notify_url").is_empty() {
        return sandbox.error(
            StatusCode::BAD_REQUEST,
            "PARAM_ERROR",
            "out_trade_no, amount.total, notify_url",
        );
    }
    let time_expire = text("time_expire");
    if !time_expire.is_empty() && !is_wechat_time(&time_expire) {
        return sandbox.error(
            StatusCode::BAD_REQUEST,
            "PARAM_ERROR",
            &format!("time_expire {time_expire:?} is not yyyy-MM-DDTHH:mm:ss+TIMEZONE"),
        );
    }
    let trade_type = match kind.as_str() {
        "native" => "NATIVE",
        "jsapi" => "JSAPI",
        "h5" => "MWEB",
        _ => return sandbox.error(StatusCode::NOT_FOUND, "NOT_FOUND", "no such API"),
    };
    // WeChat's own limits: a description longer than string(127) bytes, or a payer that is
    // no openid of this appid, refuses this one request (400) without the channel being down.
    let description = text("description");
    if description.is_empty() || description.len() > 127 {
        return sandbox.error(
            StatusCode::BAD_REQUEST,
            "PARAM_ERROR",
            "description 长度不符合要求 string[1,127]",
        );
    }
    if trade_type == "JSAPI" && !is_openid(request["payer"]["openid"].as_str().unwrap_or_default()) {
        return sandbox.error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "appid和openid不匹配");
    }
    let trade = match sandbox.open_trade(
        Channel::Wechat,
        &out_trade_no,
        Fen(total),
        &description,
        &text("notify_url"),
        trade_type,
    ) {
        Ok(trade) => trade,
        Err(message) => return sandbox.error(StatusCode::BAD_REQUEST, "OUT_TRADE_NO_USED", message),
    };
    if trade.state != TradeState::NotPay {
        return sandbox.error(StatusCode::BAD_REQUEST, "ORDERPAID", "该订单已支付或已关闭");
    }
    let public = &sandbox.settings.public_url;
    let answer = match kind.as_str() {
        "native" => json!({ "code_url": format!("weixin://wxpay/bizpayurl?pr={out_trade_no}") }),
        "jsapi" => json!({ "prepay_id": format!("wx{out_trade_no}") }),
        "h5" => json!({ "h5_url": format!("{public}/sandbox/wechat/cashier?out_trade_no={out_trade_no}") }),
        _ => return sandbox.error(StatusCode::NOT_FOUND, "NOT_FOUND", "no such API"),
    };
    sandbox.answer(StatusCode::OK, answer)
}

async fn query(sandbox: web::Data<Sandbox>, no: web::Path<String>, req: HttpRequest) -> HttpResponse {
    use actix_web::http::StatusCode;
    if let Some(refused) = sandbox.gate(&req, "") {
        return refused;
    }
    match sandbox.trade(Channel::Wechat, &no) {
        Some(trade) => {
            let transaction = sandbox.wechat_transaction(&trade, trade.amount);
            sandbox.answer(StatusCode::OK, serde_json::to_value(transaction).expect("serialises"))
        }
        None => sandbox.error(StatusCode::NOT_FOUND, "ORDER_NOT_EXIST", "订单不存在"),
    }
}

async fn close(
    sandbox: web::Data<Sandbox>,
    no: web::Path<String>,
    req: HttpRequest,
    body: String,
) -> HttpResponse {
    use actix_web::http::StatusCode;
    if let Some(refused) = sandbox.gate(&req, &body) {
        return refused;
    }
    match sandbox.close(Channel::Wechat, &no) {
        // Signed like every 2xx: a client must refuse an unsigned one as forged.
        Ok(()) => sandbox.answer_empty(StatusCode::NO_CONTENT),
        Err(message) => sandbox.error(StatusCode::BAD_REQUEST, "ORDERPAID", message),
    }
}

async fn refund(sandbox: web::Data<Sandbox>, req: HttpRequest, body: String) -> HttpResponse {
    use actix_web::http::StatusCode;
    if let Some(refused) = sandbox.gate(&req, &body) {
        return refused;
    }
    let Ok(request) = serde_json::from_str::<Value>(&body) else {
        return sandbox.error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "body is not JSON");
    };
    let out_trade_no = request["out_trade_no"].as_str().unwrap_or_default();
    let out_refund_no = request["out_refund_no"].as_str().unwrap_or_default();
    let amount = Fen(request["amount"]["refund"].as_i64().unwrap_or(0));
    match sandbox.refund(Channel::Wechat, out_trade_no, out_refund_no, amount) {
        Ok((trade, refund)) => sandbox.answer(StatusCode::OK, refund_json(&trade, &refund)),
        Err(message) => sandbox.error(StatusCode::BAD_REQUEST, "INVALID_REQUEST", message),
    }
}

/// A refund as WeChat Pay describes it; `success_time` only once it succeeded.
fn refund_json(trade: &Trade, refund: &SandboxRefund) -> Value {
    let mut answer = json!({
        "refund_id": refund.refund_id,
        "out_refund_no": refund.out_refund_no,
        "transaction_id": trade.transaction_id,
        "out_trade_no": trade.out_trade_no,
        "channel": "ORIGINAL",
        "user_received_account": "支付用户零钱",
        "status": match refund.status { RefundStatus::Processing => "PROCESSING", RefundStatus::Success => "SUCCESS" },
        "create_time": wechat_time(refund.at),
        "amount": {
            "total": trade.amount.as_i64(),
            "refund": refund.amount.as_i64(),
            "payer_total": trade.amount.as_i64(),
            "payer_refund": refund.amount.as_i64(),
            "currency": "CNY",
        },
    });
    if let Some(at) = refund.succeeded_at {
        answer["success_time"] = json!(wechat_time(at));
    }
    answer
}

/// `GET /v3/refund/domestic/refunds/{out_refund_no}`: how a refund is doing.
async fn query_refund(sandbox: web::Data<Sandbox>, no: web::Path<String>, req: HttpRequest) -> HttpResponse {
    use actix_web::http::StatusCode;
    if let Some(refused) = sandbox.gate(&req, "") {
        return refused;
    }
    match sandbox.refund_by_no(Channel::Wechat, &no) {
        Some((trade, refund)) => sandbox.answer(StatusCode::OK, refund_json(&trade, &refund)),
        None => sandbox.error(StatusCode::NOT_FOUND, "RESOURCE_NOT_EXISTS", "退款单不存在"),
    }
}

#[derive(serde::Deserialize)]
struct BillQuery {
    bill_date: String,
    tar_type: Option<String>,
}

async fn tradebill(
    sandbox: web::Data<Sandbox>,
    query: web::Query<BillQuery>,
    req: HttpRequest,
) -> HttpResponse {
    use actix_web::http::StatusCode;
    if let Some(refused) = sandbox.gate(&req, "") {
        return refused;
    }
    let gzip = match query.tar_type.as_deref() {
        None => false,
        Some("GZIP") => true,
        Some(other) => {
            return sandbox.error(StatusCode::BAD_REQUEST, "PARAM_ERROR", &format!("tar_type {other:?}"));
        }
    };
    // The file is fixed now, as the real one is: its hash and what is downloaded agree.
    let plain = sandbox.wechat_bill(&query.bill_date);
    let hash_value = bill_hash(plain.as_bytes());
    let file = if gzip { gzip_bill(plain.as_bytes()) } else { plain.into_bytes() };
    let token = sandbox.keep_bill(file);
    let url = format!("{}/sandbox/wechat/v3/billdownload/file?token={token}", sandbox.settings.public_url);
    sandbox
        .answer(StatusCode::OK, json!({ "download_url": url, "hash_type": "SHA1", "hash_value": hash_value }))
}

#[derive(serde::Deserialize)]
struct DownloadQuery {
    token: String,
}

/// `GET /v3/billdownload/file?token=…`: the file, as it was when its URL was handed out;
/// not signed (WeChat Pay's SDKs skip verification here), integrity is the SHA1 of the answer
/// that gave the URL.
async fn download(
    sandbox: web::Data<Sandbox>,
    query: web::Query<DownloadQuery>,
    req: HttpRequest,
) -> HttpResponse {
    use actix_web::http::StatusCode;
    if let Err(message) = sandbox.verify_request(&req, "") {
        return sandbox.sign_error(message);
    }
    match sandbox.bill_file(&query.token) {
        Some(file) if file.starts_with(&[0x1f, 0x8b]) => {
            HttpResponse::Ok().content_type("application/octet-stream").body(file)
        }
        Some(file) => HttpResponse::Ok().content_type("text/csv; charset=utf-8").body(file),
        None => sandbox.error(StatusCode::NOT_FOUND, "RESOURCE_NOT_EXISTS", "账单不存在或已过期"),
    }
}

impl Sandbox {
    /// The trade bill of a Beijing calendar day as WeChat Pay lays it out: backtick-prefixed
    /// fields, then a summary.
    fn wechat_bill(&self, bill_date: &str) -> String {
        let sandbox = self;
        let mut csv = String::from(
            "交易时间,公众账号ID,商户号,微信订单号,商户订单号,交易状态,应结订单金额,微信退款单号,商户退款单号,退款金额\n",
        );
        let lines = sandbox.statement(Channel::Wechat, bill_date);
        let (mut paid, mut refunded) = (0i64, 0i64);
        for (trade, kind, amount, at, refund_id) in &lines {
            let (state, settled, refund) = match *kind {
                "PAY" => {
                    paid += amount.as_i64();
                    ("SUCCESS", format_yuan(*amount), "0.00".to_owned())
                }
                _ => {
                    refunded += amount.as_i64();
                    ("REFUND", "0.00".to_owned(), format_yuan(*amount))
                }
            };
            csv.push_str(&format!(
                "`{},`{},`{},`{},`{},`{state},`{settled},`{refund_id},`{},`{refund}\n",
                alipay_time(*at),
                sandbox.settings.wechat_appid,
                sandbox.settings.wechat_mchid,
                trade.transaction_id,
                trade.out_trade_no,
                if refund_id.is_empty() { String::new() } else { format!("R{}", trade.out_trade_no) },
            ));
        }
        csv.push_str("总交易单数,应结订单总金额,退款总金额\n");
        csv.push_str(&format!(
            "`{},`{},`{}\n",
            lines.len(),
            format_yuan(Fen(paid)),
            format_yuan(Fen(refunded))
        ));
        csv
    }
}

async fn cashier(sandbox: web::Data<Sandbox>, query: web::Query<CashierQuery>) -> HttpResponse {
    match sandbox.trade(Channel::Wechat, &query.out_trade_no) {
        Some(t) => super::cashier::page(
            Channel::Wechat,
            &t.description,
            t.amount,
            &t.out_trade_no,
            query.redirect_url.as_deref(),
        ),
        None => HttpResponse::NotFound()
            .content_type("text/html; charset=utf-8")
            .body("<!doctype html><p>no such trade</p>"),
    }
}

/// `h5_url` with the `redirect_url` a merchant may append to it.
#[derive(serde::Deserialize)]
struct CashierQuery {
    out_trade_no: String,
    redirect_url: Option<String>,
}

async fn pay_form(sandbox: web::Data<Sandbox>, form: web::Form<super::cashier::CashierForm>) -> HttpResponse {
    super::cashier::pay(sandbox, Channel::Wechat, form.into_inner())
}

pub(super) fn html_escape(raw: &str) -> String {
    raw.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/wechat/v3/pay/transactions/out-trade-no/{no}", web::get().to(query))
        .route("/wechat/v3/pay/transactions/out-trade-no/{no}/close", web::post().to(close))
        .route("/wechat/v3/pay/transactions/{kind}", web::post().to(create))
        .route("/wechat/v3/refund/domestic/refunds", web::post().to(refund))
        .route("/wechat/v3/refund/domestic/refunds/{out_refund_no}", web::get().to(query_refund))
        .route("/wechat/v3/bill/tradebill", web::get().to(tradebill))
        .route("/wechat/v3/billdownload/file", web::get().to(download))
        .route("/wechat/cashier", web::get().to(cashier))
        .route("/wechat/pay-form", web::post().to(pay_form));
}

/// An openid as WeChat issues them: 28 characters of `[A-Za-z0-9_-]`.
fn is_openid(raw: &str) -> bool {
    raw.len() == 28 && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

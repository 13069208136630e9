//! Share links of flash sales: the short opaque code of `/s/{code}`, the QR codes of the link
//! (PNG and SVG), and `GET /api/v1/flash-sales/{id}/share` for the sale's merchant.
//!
//! A code is the sale id run through a keyed permutation, not a stored row: a six-round
//! Feistel network over 48 bits (24-bit halves, HMAC-SHA256 round function under a key
//! derived from the token secret), whose plaintext is the 32-bit sale id and 16 zero bits,
//! written as nine base-62 characters. So a fan's page resolves its code without a database
//! read; codes do not reveal ids or their order, and a guessed code names a sale once in
//! 65,536 tries before the database is asked. The price: a code changes when the token secret
//! changes (which also signs every token out), so printed QR codes follow that secret.

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use engine::FlashSaleId;
use hmac::{Hmac, Mac};
use image::{ImageEncoder, Luma};
use qrcode::QrCode;
use serde_json::json;
use sha2::Sha256;

use crate::AppState;
use crate::auth::MerchantAuth;
use crate::error::ApiError;
use crate::openapi::ErrorBody;
use crate::pages::Pages;

type HmacSha256 = Hmac<Sha256>;

const ROUNDS: u8 = 6;
const HALF_BITS: u32 = 24;
const HALF_MASK: u64 = (1 << HALF_BITS) - 1;
/// Zero bits under the id: a decoded code whose tag is not zero names no sale.
const TAG_BITS: u32 = 16;
const CODE_CHARS: usize = 9;
const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Turns sale ids into share codes and back.
pub struct ShareCodes {
    key: [u8; 32],
}

impl ShareCodes {
    pub fn new(token_secret: &[u8]) -> Self {
        let mut mac = HmacSha256::new_from_slice(token_secret).expect("HMAC takes keys of any length");
        mac.update(b"flashsale share codes v1");
        Self { key: mac.finalize().into_bytes().into() }
    }

    fn round(&self, round: u8, half: u64) -> u64 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(&[round]);
        mac.update(&half.to_be_bytes());
        let out = mac.finalize().into_bytes();
        u64::from_be_bytes([0, 0, 0, 0, 0, out[0], out[1], out[2]])
    }

    /// The code of a sale; `None` for an id beyond 32 bits (not minted by this platform).
    pub fn encode(&self, id: FlashSaleId) -> Option<String> {
        let id = u32::try_from(id.0).ok()?;
        let block = u64::from(id) << TAG_BITS;
        let (mut left, mut right) = (block >> HALF_BITS, block & HALF_MASK);
        for round in 0..ROUNDS {
            (left, right) = (right, left ^ self.round(round, right));
        }
        let mut value = (left << HALF_BITS) | right;
        let mut code = [b'0'; CODE_CHARS];
        for slot in code.iter_mut().rev() {
            *slot = ALPHABET[(value % 62) as usize];
            value /= 62;
        }
        Some(String::from_utf8(code.to_vec()).expect("the alphabet is ASCII"))
    }

    /// The sale a code names, or `None` for anything this platform did not issue.
    pub fn decode(&self, code: &str) -> Option<FlashSaleId> {
        if code.len() != CODE_CHARS {
            return None;
        }
        let mut value: u64 = 0;
        for byte in code.bytes() {
            let digit = ALPHABET.iter().position(|&a| a == byte)? as u64;
            value = value * 62 + digit;
        }
        if value >> (2 * HALF_BITS) != 0 {
            return None;
        }
        let (mut left, mut right) = (value >> HALF_BITS, value & HALF_MASK);
        for round in (0..ROUNDS).rev() {
            (left, right) = (right ^ self.round(round, left), left);
        }
        let block = (left << HALF_BITS) | right;
        if block & ((1 << TAG_BITS) - 1) != 0 {
            return None;
        }
        Some(FlashSaleId((block >> TAG_BITS) as i64))
    }
}

/// The short link of a sale, as fans open it.
pub fn short_url(state: &AppState, code: &str) -> String {
    format!("{}/s/{code}", state.base_url)
}

/// `GET /api/v1/flash-sales/{id}/share`: the sale's merchant only (anyone else: 404).
#[utoipa::path(
    get,
    path = "/api/v1/flash-sales/{id}/share",
    tag = "flash sales",
    summary = "The sale's short link and QR codes, for the live room",
    params(("id" = i64, Path, description = "flash sale id")),
    responses(
        (status = 200, description = "the short link and its QR codes", example = json!({"code": "k3x9q2m7w", "short_url": "http://127.0.0.1:8080/s/k3x9q2m7w", "qr_png_url": "http://127.0.0.1:8080/s/k3x9q2m7w/qr.png", "qr_svg_url": "http://127.0.0.1:8080/s/k3x9q2m7w/qr.svg"})),
        (status = 401, description = "missing, invalid or revoked token", body = ErrorBody),
        (status = 403, description = "not a merchant's token", body = ErrorBody),
        (status = 404, description = "`flash_sale_not_found`: no such sale of yours", body = ErrorBody),
    ),
    security(("merchant" = [])),
)]
#[get("/flash-sales/{id}/share")]
pub async fn share(
    state: web::Data<AppState>,
    pages: web::Data<Pages>,
    merchant: MerchantAuth,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = FlashSaleId(id.into_inner());
    let not_found = || ApiError::not_found("flash_sale_not_found", "no such flash sale");
    let merchant_id = match state.registry.get(id) {
        Some(sale) => sale.terms.merchant_id,
        None => persistence::repo::flash_sale(&state.db, id).await?.ok_or_else(not_found)?.merchant_id,
    };
    if merchant_id != merchant.0 {
        return Err(not_found());
    }
    let code = pages.share.encode(id).ok_or_else(not_found)?;
    let link = short_url(&state, &code);
    Ok(HttpResponse::Ok().json(json!({
        "code": code,
        "short_url": link,
        "qr_png_url": format!("{link}/qr.png"),
        "qr_svg_url": format!("{link}/qr.svg"),
    })))
}

fn qr_of(state: &AppState, pages: &Pages, code: &str) -> Option<QrCode> {
    pages.share.decode(code)?;
    // Medium error correction survives a phone camera at an angle; the link is short.
    QrCode::with_error_correction_level(short_url(state, code), qrcode::EcLevel::M).ok()
}

/// The answer for a QR image: cacheable for a day (a code's link does not change).
fn image_answer(content_type: &'static str, body: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(body)
}

/// `GET /s/{code}/qr.png`: the short link as a QR code, 8 pixels a module with the quiet zone.
pub async fn qr_png(
    state: web::Data<AppState>,
    pages: web::Data<Pages>,
    code: web::Path<String>,
) -> HttpResponse {
    let Some(qr) = qr_of(&state, &pages, &code) else { return super::not_found_page() };
    let picture = qr.render::<Luma<u8>>().module_dimensions(8, 8).build();
    let mut png = Vec::new();
    let encoded = image::codecs::png::PngEncoder::new(&mut png).write_image(
        picture.as_raw(),
        picture.width(),
        picture.height(),
        image::ExtendedColorType::L8,
    );
    match encoded {
        Ok(()) => image_answer("image/png", png),
        Err(error) => {
            tracing::error!(%error, "encoding a QR code as PNG");
            HttpResponse::InternalServerError().finish()
        }
    }
}

/// `GET /s/{code}/qr.svg`: the same QR code as SVG, for print.
pub async fn qr_svg(
    state: web::Data<AppState>,
    pages: web::Data<Pages>,
    code: web::Path<String>,
) -> HttpResponse {
    let Some(qr) = qr_of(&state, &pages, &code) else { return super::not_found_page() };
    let svg = qr.render::<qrcode::render::svg::Color<'_>>().min_dimensions(256, 256).build();
    image_answer("image/svg+xml", svg.into_bytes())
}

/// What a payment QR code may hold: the channels' own scan-to-pay links (WeChat Pay Native
/// `code_url`, Alipay precreate `qr_code`), nothing else, so this is no QR service for anyone's
/// link.
const PAYMENT_QR_PREFIXES: [&str; 2] = ["weixin://wxpay/bizpayurl?", "https://qr.alipay.com/"];
const PAYMENT_QR_MAX_CHARS: usize = 256;

#[derive(serde::Deserialize)]
pub struct PaymentQr {
    u: String,
}

/// A channel's scan-to-pay link is `url`'s only acceptable shape.
fn payment_link(url: &str) -> bool {
    url.len() <= PAYMENT_QR_MAX_CHARS
        && PAYMENT_QR_PREFIXES.iter().any(|prefix| url.starts_with(prefix))
        && url.chars().all(|c| c.is_ascii_graphic())
}

/// `GET /pay/qr.svg?u=…`: the QR code a desk's browser shows for a channel's scan-to-pay link.
pub async fn pay_qr_svg(query: web::Query<PaymentQr>) -> HttpResponse {
    if !payment_link(&query.u) {
        return HttpResponse::BadRequest().json(serde_json::json!({
            "error": {"code": "invalid_payment_link", "message": "not a WeChat Pay or Alipay scan-to-pay link"}
        }));
    }
    match QrCode::with_error_correction_level(query.u.as_bytes(), qrcode::EcLevel::M) {
        Ok(qr) => {
            let svg = qr.render::<qrcode::render::svg::Color<'_>>().min_dimensions(220, 220).build();
            image_answer("image/svg+xml", svg.into_bytes())
        }
        Err(_) => HttpResponse::BadRequest().finish(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_channels_scan_to_pay_links_become_payment_qr_codes() {
        assert!(payment_link("weixin://wxpay/bizpayurl?pr=FS12W"));
        assert!(payment_link("https://qr.alipay.com/bax03431ljhokirwl38f00a7"));
        for bad in [
            "https://evil.example/pay",
            "https://qr.alipay.com.evil.example/x",
            "weixin://wxpay/other",
            "https://qr.alipay.com/a b",
            "",
        ] {
            assert!(!payment_link(bad), "{bad}");
        }
        assert!(!payment_link(&format!("https://qr.alipay.com/{}", "x".repeat(300))));
    }

    #[test]
    fn codes_round_trip_and_refuse_what_was_not_issued() {
        let codes = ShareCodes::new(b"0123456789abcdef0123456789abcdef");
        let mut seen = std::collections::HashSet::new();
        for id in [1, 2, 3, 42, 65_535, 1 << 20, i64::from(u32::MAX)] {
            let code = codes.encode(FlashSaleId(id)).unwrap();
            assert_eq!(code.len(), CODE_CHARS);
            assert!(!code.contains(&id.to_string()) || id < 10, "{code} shows {id}");
            assert_eq!(codes.decode(&code), Some(FlashSaleId(id)));
            assert!(seen.insert(code));
        }
        assert_eq!(codes.encode(FlashSaleId(1 << 32)), None);
        assert_eq!(codes.encode(FlashSaleId(-1)), None);
        // Another secret, another code for the same sale.
        let other = ShareCodes::new(b"another-secret-another-secret!!!");
        assert_ne!(other.encode(FlashSaleId(1)), codes.encode(FlashSaleId(1)));
        // Neighbouring ids do not give neighbouring codes.
        let (one, two) = (codes.encode(FlashSaleId(1)).unwrap(), codes.encode(FlashSaleId(2)).unwrap());
        assert!(one.bytes().zip(two.bytes()).filter(|(a, b)| a != b).count() >= 4, "{one} {two}");
        for bad in ["", "short", "000000000", "zzzzzzzzz", "0000000000", "abc!defgh", "ABCDEFGHI"] {
            assert_eq!(codes.decode(bad), None, "{bad}");
        }
        // Almost every code that was not issued is refused without a lookup.
        let forged = (0..10_000u64)
            .filter(|n| {
                let candidate =
                    format!("{:0>9}", base62(n.wrapping_mul(0x9E37_79B9_7F4A_7C15) % 62u64.pow(8)));
                codes.decode(&candidate).is_some()
            })
            .count();
        assert!(forged <= 3, "{forged} of 10,000 forged codes decode");
    }

    fn base62(mut value: u64) -> String {
        let mut out = Vec::new();
        loop {
            out.push(ALPHABET[(value % 62) as usize]);
            value /= 62;
            if value == 0 {
                break;
            }
        }
        out.reverse();
        String::from_utf8(out).unwrap()
    }
}

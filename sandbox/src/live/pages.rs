//! The consent page both live sandboxes show a merchant: who asks, for which shop, one
//! "授权" button that posts back and is answered with a 302 to the app's redirect URI carrying
//! `code` and `state`.

use actix_web::HttpResponse;

pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The page: `fields` ride along as hidden inputs to `action`.
pub fn consent(
    platform: &str,
    app: &str,
    scopes: &str,
    action: &str,
    fields: &[(&str, &str)],
) -> HttpResponse {
    let hidden: String = fields
        .iter()
        .map(|(name, value)| {
            format!(r#"<input type="hidden" name="{}" value="{}">"#, escape(name), escape(value))
        })
        .collect();
    let body = format!(
        r#"<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>{platform}授权（沙箱）</title></head>
<body><main><h1>{platform}店铺授权（沙箱）</h1><p>应用 <b>{app}</b> 申请访问您的店铺：{scopes}</p>
<form method="post" action="{action}">{hidden}<label>店铺名称 <input name="shop_name" value="沙箱小店" maxlength="40" required></label>
<button type="submit">授权</button></form></main></body></html>"#,
        platform = escape(platform),
        app = escape(app),
        scopes = escape(scopes),
        action = escape(action),
    );
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(body)
}

/// `redirect_uri` with `code` and `state` added to its query.
pub fn redirect(redirect_uri: &str, code: &str, state: &str) -> HttpResponse {
    let query = serde_urlencoded::to_string([("code", code), ("state", state)]).expect("strings encode");
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    HttpResponse::Found().insert_header(("Location", format!("{redirect_uri}{separator}{query}"))).finish()
}

/// A plain refusal of a page request.
pub fn refused(message: &str) -> HttpResponse {
    HttpResponse::BadRequest()
        .json(serde_json::json!({"error": {"code": "invalid_request", "message": message}}))
}

/// JSON bodies of the fan and test endpoints: small, and refused in the platform's own error
/// shape `{"error":{"code","message"}}` rather than actix's plain text.
pub fn json_config() -> actix_web::web::JsonConfig {
    actix_web::web::JsonConfig::default().limit(4_096).error_handler(|error, _| {
        let message = error.to_string();
        let answer = HttpResponse::BadRequest()
            .json(serde_json::json!({"error": {"code": "invalid_json", "message": message}}));
        actix_web::error::InternalError::from_response(error, answer).into()
    })
}

/// Whether a redirect URI may be sent to: absolute http(s).
pub fn acceptable_redirect(uri: &str) -> bool {
    (uri.starts_with("http://") || uri.starts_with("https://")) && !uri.contains(['\r', '\n'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_redirects_keep_the_existing_query() {
        assert_eq!(escape(r#"<a href="x">&'"#), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
        let to = redirect("https://m.example/cb?x=1", "c 1", "s&t");
        assert_eq!(to.headers().get("location").unwrap(), "https://m.example/cb?x=1&code=c+1&state=s%26t");
        assert!(!acceptable_redirect("javascript:alert(1)"));
        assert!(acceptable_redirect("http://127.0.0.1:8080/api/v1/platforms/douyin/callback"));
    }
}

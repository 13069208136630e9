//! The frame of every page: document head (viewport, the embedded stylesheet, the page's CSRF
//! token for its script), and the money and time formats pages share.

use engine::Fen;
use maud::{DOCTYPE, Markup, html};

use super::assets;

/// A page. `csrf` is set on pages whose script changes state; it also loads the script.
pub fn page(title: &str, csrf: Option<&str>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover";
                meta name="theme-color" content="#ff2d55";
                title { (title) }
                link rel="icon" href=(assets::url("favicon.svg")) type="image/svg+xml";
                link rel="stylesheet" href=(assets::url("app.css"));
                @if let Some(token) = csrf {
                    meta name="csrf-token" content=(token);
                    script src=(assets::url("fan.js")) defer {}
                }
            }
            body { (body) }
        }
    }
}

/// `¥9.90`: yuan with two decimals, exact.
pub fn yuan(amount: Fen) -> String {
    let fen = amount.as_i64();
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    format!("{sign}¥{}.{:02}", abs / 100, abs % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuan_is_exact() {
        assert_eq!(yuan(Fen(990)), "¥9.90");
        assert_eq!(yuan(Fen(12_900)), "¥129.00");
        assert_eq!(yuan(Fen(5)), "¥0.05");
        assert_eq!(yuan(Fen(-101)), "-¥1.01");
    }
}

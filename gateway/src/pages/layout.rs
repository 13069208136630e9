//! The frame of every page: document head (viewport, the embedded stylesheet, the page's CSRF
//! token for its script), the consoles' frame (header, navigation, sign-out), and the money and
//! time formats pages share.

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

/// Which console a page belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Console {
    Merchant,
    Operator,
}

impl Console {
    fn name(self) -> &'static str {
        match self {
            Console::Merchant => "merchant",
            Console::Operator => "operator",
        }
    }

    fn brand(self) -> &'static str {
        match self {
            Console::Merchant => "闪购 · 商家后台",
            Console::Operator => "闪购 · 运营后台",
        }
    }

    fn home(self) -> &'static str {
        match self {
            Console::Merchant => "/console",
            Console::Operator => "/admin",
        }
    }
}

/// A console page: `nav` is `(link, label)`; the link equal to `active` is marked current;
/// `who` (the signed-in name) shows the sign-out button. Loads the consoles' script.
pub fn console_page(
    title: &str,
    csrf: &str,
    console: Console,
    nav: &[(&str, &str)],
    active: &str,
    who: Option<&str>,
    body: Markup,
) -> Markup {
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1, viewport-fit=cover";
                meta name="theme-color" content="#ff2d55";
                title { (title) " · " (console.brand()) }
                link rel="icon" href=(assets::url("favicon.svg")) type="image/svg+xml";
                link rel="stylesheet" href=(assets::url("app.css"));
                meta name="csrf-token" content=(csrf);
                script src=(assets::url("console.js")) defer {}
            }
            body.console data-console=(console.name()) {
                header.topbar {
                    a.brand href=(console.home()) { (console.brand()) }
                    @if let Some(who) = who {
                        span.who { (who) }
                        button.linkish #sign-out type="button" { "退出" }
                    }
                }
                @if !nav.is_empty() {
                    nav.tabs aria-label="主导航" {
                        @for (link, label) in nav {
                            @if *link == active {
                                a href=(link) aria-current="page" { (label) }
                            } @else {
                                a href=(link) { (label) }
                            }
                        }
                    }
                }
                main.console-main #main { (body) }
            }
        }
    }
}

/// Beijing wall time of an instant, `2026-11-26 20:00`.
pub fn beijing(at: engine::Timestamp) -> String {
    let shifted = at.as_millis() + 8 * 3_600_000;
    chrono::DateTime::from_timestamp_millis(shifted)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
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

    #[test]
    fn beijing_time_is_eight_hours_ahead() {
        assert_eq!(beijing(engine::Timestamp(1_795_622_400_000)), "2026-11-26 00:00");
    }
}

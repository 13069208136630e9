//! The next stream's preview on a fan's page: the merchant's next scheduled flash sale that is
//! sold in its live rooms (bound to Douyin or Kuaishou), with when it starts and where. Read with
//! the sale's facts (kept 30 s), so it costs nothing per view.

use engine::{SaleTerms, Timestamp};
use maud::{Markup, html};

use super::layout::beijing;
use crate::AppState;

/// What the preview shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextStream {
    pub title: String,
    pub starts_at: Timestamp,
    /// `抖音直播间`, `快手直播间`.
    pub rooms: Vec<&'static str>,
}

/// The merchant's next sale in its live rooms, other than this one.
pub async fn load(state: &AppState, terms: &SaleTerms) -> anyhow::Result<Option<NextStream>> {
    let next =
        persistence::live_orders::next_bound_sale(&state.db, terms.merchant_id, state.clock.now(), terms.id)
            .await?;
    Ok(next.map(|sale| NextStream {
        title: sale.title,
        starts_at: sale.starts_at,
        rooms: sale
            .platforms
            .iter()
            .filter_map(|p| match p.as_str() {
                "douyin" => Some("抖音直播间"),
                "kuaishou" => Some("快手直播间"),
                _ => None,
            })
            .collect(),
    }))
}

/// The preview card.
pub fn card(next: &NextStream) -> Markup {
    html! {
        aside.card #next-stream aria-label="下一场直播预告" {
            h2 { "下一场直播预告" }
            p { strong { (next.title) } }
            p { "开播时间：" time { (beijing(next.starts_at)) } }
            @if !next.rooms.is_empty() { p { "直播间：" (next.rooms.join(" · ")) } }
        }
    }
}

//! The notification settings: how hard the worker tries, and per kind of notice the SMS
//! template (Tencent template id, its approved Chinese text with `{1}`, `{2}`…, and which
//! notice values fill them) and the WeChat subscription template (template id, page, and which
//! value goes to which keyword). An empty template id turns a channel off for that kind: its
//! messages are marked skipped, not sent.
//!
//! Template values name a notice parameter (`order_id`, `amount_yuan`, `amount_cny`,
//! `courier`, `waybill_no`, `reason`; for merchants `platform`, `shop_name`, `product_title`,
//! `sku`, `stock`, `threshold`) or, starting with `=`, are literal text (`=已发货`).
//! `{order_id}` in a page is replaced by the order's id.
//!
//! The defaults' ids are the bundled sandboxes'; production sets the ids its Tencent SMS
//! console and WeChat mini program approved (the texts must be what was approved).

use std::collections::BTreeMap;

use engine::notification::{DeliveryRules, NoticeKind};
use serde::{Deserialize, Serialize};

/// One kind's templates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NoticeTemplate {
    /// Tencent SMS template id; empty: no text message for this kind.
    pub sms_template_id: String,
    /// The approved text, `{1}`, `{2}`… in order (what the SMS sandbox renders).
    pub sms_text: String,
    /// The notice values that fill `{1}`, `{2}`…
    pub sms_params: Vec<String>,
    /// WeChat subscription template id; empty: no subscription message for this kind.
    pub wechat_template_id: String,
    /// The mini-program page a tap opens; `{order_id}` is replaced.
    pub wechat_page: String,
    /// Keyword (`character_string1`, `amount2`, `thing3`, `phrase4`…) → notice value.
    pub wechat_data: BTreeMap<String, String>,
}

impl Default for NoticeTemplate {
    fn default() -> Self {
        Self {
            sms_template_id: String::new(),
            sms_text: String::new(),
            sms_params: Vec::new(),
            wechat_template_id: String::new(),
            wechat_page: "pages/order/detail?id={order_id}".into(),
            wechat_data: BTreeMap::new(),
        }
    }
}

fn template(
    sms_id: &str,
    text: &str,
    params: &[&str],
    wechat_id: &str,
    data: &[(&str, &str)],
) -> NoticeTemplate {
    NoticeTemplate {
        sms_template_id: sms_id.into(),
        sms_text: text.into(),
        sms_params: params.iter().map(|p| (*p).to_owned()).collect(),
        wechat_template_id: wechat_id.into(),
        wechat_data: data.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        ..NoticeTemplate::default()
    }
}

/// `[notifications]` in the configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NotificationSettings {
    /// Most messages one pass of the worker takes.
    pub batch_size: u64,
    /// How long the worker sleeps when a pass found nothing due.
    pub poll_interval_ms: u64,
    /// Attempts before a message becomes a dead letter.
    pub max_attempts: u32,
    pub base_delay_ms: i64,
    pub max_delay_ms: i64,
    /// How long a worker holds a message it is sending before another may take it.
    pub lease_ms: i64,
    pub order_paid: NoticeTemplate,
    pub order_shipped: NoticeTemplate,
    pub order_delivered: NoticeTemplate,
    pub refund_approved: NoticeTemplate,
    pub refund_rejected: NoticeTemplate,
    /// To the merchant's phone: a live platform's shop was disconnected.
    pub shop_disconnected: NoticeTemplate,
    /// To the merchant's phone: a SKU's stock fell to or under its low-stock threshold.
    pub low_stock: NoticeTemplate,
    /// To the merchant's phone: an operator took down a sale or product after a report.
    pub sale_taken_down: NoticeTemplate,
    /// To the merchant's phone: an operator banned the merchant.
    pub merchant_banned: NoticeTemplate,
}

impl Default for NotificationSettings {
    fn default() -> Self {
        let rules = DeliveryRules::default();
        Self {
            batch_size: 100,
            poll_interval_ms: 1_000,
            max_attempts: rules.max_attempts,
            base_delay_ms: rules.base_delay_ms,
            max_delay_ms: rules.max_delay_ms,
            lease_ms: rules.lease_ms,
            order_paid: template(
                "2100101",
                "您的订单{1}已付款{2}元，商家将尽快为您发货。",
                &["order_id", "amount_yuan"],
                "tpl-order-paid",
                &[("character_string1", "order_id"), ("amount2", "amount_cny"), ("phrase3", "=已付款")],
            ),
            order_shipped: template(
                "2100102",
                "您的订单{1}已由{2}发出，运单号{3}，请留意查收。",
                &["order_id", "courier", "waybill_no"],
                "tpl-order-shipped",
                &[
                    ("character_string1", "order_id"),
                    ("thing2", "courier"),
                    ("character_string3", "waybill_no"),
                ],
            ),
            order_delivered: template(
                "2100103",
                "您的订单{1}已签收，如有问题请在7天内申请售后。",
                &["order_id"],
                "tpl-order-delivered",
                &[("character_string1", "order_id"), ("phrase2", "=已签收")],
            ),
            refund_approved: template(
                "2100104",
                "您的订单{1}退款{2}元已同意，将原路退回。",
                &["order_id", "amount_yuan"],
                "tpl-refund-result",
                &[("character_string1", "order_id"), ("amount2", "amount_cny"), ("phrase3", "=已同意")],
            ),
            refund_rejected: template(
                "2100105",
                "您的订单{1}退款申请未通过：{2}",
                &["order_id", "reason"],
                "tpl-refund-rejected",
                &[("character_string1", "order_id"), ("thing2", "reason"), ("phrase3", "=未通过")],
            ),
            // Merchants have no mini-program openid: text only.
            shop_disconnected: template(
                "2100106",
                "您的{1}店铺{2}授权已失效，订单与库存同步已暂停，请登录商家后台重新授权。",
                &["platform", "shop_name"],
                "",
                &[],
            ),
            low_stock: template(
                "2100107",
                "您的商品“{1}”规格{2}库存仅剩{3}件，已到预警值{4}，请及时补货。",
                &["product_title", "sku", "stock", "threshold"],
                "",
                &[],
            ),
            sale_taken_down: template(
                "2100108",
                "您的商品“{1}”经用户举报、平台核实已下架，相关秒杀已暂停，原因：{2}。如有异议请联系平台客服。",
                &["product_title", "reason"],
                "",
                &[],
            ),
            merchant_banned: template(
                "2100109",
                "您的商家账号已被平台封禁，原因：{1}。秒杀已暂停、商品已下架、提现已冻结，如有异议请联系平台客服。",
                &["reason"],
                "",
                &[],
            ),
        }
    }
}

impl NotificationSettings {
    pub fn template(&self, kind: NoticeKind) -> &NoticeTemplate {
        match kind {
            NoticeKind::OrderPaid => &self.order_paid,
            NoticeKind::OrderShipped => &self.order_shipped,
            NoticeKind::OrderDelivered => &self.order_delivered,
            NoticeKind::RefundApproved => &self.refund_approved,
            NoticeKind::RefundRejected => &self.refund_rejected,
            NoticeKind::ShopDisconnected => &self.shop_disconnected,
            NoticeKind::LowStock => &self.low_stock,
            NoticeKind::SaleTakenDown => &self.sale_taken_down,
            NoticeKind::MerchantBanned => &self.merchant_banned,
        }
    }

    pub fn rules(&self) -> DeliveryRules {
        DeliveryRules {
            max_attempts: self.max_attempts,
            base_delay_ms: self.base_delay_ms,
            max_delay_ms: self.max_delay_ms,
            lease_ms: self.lease_ms,
        }
    }

    /// `(template id, approved text)` of every SMS template: what the SMS sandbox approves.
    pub fn sms_templates(&self) -> Vec<(String, String)> {
        let mut templates: Vec<(String, String)> = NoticeKind::ALL
            .iter()
            .map(|k| self.template(*k))
            .filter(|t| !t.sms_template_id.is_empty())
            .map(|t| (t.sms_template_id.clone(), t.sms_text.clone()))
            .collect();
        templates.dedup();
        templates
    }

    /// `(template id, keywords)` of every WeChat template: what the sandbox's mini program has.
    pub fn wechat_templates(&self) -> Vec<(String, Vec<String>)> {
        let mut templates: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for template in NoticeKind::ALL.iter().map(|k| self.template(*k)) {
            if !template.wechat_template_id.is_empty() {
                templates
                    .entry(template.wechat_template_id.clone())
                    .or_insert_with(|| template.wechat_data.keys().cloned().collect());
            }
        }
        templates.into_iter().collect()
    }

    /// What is wrong with the settings, if anything (checked at start).
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.batch_size == 0 || self.batch_size > 1_000 {
            problems.push("notifications.batch_size must be 1 to 1000".to_owned());
        }
        if self.max_attempts == 0 {
            problems.push("notifications.max_attempts must be at least 1".to_owned());
        }
        if self.base_delay_ms <= 0 || self.max_delay_ms < self.base_delay_ms {
            problems.push("notifications.base_delay_ms must be positive and at most max_delay_ms".to_owned());
        }
        if self.lease_ms < 10_000 {
            problems
                .push("notifications.lease_ms must be at least 10000, longer than any one send".to_owned());
        }
        for kind in NoticeKind::ALL {
            let template = self.template(kind);
            let placeholders = (1..=template.sms_params.len() + 1)
                .take_while(|i| template.sms_text.contains(&format!("{{{i}}}")))
                .count();
            if !template.sms_template_id.is_empty() && placeholders != template.sms_params.len() {
                problems.push(format!(
                    "notifications.{}: sms_text has {placeholders} placeholders for {} sms_params",
                    kind.as_str(),
                    template.sms_params.len()
                ));
            }
        }
        problems
    }
}

/// The value a template names: a notice parameter, or literal text after `=`.
pub fn value_of<'a>(source: &'a str, params: &'a BTreeMap<String, String>) -> Option<&'a str> {
    match source.strip_prefix('=') {
        Some(literal) => Some(literal),
        None => params.get(source).map(String::as_str),
    }
}

#[cfg(test)]
mod tests {
    use providers::wechat_mp::protocol::check_value;

    use super::*;

    #[test]
    fn the_defaults_are_sound_and_in_chinese() {
        let settings = NotificationSettings::default();
        assert_eq!(settings.problems(), Vec::<String>::new());
        assert_eq!(settings.sms_templates().len(), 9);
        for kind in NoticeKind::ALL {
            let template = settings.template(kind);
            assert!(template.sms_text.chars().any(|c| ('\u{4E00}'..='\u{9FFF}').contains(&c)), "{kind:?}");
            // Literal keyword values obey their keyword's rule.
            for (key, source) in &template.wechat_data {
                if let Some(literal) = source.strip_prefix('=') {
                    assert!(check_value(key, literal).is_ok(), "{key} {literal}");
                }
            }
        }
    }

    #[test]
    fn a_text_that_does_not_fit_its_params_is_a_problem() {
        let mut settings = NotificationSettings::default();
        settings.order_paid.sms_params.pop();
        settings.lease_ms = 1;
        let problems = settings.problems();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[1].contains("order_paid"));
    }

    #[test]
    fn values_are_parameters_or_literals() {
        let params = BTreeMap::from([("order_id".to_owned(), "42".to_owned())]);
        assert_eq!(value_of("order_id", &params), Some("42"));
        assert_eq!(value_of("=已发货", &params), Some("已发货"));
        assert_eq!(value_of("waybill_no", &params), None);
    }
}

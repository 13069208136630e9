//! [`Channels`]: the configured payment channels in order of preference, with the memory of
//! which one failed recently (failover with a cool-down). Every call goes through
//! [`PaymentChannel`]; [`Channels::client`] is the one place a channel's name becomes its client.

use std::time::{Duration, Instant};

use dashmap::DashMap;
use engine::Fen;
use engine::ledger::Channel;
use serde_json::Value;

use super::{
    AlipayClient, ChannelError, CreateRequest, PaymentChannel, RefundRequest, StatementLine, TradeStatus,
    WechatClient,
};

/// The configured channels, in order of preference, with the memory of which one failed.
pub struct Channels {
    pub wechat: Option<WechatClient>,
    pub alipay: Option<AlipayClient>,
    pub preference: Vec<Channel>,
    down_until: DashMap<Channel, Instant>,
    cooldown: Duration,
    /// Channels served by this server's own sandbox.
    pub bundled: Vec<Channel>,
}

impl Channels {
    pub fn new(
        wechat: Option<WechatClient>,
        alipay: Option<AlipayClient>,
        preference: Vec<Channel>,
        cooldown: Duration,
    ) -> Self {
        Self { wechat, alipay, preference, down_until: DashMap::new(), cooldown, bundled: Vec::new() }
    }

    pub fn is_bundled_sandbox(&self, channel: Channel) -> bool {
        self.bundled.contains(&channel)
    }

    pub fn is_down(&self, channel: Channel) -> bool {
        self.down_until.get(&channel).is_some_and(|until| Instant::now() < *until)
    }

    pub fn mark_down(&self, channel: Channel) {
        metrics::counter!("flashsale_channel_failures_total", "channel" => channel.as_str()).increment(1);
        self.down_until.insert(channel, Instant::now() + self.cooldown);
    }

    pub fn mark_up(&self, channel: Channel) {
        self.down_until.remove(&channel);
    }

    /// The client of a channel, if it is configured.
    pub fn client(&self, channel: Channel) -> Result<&dyn PaymentChannel, ChannelError> {
        let client: Option<&dyn PaymentChannel> = match channel {
            Channel::Wechat => self.wechat.as_ref().map(|c| c as &dyn PaymentChannel),
            Channel::Alipay => self.alipay.as_ref().map(|c| c as &dyn PaymentChannel),
            // Paid on the live platforms themselves: never a channel a buyer pays through here.
            Channel::Douyin | Channel::Kuaishou => None,
        };
        client.ok_or(ChannelError::Disabled(channel.as_str()))
    }

    pub fn offered(&self, channel: Channel) -> bool {
        self.preference.contains(&channel) && self.client(channel).is_ok()
    }

    /// The order to try channels in for a buyer who asked for `wanted`: that one first (unless
    /// it is known to be down), then the others by preference, known-down ones last.
    pub fn failover_order(&self, wanted: Channel) -> Vec<Channel> {
        let mut order: Vec<Channel> = std::iter::once(wanted)
            .chain(self.preference.iter().copied().filter(|c| *c != wanted))
            .filter(|c| self.offered(*c))
            .collect();
        order.sort_by_key(|c| self.is_down(*c));
        order
    }

    pub async fn create(&self, channel: Channel, request: &CreateRequest) -> Result<Value, ChannelError> {
        self.client(channel)?.create(request).await
    }

    pub async fn query(&self, channel: Channel, out_trade_no: &str) -> Result<TradeStatus, ChannelError> {
        self.client(channel)?.query(out_trade_no).await
    }

    pub async fn close(&self, channel: Channel, out_trade_no: &str) -> Result<(), ChannelError> {
        self.client(channel)?.close(out_trade_no).await
    }

    /// Refunds the whole of a payment of `amount`.
    pub async fn refund(
        &self,
        channel: Channel,
        out_trade_no: &str,
        out_refund_no: &str,
        amount: Fen,
    ) -> Result<bool, ChannelError> {
        self.refund_part(channel, out_trade_no, out_refund_no, amount, amount).await
    }

    /// Refunds `refund` of a payment of `total`; the same `out_refund_no` again is the same
    /// refund. `true` once the channel says it succeeded, `false` while it is processing.
    pub async fn refund_part(
        &self,
        channel: Channel,
        out_trade_no: &str,
        out_refund_no: &str,
        refund: Fen,
        total: Fen,
    ) -> Result<bool, ChannelError> {
        let request = RefundRequest {
            out_trade_no: out_trade_no.to_owned(),
            out_refund_no: out_refund_no.to_owned(),
            refund,
            total,
        };
        self.client(channel)?.refund(&request).await
    }

    pub async fn statement(
        &self,
        channel: Channel,
        bill_date: &str,
    ) -> Result<Vec<StatementLine>, ChannelError> {
        self.client(channel)?.statement(bill_date).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use engine::Timestamp;
    use engine::time::Clock;

    use super::*;
    use crate::crypto::test_keys;
    use crate::payments::wechat::protocol::PlatformKeys;
    use crate::payments::{PayMethod, SubMerchant};

    struct Stopped;

    impl Clock for Stopped {
        fn now(&self) -> Timestamp {
            Timestamp(1_795_000_000_000)
        }
    }

    /// Both clients, pointed at nothing: these tests never reach the network.
    fn channels(preference: Vec<Channel>) -> Channels {
        let clock: Arc<dyn Clock> = Arc::new(Stopped);
        let wechat = WechatClient {
            http: reqwest::Client::new(),
            base_url: "http://127.0.0.1:9/sandbox/wechat".into(),
            appid: "wxd678efh567hg6787".into(),
            mchid: "1900000109".into(),
            serial_no: "MERCHANT-SERIAL".into(),
            key: test_keys().0.clone(),
            platform: PlatformKeys::default(),
            api_v3_key: [b'k'; 32],
            notify_url: "http://127.0.0.1:9/api/v1/payments/wechat/notify".into(),
            clock: clock.clone(),
        };
        let alipay = AlipayClient {
            http: reqwest::Client::new(),
            gateway_url: "http://127.0.0.1:9/sandbox/alipay/gateway.do".into(),
            app_id: "2021000000000001".into(),
            key: test_keys().0.clone(),
            alipay_public: test_keys().1.to_public_key(),
            notify_url: "http://127.0.0.1:9/api/v1/payments/alipay/notify".into(),
            clock,
        };
        Channels::new(Some(wechat), Some(alipay), preference, Duration::from_secs(60))
    }

    #[test]
    fn the_wanted_channel_comes_first_unless_it_is_down() {
        let channels = channels(vec![Channel::Wechat, Channel::Alipay]);
        assert_eq!(channels.failover_order(Channel::Alipay), [Channel::Alipay, Channel::Wechat]);
        channels.mark_down(Channel::Alipay);
        assert!(channels.is_down(Channel::Alipay));
        assert_eq!(channels.failover_order(Channel::Alipay), [Channel::Wechat, Channel::Alipay]);
        channels.mark_up(Channel::Alipay);
        assert_eq!(channels.failover_order(Channel::Alipay), [Channel::Alipay, Channel::Wechat]);
    }

    #[test]
    fn a_channel_not_preferred_or_not_configured_is_not_offered() {
        let only_wechat = channels(vec![Channel::Wechat]);
        assert!(only_wechat.offered(Channel::Wechat) && !only_wechat.offered(Channel::Alipay));
        assert_eq!(only_wechat.failover_order(Channel::Alipay), [Channel::Wechat]);

        let mut no_alipay = channels(vec![Channel::Wechat, Channel::Alipay]);
        no_alipay.alipay = None;
        assert!(!no_alipay.offered(Channel::Alipay));
        assert!(matches!(no_alipay.client(Channel::Alipay), Err(ChannelError::Disabled("alipay"))));
        assert_eq!(no_alipay.client(Channel::Wechat).unwrap().channel(), Channel::Wechat);
    }

    #[tokio::test]
    async fn a_payment_for_a_sub_merchant_is_refused_until_partner_mode_is_spoken() {
        let channels = channels(vec![Channel::Wechat, Channel::Alipay]);
        for channel in [Channel::Wechat, Channel::Alipay] {
            let request = CreateRequest {
                out_trade_no: "FS1W".into(),
                amount: Fen(1_980),
                description: "口红 秒杀".into(),
                expires_at: Timestamp(1_795_000_900_000),
                method: PayMethod::Native.on(channel),
                payer_openid: None,
                payer_ip: "127.0.0.1".into(),
                return_url: None,
                sub_merchant: Some(SubMerchant { id: "1900000201".into(), app_id: None }),
                split: None,
            };
            let refused = channels.create(channel, &request).await.unwrap_err();
            assert!(matches!(refused, ChannelError::Disabled(what) if what.ends_with("partner mode")));
        }
    }
}

//! Settlement arithmetic: worked examples, then random operation sequences against a plain
//! reference model that recomputes every expected balance with 128-bit integers.

use std::collections::HashMap;

use proptest::prelude::*;

use super::*;
use crate::ledger::{Ledger, Posted};

const M: MerchantId = MerchantId(1);
const MCN: PartnerId = PartnerId(10);

fn op(s: &str) -> OpId {
    OpId(s.to_owned())
}

#[test]
fn fee_rounds_half_up_to_the_fen() {
    assert_eq!(channel_fee(Fen(10_000), 20), Fen(20)); // ¥100 at 0.2%
    assert_eq!(channel_fee(Fen(250), 20), Fen(1)); // 0.5 fen rounds up
    assert_eq!(channel_fee(Fen(249), 20), Fen(0)); // 0.498 rounds down
    assert_eq!(channel_fee(Fen(750), 20), Fen(2)); // 1.5 rounds up
    assert_eq!(channel_fee(Fen(1), 10_000), Fen(1));
}

#[test]
fn shares_are_floored_and_the_remainder_goes_to_the_merchant() {
    // ¥99.99 at 0.2%: fee 20 fen; net 9,979; MCN 10% = 997.9 → 997; merchant 8,982.
    let rule = SplitRule::new(vec![(MCN, 1_000)]).unwrap();
    let s = PaymentSettlement::compute(M, Channel::Wechat, Fen(9_999), 20, &rule);
    assert_eq!((s.fee_fen, s.partners[0].1, s.merchant_fen), (Fen(20), Fen(997), Fen(8_982)));
    assert_eq!(s.fee_fen.as_i64() + s.partners[0].1.as_i64() + s.merchant_fen.as_i64(), 9_999);
    assert!(!s.held);
    assert_eq!(SplitRule::new(vec![(MCN, 6_000), (PartnerId(11), 4_001)]), Err(SplitError::OverAllocated));
    assert_eq!(SplitRule::new(vec![(MCN, 1), (MCN, 2)]), Err(SplitError::DuplicatePartner(MCN)));
}

#[test]
fn capture_credits_at_once_and_a_full_refund_reverses_it_exactly() {
    let rule = SplitRule::new(vec![(MCN, 1_000)]).unwrap();
    let s = PaymentSettlement::compute(M, Channel::Alipay, Fen(12_345), 20, &rule);
    let mut ledger = Ledger::new();
    ledger.post(s.capture(op("pay:1"), Timestamp(0)));
    assert_eq!(ledger.owed(Account::MerchantAvailable(M)), s.merchant_fen);
    assert_eq!(ledger.owed(Account::PartnerAvailable(MCN)), s.partners[0].1);
    // three partial refunds adding up to the whole
    let mut refunded = Fen(0);
    for (i, part) in [1_000, 7, 11_338].into_iter().enumerate() {
        let posting = s.refund(op(&format!("refund:{i}")), refunded, Fen(part), true, Timestamp(1)).unwrap();
        ledger.post(posting);
        refunded = Fen(refunded.as_i64() + part);
    }
    for account in [
        Account::MerchantAvailable(M),
        Account::PartnerAvailable(MCN),
        Account::ChannelFees(Channel::Alipay),
        Account::ChannelClearing(Channel::Alipay),
    ] {
        assert_eq!(ledger.balance(account), 0, "{account}");
    }
    assert_eq!(
        s.refund(op("refund:x"), refunded, Fen(1), true, Timestamp(2)),
        Err(RefundError::ExceedsPayment { refunded: 12_345, gross: 12_345 })
    );
    ledger.verify().unwrap();
}

#[test]
fn an_owed_refund_and_its_confirmation_are_the_refund_exactly() {
    // 3 units at 33.33 yuan with a 30% MCN share: one unit back, then the rest.
    let rule = SplitRule::new(vec![(MCN, 3_000)]).unwrap();
    let s = PaymentSettlement::compute(M, Channel::Wechat, Fen(9_999), 60, &rule);
    let (mut direct, mut owed) = (Ledger::new(), Ledger::new());
    for ledger in [&mut direct, &mut owed] {
        ledger.post(s.capture(op("pay:1"), Timestamp(0)));
    }
    let mut refunded = Fen(0);
    for (i, part) in [3_333, 6_666].into_iter().enumerate() {
        direct.post(s.refund(op(&format!("refund:{i}")), refunded, Fen(part), true, Timestamp(1)).unwrap());
        let posting =
            s.refund_owed(op(&format!("owed:{i}")), refunded, Fen(part), true, Timestamp(1)).unwrap();
        assert!(posting.lines.iter().all(|l| l.account != Account::ChannelClearing(Channel::Wechat)));
        owed.post(posting);
        owed.post(refund_paid(op(&format!("paid:{i}")), Channel::Wechat, Fen(part), Timestamp(2)));
        refunded = Fen(refunded.as_i64() + part);
    }
    for account in [
        Account::MerchantAvailable(M),
        Account::PartnerAvailable(MCN),
        Account::ChannelFees(Channel::Wechat),
        Account::ChannelClearing(Channel::Wechat),
        Account::RefundsPayable(Channel::Wechat),
    ] {
        assert_eq!(owed.balance(account), direct.balance(account), "{account}");
        assert_eq!(owed.balance(account), 0, "{account}");
    }
    owed.verify().unwrap();
}

#[test]
fn a_large_payment_waits_for_review_then_is_credited() {
    // ¥60,000: over the AML threshold.
    let rule = SplitRule::new(vec![(MCN, 1_000)]).unwrap();
    let s = PaymentSettlement::compute(M, Channel::Wechat, Fen(6_000_000), 20, &rule);
    assert!(s.held);
    let mut ledger = Ledger::new();
    ledger.post(s.capture(op("pay:big"), Timestamp(0)));
    assert_eq!(ledger.owed(Account::MerchantAvailable(M)), Fen(0));
    assert_eq!(ledger.owed(Account::PartnerAvailable(MCN)), Fen(0));
    assert_eq!(ledger.owed(Account::MerchantPending(M)), Fen(6_000_000 - 12_000));
    ledger.post(s.release(op("release:big"), Fen(0), Timestamp(1)).unwrap());
    assert_eq!(ledger.owed(Account::MerchantPending(M)), Fen(0));
    assert_eq!(ledger.owed(Account::MerchantAvailable(M)), s.merchant_fen);
    assert_eq!(ledger.owed(Account::PartnerAvailable(MCN)), s.partners[0].1);
    ledger.verify().unwrap();
}

#[test]
fn rejected_and_unmatched_payments_are_owed_back_and_leave_nothing_behind() {
    let rule = SplitRule::new(vec![(MCN, 1_000)]).unwrap();
    let s = PaymentSettlement::compute(M, Channel::Wechat, Fen(6_000_000), 20, &rule);
    assert!(s.held);
    let mut ledger = Ledger::new();
    ledger.post(s.capture(op("pay:big"), Timestamp(0)));
    ledger.post(s.reject_held(op("reject:big"), Timestamp(1)));
    assert_eq!(ledger.owed(Account::RefundsPayable(Channel::Wechat)), Fen(6_000_000));
    ledger.post(payment_unmatched(op("late:1"), Channel::Wechat, Fen(990), Timestamp(2)));
    assert_eq!(ledger.owed(Account::RefundsPayable(Channel::Wechat)), Fen(6_000_990));
    ledger.post(refund_paid(op("refund:big"), Channel::Wechat, Fen(6_000_000), Timestamp(3)));
    ledger.post(refund_paid(op("refund:1"), Channel::Wechat, Fen(990), Timestamp(4)));
    for account in [
        Account::MerchantPending(M),
        Account::MerchantAvailable(M),
        Account::PartnerAvailable(MCN),
        Account::ChannelFees(Channel::Wechat),
        Account::ChannelClearing(Channel::Wechat),
        Account::RefundsPayable(Channel::Wechat),
    ] {
        assert_eq!(ledger.balance(account), 0, "{account}");
    }
    ledger.verify().unwrap();
}

#[test]
fn withdrawal_policy() {
    let policy = WithdrawalPolicy { daily_limit_fen: 1_000_000, minimum_fen: 100 };
    assert_eq!(policy.check(false, Fen(500), Fen(0), Fen(200)), Err(WithdrawalError::KycRequired));
    assert_eq!(policy.check(true, Fen(500), Fen(0), Fen(99)), Err(WithdrawalError::BelowMinimum(100)));
    assert_eq!(
        policy.check(true, Fen(500), Fen(0), Fen(501)),
        Err(WithdrawalError::InsufficientFunds { available: 500 })
    );
    assert_eq!(
        policy.check(true, Fen(5_000_000), Fen(999_000), Fen(2_000)),
        Err(WithdrawalError::DailyLimit { remaining: 1_000 })
    );
    assert_eq!(policy.check(true, Fen(5_000_000), Fen(999_000), Fen(1_000)), Ok(()));
}

// ---- property test --------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    Pay { merchant: i64, gross: i64, channel: bool, fee_bps: u32, mcn_bps: u32 },
    Replay { pick: usize },
    Refund { pick: usize, per_mille: u32 },
    Release { pick: usize },
    Withdraw { merchant: i64, per_mille: u32 },
    Settle { pick: usize, paid: bool },
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3i64, prop_oneof![1..50_000i64, 4_990_000..5_010_000i64], any::<bool>(), 0..=60u32, prop_oneof![Just(0u32), 1..=3_000u32])
            .prop_map(|(merchant, gross, channel, fee_bps, mcn_bps)| Op::Pay { merchant, gross, channel, fee_bps, mcn_bps }),
        1 => any::<usize>().prop_map(|pick| Op::Replay { pick }),
        3 => (any::<usize>(), 1..=1_000u32).prop_map(|(pick, per_mille)| Op::Refund { pick, per_mille }),
        1 => any::<usize>().prop_map(|pick| Op::Release { pick }),
        2 => (0..3i64, 1..=1_000u32).prop_map(|(merchant, per_mille)| Op::Withdraw { merchant, per_mille }),
        1 => (any::<usize>(), any::<bool>()).prop_map(|(pick, paid)| Op::Settle { pick, paid }),
    ]
}

/// The model's own record of a payment.
struct ModelPayment {
    settlement: PaymentSettlement,
    op: OpId,
    mcn_bps: u32,
    fee_bps: u32,
    refunded: i64,
    released: bool,
}

/// Expected parts refunded after `refunded` of `gross`, computed the slow obvious way.
fn model_parts(p: &ModelPayment, refunded: i64) -> (i128, i128, i128) {
    let gross = i128::from(p.settlement.gross_fen.as_i64());
    let fee = (gross * i128::from(p.fee_bps) + 5_000) / 10_000;
    let net = gross - fee;
    let mcn = net * i128::from(p.mcn_bps) / 10_000;
    let r = i128::from(refunded);
    let fee_r = fee * r / gross;
    let mcn_r = mcn * r / gross;
    (fee - fee_r, mcn - mcn_r, (net - mcn) - (r - fee_r - mcn_r))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn ledger_matches_the_model(ops in proptest::collection::vec(op_strategy(), 1..80)) {
        let mut ledger = Ledger::new();
        let mut payments: Vec<ModelPayment> = Vec::new();
        let mut in_flight: Vec<(MerchantId, i64, OpId)> = Vec::new();
        let mut withdrawn: HashMap<MerchantId, i64> = HashMap::new();
        let mut n = 0u64;
        let mut fresh = |kind: &str| { n += 1; OpId(format!("{kind}:{n}")) };

        for step in ops {
            match step {
                Op::Pay { merchant, gross, channel, fee_bps, mcn_bps } => {
                    let rule = if mcn_bps == 0 { SplitRule::merchant_only() } else { SplitRule::new(vec![(MCN, mcn_bps)]).unwrap() };
                    let channel = if channel { Channel::Wechat } else { Channel::Alipay };
                    let settlement = PaymentSettlement::compute(MerchantId(merchant), channel, Fen(gross), fee_bps, &rule);
                    let id = fresh("pay");
                    prop_assert_eq!(ledger.post(settlement.capture(id.clone(), Timestamp(0))), Posted::Applied);
                    payments.push(ModelPayment { settlement, op: id, mcn_bps, fee_bps, refunded: 0, released: false });
                }
                Op::Replay { pick } => {
                    if payments.is_empty() { continue; }
                    let p = &payments[pick % payments.len()];
                    prop_assert_eq!(ledger.post(p.settlement.capture(p.op.clone(), Timestamp(9))), Posted::Duplicate);
                }
                Op::Refund { pick, per_mille } => {
                    if payments.is_empty() { continue; }
                    let i = pick % payments.len();
                    let p = &payments[i];
                    let left = p.settlement.gross_fen.as_i64() - p.refunded;
                    if left == 0 { continue; }
                    let amount = (left * i64::from(per_mille) / 1_000).max(1);
                    let posting = p.settlement.refund(fresh("refund"), Fen(p.refunded), Fen(amount), p.released, Timestamp(1)).unwrap();
                    ledger.post(posting);
                    payments[i].refunded += amount;
                }
                Op::Release { pick } => {
                    if payments.is_empty() { continue; }
                    let i = pick % payments.len();
                    let p = &payments[i];
                    if !p.settlement.held || p.released { continue; }
                    let posting = p.settlement.release(fresh("release"), Fen(p.refunded), Timestamp(2));
                    if let Ok(posting) = posting { ledger.post(posting); }
                    payments[i].released = true;
                }
                Op::Withdraw { merchant, per_mille } => {
                    let m = MerchantId(merchant);
                    let available = ledger.owed(Account::MerchantAvailable(m)).as_i64();
                    let amount = available * i64::from(per_mille) / 1_000;
                    if amount <= 0 { continue; }
                    let id = fresh("withdraw");
                    ledger.post(withdrawal_requested(id.clone(), m, Fen(amount), Timestamp(3)));
                    in_flight.push((m, amount, id));
                }
                Op::Settle { pick, paid } => {
                    if in_flight.is_empty() { continue; }
                    let (m, amount, _) = in_flight.remove(pick % in_flight.len());
                    if paid {
                        ledger.post(withdrawal_paid(fresh("paid"), m, Fen(amount), Timestamp(4)));
                        *withdrawn.entry(m).or_default() += amount;
                    } else {
                        ledger.post(withdrawal_rejected(fresh("rejected"), m, Fen(amount), Timestamp(4)));
                    }
                }
            }

            // Σdebit = Σcredit, and balances are the fold of the postings.
            prop_assert_eq!(ledger.verify(), Ok(()));
            // Every balance, recomputed by the model.
            for merchant in 0..3 {
                let m = MerchantId(merchant);
                let (mut available, mut pending) = (0i128, 0i128);
                for p in payments.iter().filter(|p| p.settlement.merchant_id == m) {
                    let (_, mcn_left, merchant_left) = model_parts(p, p.refunded);
                    if p.settlement.held && !p.released {
                        pending += mcn_left + merchant_left;
                    } else {
                        available += merchant_left;
                    }
                }
                let flying: i64 = in_flight.iter().filter(|(x, _, _)| *x == m).map(|(_, a, _)| a).sum();
                let paid_out = withdrawn.get(&m).copied().unwrap_or(0);
                available -= i128::from(flying + paid_out);
                prop_assert_eq!(i128::from(ledger.owed(Account::MerchantAvailable(m)).as_i64()), available, "available of {}", merchant);
                prop_assert_eq!(i128::from(ledger.owed(Account::MerchantPending(m)).as_i64()), pending, "pending of {}", merchant);
                prop_assert_eq!(ledger.owed(Account::MerchantWithdrawing(m)).as_i64(), flying);
            }
            let mcn: i128 = payments.iter().filter(|p| !p.settlement.held || p.released).map(|p| model_parts(p, p.refunded).1).sum();
            prop_assert_eq!(i128::from(ledger.owed(Account::PartnerAvailable(MCN)).as_i64()), mcn);
            for channel in [Channel::Wechat, Channel::Alipay] {
                let of = |p: &&ModelPayment| p.settlement.channel == channel;
                let clearing: i64 = payments.iter().filter(of).map(|p| p.settlement.gross_fen.as_i64() - p.refunded).sum();
                let fees: i128 = payments.iter().filter(of).map(|p| model_parts(p, p.refunded).0).sum();
                prop_assert_eq!(ledger.owed(Account::ChannelClearing(channel)).as_i64(), clearing);
                prop_assert_eq!(i128::from(ledger.owed(Account::ChannelFees(channel)).as_i64()), fees);
            }
        }
        // A fully refunded payment leaves nothing behind on any of its accounts.
        for p in payments.iter().filter(|p| p.refunded == p.settlement.gross_fen.as_i64()) {
            prop_assert_eq!(model_parts(p, p.refunded), (0, 0, 0));
        }
    }
}

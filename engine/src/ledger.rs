//! A double-entry ledger: every movement of money is a [`Posting`] whose lines sum to zero.
//!
//! Amounts are signed fen: a positive line is a debit, a negative line a credit. Balances are
//! kept the same way, so an account that the platform owes money on (a merchant's balance, a
//! liability) has a negative raw balance; [`Ledger::owed`] turns it around for display.
//!
//! Each posting carries an operation id (`OpId`), e.g. `pay:wechat:4200001234`. Posting the
//! same id twice changes nothing the second time: a provider transaction is credited at most
//! once, however often its notification arrives.

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{Fen, MerchantId, Timestamp};

/// A payment channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Wechat,
    Alipay,
    /// Paid on the Douyin shop: the platform collected the money and settles it to the merchant.
    Douyin,
    /// Paid on the Kuaishou shop, likewise.
    Kuaishou,
}

impl Channel {
    pub const fn as_str(self) -> &'static str {
        match self {
            Channel::Wechat => "wechat",
            Channel::Alipay => "alipay",
            Channel::Douyin => "douyin",
            Channel::Kuaishou => "kuaishou",
        }
    }

    pub fn parse(raw: &str) -> Option<Channel> {
        match raw {
            "wechat" => Some(Channel::Wechat),
            "alipay" => Some(Channel::Alipay),
            "douyin" => Some(Channel::Douyin),
            "kuaishou" => Some(Channel::Kuaishou),
            _ => None,
        }
    }
}

/// An MCN or distributor that shares in a merchant's sales.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PartnerId(pub i64);

/// Where money sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Account {
    /// Asset: collected by the channel for the platform, not yet settled to the platform's bank.
    ChannelClearing(Channel),
    /// Liability: fees the channel withholds.
    ChannelFees(Channel),
    /// Liability: a merchant's money, withdrawable.
    MerchantAvailable(MerchantId),
    /// Liability: a merchant's money held back (anti-money-laundering review).
    MerchantPending(MerchantId),
    /// Liability: a merchant's money on its way to the merchant's bank.
    MerchantWithdrawing(MerchantId),
    /// Liability: a partner's (MCN, distributor) share.
    PartnerAvailable(PartnerId),
    /// Liability: money a channel collected that goes back to buyers (a payment that came too
    /// late or twice, a payment rejected in review), until the channel confirms the refund.
    RefundsPayable(Channel),
    /// Asset: the platform's custody bank account.
    PlatformBank,
}

impl Account {
    /// Whether the platform owes this money to someone (credit-normal).
    pub const fn is_liability(self) -> bool {
        !matches!(self, Account::ChannelClearing(_) | Account::PlatformBank)
    }
}

impl Account {
    /// The inverse of `Display`: `merchant_available:7` → `MerchantAvailable(MerchantId(7))`.
    pub fn parse(raw: &str) -> Option<Account> {
        if raw == "platform_bank" {
            return Some(Account::PlatformBank);
        }
        let (kind, id) = raw.split_once(':')?;
        let channel = || Channel::parse(id);
        let number = || id.parse::<i64>().ok().filter(|n| *n > 0 && id == n.to_string());
        Some(match kind {
            "channel_clearing" => Account::ChannelClearing(channel()?),
            "channel_fees" => Account::ChannelFees(channel()?),
            "refunds_payable" => Account::RefundsPayable(channel()?),
            "merchant_available" => Account::MerchantAvailable(MerchantId(number()?)),
            "merchant_pending" => Account::MerchantPending(MerchantId(number()?)),
            "merchant_withdrawing" => Account::MerchantWithdrawing(MerchantId(number()?)),
            "partner_available" => Account::PartnerAvailable(PartnerId(number()?)),
            _ => return None,
        })
    }
}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Account::ChannelClearing(c) => write!(f, "channel_clearing:{}", c.as_str()),
            Account::ChannelFees(c) => write!(f, "channel_fees:{}", c.as_str()),
            Account::MerchantAvailable(m) => write!(f, "merchant_available:{m}"),
            Account::MerchantPending(m) => write!(f, "merchant_pending:{m}"),
            Account::MerchantWithdrawing(m) => write!(f, "merchant_withdrawing:{m}"),
            Account::PartnerAvailable(p) => write!(f, "partner_available:{}", p.0),
            Account::RefundsPayable(c) => write!(f, "refunds_payable:{}", c.as_str()),
            Account::PlatformBank => f.write_str("platform_bank"),
        }
    }
}

/// One line of a posting: positive = debit, negative = credit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    pub account: Account,
    pub amount_fen: i64,
}

/// The identity of a posting; the same operation is never posted twice.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OpId(pub String);

/// A balanced set of lines, posted atomically.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posting {
    pub op: OpId,
    pub lines: Vec<Line>,
    pub at: Timestamp,
}

/// Why lines do not make a posting.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PostingError {
    #[error("a posting needs at least two lines")]
    TooFewLines,
    #[error("lines sum to {0} fen, not zero")]
    Unbalanced(i128),
    #[error("a line of zero fen")]
    ZeroLine,
}

impl Posting {
    /// Builds a posting, merging lines of the same account and checking that they balance.
    pub fn new(
        op: OpId,
        lines: impl IntoIterator<Item = Line>,
        at: Timestamp,
    ) -> Result<Posting, PostingError> {
        let mut merged: Vec<Line> = Vec::new();
        for line in lines {
            match merged.iter_mut().find(|l| l.account == line.account) {
                Some(existing) => existing.amount_fen += line.amount_fen,
                None => merged.push(line),
            }
        }
        merged.retain(|l| l.amount_fen != 0);
        if merged.len() < 2 {
            return Err(PostingError::TooFewLines);
        }
        let sum: i128 = merged.iter().map(|l| i128::from(l.amount_fen)).sum();
        if sum != 0 {
            return Err(PostingError::Unbalanced(sum));
        }
        Ok(Posting { op, lines: merged, at })
    }
}

/// What [`Ledger::post`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Posted {
    Applied,
    /// The operation was posted before; nothing changed.
    Duplicate,
}

/// Postings and the balances they add up to.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    postings: Vec<Posting>,
    seen: HashSet<OpId>,
    balances: HashMap<Account, i64>,
}

impl Ledger {
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies a posting unless its operation was applied before.
    pub fn post(&mut self, posting: Posting) -> Posted {
        if self.seen.contains(&posting.op) {
            return Posted::Duplicate;
        }
        let sum: i128 = posting.lines.iter().map(|l| i128::from(l.amount_fen)).sum();
        assert_eq!(sum, 0, "unbalanced posting {:?}", posting.op);
        for line in &posting.lines {
            let balance = self.balances.entry(line.account).or_default();
            *balance = balance.checked_add(line.amount_fen).expect("balance overflows i64 fen");
        }
        self.seen.insert(posting.op.clone());
        self.postings.push(posting);
        Posted::Applied
    }

    /// Whether an operation was posted.
    pub fn contains(&self, op: &OpId) -> bool {
        self.seen.contains(op)
    }

    pub fn postings(&self) -> &[Posting] {
        &self.postings
    }

    /// Raw balance: debits minus credits.
    pub fn balance(&self, account: Account) -> i64 {
        self.balances.get(&account).copied().unwrap_or(0)
    }

    /// What the platform owes on a liability account (credits minus debits), or holds on an
    /// asset account (debits minus credits): the number a merchant expects to see.
    pub fn owed(&self, account: Account) -> Fen {
        let raw = self.balance(account);
        Fen(if account.is_liability() { -raw } else { raw })
    }

    /// Recomputes every balance from the postings and compares: the ledger's core invariant.
    pub fn verify(&self) -> Result<(), String> {
        let mut folded: HashMap<Account, i64> = HashMap::new();
        let mut total: i128 = 0;
        for posting in &self.postings {
            let sum: i128 = posting.lines.iter().map(|l| i128::from(l.amount_fen)).sum();
            if sum != 0 {
                return Err(format!("posting {:?} sums to {sum}", posting.op));
            }
            for line in &posting.lines {
                *folded.entry(line.account).or_default() += line.amount_fen;
                total += i128::from(line.amount_fen);
            }
        }
        if total != 0 {
            return Err(format!("all postings sum to {total}"));
        }
        folded.retain(|_, v| *v != 0);
        let mut kept = self.balances.clone();
        kept.retain(|_, v| *v != 0);
        if folded != kept {
            return Err("balances differ from the fold of the postings".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(account: Account, amount_fen: i64) -> Line {
        Line { account, amount_fen }
    }

    #[test]
    fn postings_must_balance() {
        let m = Account::MerchantAvailable(MerchantId(1));
        let c = Account::ChannelClearing(Channel::Wechat);
        let at = Timestamp(0);
        assert!(Posting::new(OpId("a".into()), [line(c, 100), line(m, -100)], at).is_ok());
        assert_eq!(
            Posting::new(OpId("b".into()), [line(c, 100), line(m, -99)], at),
            Err(PostingError::Unbalanced(1))
        );
        assert_eq!(
            Posting::new(OpId("c".into()), [line(c, 100), line(c, -100)], at),
            Err(PostingError::TooFewLines)
        );
    }

    #[test]
    fn accounts_round_trip_through_their_names() {
        let all = [
            Account::ChannelClearing(Channel::Wechat),
            Account::ChannelFees(Channel::Alipay),
            Account::RefundsPayable(Channel::Wechat),
            Account::MerchantAvailable(MerchantId(7)),
            Account::MerchantPending(MerchantId(8)),
            Account::MerchantWithdrawing(MerchantId(9)),
            Account::PartnerAvailable(PartnerId(10)),
            Account::PlatformBank,
        ];
        for account in all {
            assert_eq!(Account::parse(&account.to_string()), Some(account));
        }
        for bad in [
            "",
            "merchant_available:",
            "merchant_available:0",
            "merchant_available:07",
            "x:1",
            "channel_fees:visa",
        ] {
            assert_eq!(Account::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn duplicates_change_nothing_and_balances_fold() {
        let m = Account::MerchantAvailable(MerchantId(1));
        let c = Account::ChannelClearing(Channel::Alipay);
        let mut ledger = Ledger::new();
        let posting =
            Posting::new(OpId("pay:1".into()), [line(c, 990), line(m, -990)], Timestamp(0)).unwrap();
        assert_eq!(ledger.post(posting.clone()), Posted::Applied);
        assert_eq!(ledger.post(posting), Posted::Duplicate);
        assert_eq!(ledger.owed(m), Fen(990));
        assert_eq!(ledger.owed(c), Fen(990));
        assert_eq!(ledger.postings().len(), 1);
        ledger.verify().unwrap();
    }
}

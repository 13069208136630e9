//! Money in the database: what the journal writer does with settlement events, and every
//! query of the ledger, a merchant's books, captures and withdrawals. Payment attempts are in
//! [`crate::payments`].

use engine::books::{Balances, Books, Entry, MoneyEvent, Withdrawal, WithdrawalState};
use engine::ledger::{Account, Channel, Line, OpId, PartnerId, Posting};
use engine::op::Op;
use engine::payment::{Capture, Review};
use engine::settlement::{PaymentSettlement, SplitRule};
use engine::{Fen, MerchantId, OrderId, OrderState, PaymentId, Timestamp, WithdrawalId};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait,
};

use crate::entities::{
    capture, merchant, order, partner, payment, posting, posting_line, split_rule, withdrawal,
};

// ---- the journal writer's side ---------------------------------------------------------------

pub(crate) async fn insert_capture(db: &impl ConnectionTrait, c: &Capture) -> Result<(), DbErr> {
    let s = &c.settlement;
    let row = capture::ActiveModel {
        order_id: Set(c.order_id.0),
        payment_id: Set(c.payment_id.0),
        merchant_id: Set(s.merchant_id.0),
        channel: Set(s.channel.as_str().to_owned()),
        transaction_id: Set(c.transaction_id.clone()),
        gross_fen: Set(s.gross_fen.as_i64()),
        fee_fen: Set(s.fee_fen.as_i64()),
        merchant_fen: Set(s.merchant_fen.as_i64()),
        partners: Set(c.partners_text()),
        held: Set(s.held),
        review: Set(c.review.as_str().to_owned()),
        created_at: Set(c.at.as_millis()),
        updated_at: Set(c.at.as_millis()),
    };
    // A retried batch finds its own row; another order with the same transaction would break
    // the unique index on (channel, transaction_id) and fail the batch instead.
    capture::Entity::insert(row)
        .on_conflict(OnConflict::column(capture::Column::OrderId).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    Ok(())
}

pub(crate) async fn insert_entry(db: &impl ConnectionTrait, entry: &Entry) -> Result<(), DbErr> {
    let at = entry.posting.at.as_millis();
    let op = entry.op().0.clone();
    posting::Entity::insert(posting::ActiveModel {
        op_id: Set(op.clone()),
        merchant_id: Set(entry.merchant_id.0),
        order_id: Set(entry.order_id.map(|o| o.0)),
        kind: Set(entry.kind.as_str().to_owned()),
        created_at: Set(at),
    })
    .on_conflict(OnConflict::column(posting::Column::OpId).do_nothing().to_owned())
    .exec_without_returning(db)
    .await?;
    let lines = entry.posting.lines.iter().enumerate().map(|(i, line)| posting_line::ActiveModel {
        op_id: Set(op.clone()),
        line_no: Set(i as i32),
        merchant_id: Set(entry.merchant_id.0),
        account: Set(line.account.to_string()),
        amount_fen: Set(line.amount_fen),
        created_at: Set(at),
    });
    posting_line::Entity::insert_many(lines)
        .on_conflict(
            OnConflict::columns([posting_line::Column::OpId, posting_line::Column::LineNo])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Marks a paid order `refunded`, only from a state a refund may follow (paid, shipped,
/// completed): written again, it changes nothing.
pub(crate) async fn refund_order(
    db: &impl ConnectionTrait,
    order_id: OrderId,
    at: Timestamp,
) -> Result<(), DbErr> {
    let refundable = [OrderState::Paid, OrderState::Shipped, OrderState::Completed].map(OrderState::as_str);
    order::Entity::update_many()
        .col_expr(order::Column::State, Expr::value(OrderState::Refunded.as_str()))
        .col_expr(order::Column::UpdatedAt, Expr::value(at.as_millis()))
        .filter(order::Column::Id.eq(order_id.0))
        .filter(order::Column::State.is_in(refundable))
        .exec(db)
        .await?;
    Ok(())
}

pub(crate) async fn apply(db: &impl ConnectionTrait, event: &MoneyEvent) -> Result<(), DbErr> {
    match event {
        MoneyEvent::Posted(entry) => insert_entry(db, entry).await,
        MoneyEvent::PlatformOrderPaid(paid) => crate::live_orders::insert_platform_order(db, paid).await,
        MoneyEvent::PlatformOrderRefunded { order_id, platform_order_id, entry } => {
            crate::live_orders::refund_platform_order(db, *order_id, platform_order_id, entry).await
        }
        MoneyEvent::Payment { payment_id, state, transaction_id, at } => {
            let mut update = payment::Entity::update_many()
                .col_expr(payment::Column::State, Expr::value(state.as_str()))
                .col_expr(payment::Column::UpdatedAt, Expr::value(at.as_millis()))
                .filter(payment::Column::Id.eq(payment_id.0));
            if let Some(txn) = transaction_id {
                update = update.col_expr(payment::Column::TransactionId, Expr::value(txn.clone()));
            }
            update.exec(db).await?;
            Ok(())
        }
        MoneyEvent::Reviewed { order_id, review, at } => {
            capture::Entity::update_many()
                .col_expr(capture::Column::Review, Expr::value(review.as_str()))
                .col_expr(capture::Column::UpdatedAt, Expr::value(at.as_millis()))
                .filter(capture::Column::OrderId.eq(order_id.0))
                .exec(db)
                .await?;
            Ok(())
        }
        MoneyEvent::OrderRefunded { order_id, at } => refund_order(db, *order_id, *at).await,
        MoneyEvent::RefundDecided(decision) => {
            crate::refunds::apply_decision(db, decision).await?;
            // The buyer hears of the decision through the outbox, committed with it or not at all.
            crate::outbox::enqueue(db, &decision.notice()).await?;
            Ok(())
        }
        MoneyEvent::RefundRequestPaid { refund_id, at } => {
            crate::refunds::mark_refunded(db, *refund_id, *at).await
        }
        MoneyEvent::Withdrawal(w) => {
            let row = withdrawal::ActiveModel {
                id: Set(w.id.0),
                merchant_id: Set(w.merchant_id.0),
                amount_fen: Set(w.amount_fen.as_i64()),
                state: Set(w.state.as_str().to_owned()),
                reason: Set(w.reason.clone()),
                created_at: Set(w.created_at.as_millis()),
                updated_at: Set(w.updated_at.as_millis()),
            };
            withdrawal::Entity::insert(row)
                .on_conflict(
                    OnConflict::column(withdrawal::Column::Id)
                        .update_columns([
                            withdrawal::Column::State,
                            withdrawal::Column::Reason,
                            withdrawal::Column::UpdatedAt,
                        ])
                        .to_owned(),
                )
                .exec_without_returning(db)
                .await?;
            Ok(())
        }
        MoneyEvent::KycDecided { merchant_id, verified, at: _ } => {
            merchant::Entity::update_many()
                .col_expr(merchant::Column::KycVerified, Expr::value(*verified))
                .filter(merchant::Column::Id.eq(merchant_id.0))
                .exec(db)
                .await?;
            Ok(())
        }
        MoneyEvent::SplitRuleSet { merchant_id, rule, at: _ } => {
            replace_split_rule(db, *merchant_id, rule).await
        }
    }
}

/// Replaces a merchant's split rule (inside the writer's transaction, so a retry repeats it).
async fn replace_split_rule(
    db: &impl ConnectionTrait,
    merchant_id: MerchantId,
    rule: &SplitRule,
) -> Result<(), DbErr> {
    split_rule::Entity::delete_many()
        .filter(split_rule::Column::MerchantId.eq(merchant_id.0))
        .exec(db)
        .await?;
    if !rule.partners().is_empty() {
        split_rule::Entity::insert_many(rule.partners().iter().map(|(p, bps)| split_rule::ActiveModel {
            merchant_id: Set(merchant_id.0),
            partner_id: Set(p.0),
            bps: Set(*bps as i32),
        }))
        .exec_without_returning(db)
        .await?;
    }
    Ok(())
}

// ---- a merchant's books ----------------------------------------------------------------------

pub(crate) fn bad(what: String) -> DbErr {
    DbErr::Custom(what)
}

pub(crate) fn channel_of(raw: &str) -> Result<Channel, DbErr> {
    Channel::parse(raw).ok_or_else(|| bad(format!("unknown channel {raw:?}")))
}

/// Everything a settlement actor starts from.
pub async fn books(db: &DatabaseConnection, merchant_id: MerchantId) -> Result<Books, DbErr> {
    let headers = posting::Entity::find()
        .filter(posting::Column::MerchantId.eq(merchant_id.0))
        .order_by_asc(posting::Column::CreatedAt)
        .order_by_asc(posting::Column::OpId)
        .all(db)
        .await?;
    let lines = posting_line::Entity::find()
        .filter(posting_line::Column::MerchantId.eq(merchant_id.0))
        .order_by_asc(posting_line::Column::OpId)
        .order_by_asc(posting_line::Column::LineNo)
        .all(db)
        .await?;
    let mut by_op: std::collections::HashMap<String, Vec<Line>> = std::collections::HashMap::new();
    for line in lines {
        let account = Account::parse(&line.account)
            .ok_or_else(|| bad(format!("unknown account {:?}", line.account)))?;
        by_op.entry(line.op_id).or_default().push(Line { account, amount_fen: line.amount_fen });
    }
    let mut postings = Vec::with_capacity(headers.len());
    for header in headers {
        let lines = by_op.remove(&header.op_id).unwrap_or_default();
        let posting = Posting::new(OpId(header.op_id.clone()), lines, Timestamp(header.created_at))
            .map_err(|e| bad(format!("posting {}: {e}", header.op_id)))?;
        postings.push(posting);
    }
    let captures = capture::Entity::find()
        .filter(capture::Column::MerchantId.eq(merchant_id.0))
        .all(db)
        .await?
        .into_iter()
        .map(capture_of)
        .collect::<Result<Vec<_>, _>>()?;
    let withdrawals = withdrawal::Entity::find()
        .filter(withdrawal::Column::MerchantId.eq(merchant_id.0))
        .all(db)
        .await?
        .into_iter()
        .map(withdrawal_of)
        .collect::<Result<Vec<_>, _>>()?;
    let kyc_verified =
        merchant::Entity::find_by_id(merchant_id.0).one(db).await?.is_some_and(|m| m.kyc_verified);
    let refunds = crate::refunds::decided_of_merchant(db, merchant_id).await?;
    Ok(Books {
        postings,
        captures,
        withdrawals,
        kyc_verified,
        split: split_rule(db, merchant_id).await?,
        refunds,
    })
}

fn capture_of(row: capture::Model) -> Result<Capture, DbErr> {
    let partners = Capture::parse_partners(&row.partners)
        .ok_or_else(|| bad(format!("capture of order {}: partners {:?}", row.order_id, row.partners)))?;
    Ok(Capture {
        order_id: OrderId(row.order_id),
        payment_id: PaymentId(row.payment_id),
        transaction_id: row.transaction_id,
        settlement: PaymentSettlement {
            merchant_id: MerchantId(row.merchant_id),
            channel: channel_of(&row.channel)?,
            gross_fen: Fen(row.gross_fen),
            fee_fen: Fen(row.fee_fen),
            merchant_fen: Fen(row.merchant_fen),
            partners,
            held: row.held,
        },
        review: Review::parse(&row.review).ok_or_else(|| bad(format!("review {:?}", row.review)))?,
        at: Timestamp(row.created_at),
    })
}

fn withdrawal_of(row: withdrawal::Model) -> Result<Withdrawal, DbErr> {
    Ok(Withdrawal {
        id: WithdrawalId(row.id),
        merchant_id: MerchantId(row.merchant_id),
        amount_fen: Fen(row.amount_fen),
        state: WithdrawalState::parse(&row.state)
            .ok_or_else(|| bad(format!("withdrawal state {:?}", row.state)))?,
        reason: row.reason,
        created_at: Timestamp(row.created_at),
        updated_at: Timestamp(row.updated_at),
    })
}

pub async fn split_rule(db: &DatabaseConnection, merchant_id: MerchantId) -> Result<SplitRule, DbErr> {
    let rows = split_rule::Entity::find()
        .filter(split_rule::Column::MerchantId.eq(merchant_id.0))
        .order_by_asc(split_rule::Column::PartnerId)
        .all(db)
        .await?;
    SplitRule::new(rows.into_iter().map(|r| (PartnerId(r.partner_id), r.bps as u32)).collect())
        .map_err(|e| bad(format!("split rule of merchant {merchant_id}: {e}")))
}

pub async fn insert_partner(db: &DatabaseConnection, name: &str, now: Timestamp) -> Result<PartnerId, DbErr> {
    let row =
        partner::ActiveModel { id: NotSet, name: Set(name.to_owned()), created_at: Set(now.as_millis()) };
    Ok(PartnerId(partner::Entity::insert(row).exec(db).await?.last_insert_id))
}

pub async fn partner_exists(db: &DatabaseConnection, id: PartnerId) -> Result<bool, DbErr> {
    Ok(partner::Entity::find_by_id(id.0).one(db).await?.is_some())
}

pub async fn merchant_exists(db: &DatabaseConnection, merchant_id: MerchantId) -> Result<bool, DbErr> {
    Ok(merchant::Entity::find_by_id(merchant_id.0).one(db).await?.is_some())
}

pub async fn largest_withdrawal_id(db: &DatabaseConnection) -> Result<Option<OrderId>, DbErr> {
    let max: Option<Option<i64>> = withdrawal::Entity::find()
        .select_only()
        .column_as(withdrawal::Column::Id.max(), "max_id")
        .into_tuple()
        .one(db)
        .await?;
    Ok(max.flatten().map(OrderId))
}

// ---- the ledger, read ------------------------------------------------------------------------

/// `SUM(amount_fen)` as a BIGINT: Postgres widens a sum of BIGINTs to NUMERIC.
fn sum_of_amounts() -> Expr {
    Expr::col(posting_line::Column::AmountFen).sum().cast_as("BIGINT")
}

/// What the database says a merchant has: the fold of its accounts' lines.
pub async fn balances(db: &DatabaseConnection, merchant_id: MerchantId) -> Result<Balances, DbErr> {
    let accounts = Balances::accounts(merchant_id);
    let sums: Vec<(String, Option<i64>)> = posting_line::Entity::find()
        .select_only()
        .column(posting_line::Column::Account)
        .column_as(sum_of_amounts(), "total")
        .filter(posting_line::Column::Account.is_in(accounts.iter().map(|a| a.to_string())))
        .group_by(posting_line::Column::Account)
        .into_tuple()
        .all(db)
        .await?;
    // Liabilities: the platform owes credits minus debits.
    let owed = |account: Account| {
        Fen(-sums.iter().find(|(a, _)| *a == account.to_string()).and_then(|(_, s)| *s).unwrap_or(0))
    };
    Ok(Balances { available: owed(accounts[0]), pending: owed(accounts[1]), withdrawing: owed(accounts[2]) })
}

/// One line of a merchant's statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementLine {
    pub op_id: String,
    pub kind: String,
    pub order_id: Option<i64>,
    pub account: String,
    /// Credit to the merchant positive (what the merchant reads), debit negative.
    pub amount_fen: i64,
    pub created_at: i64,
}

/// Which of a merchant's lines to read.
#[derive(Debug, Clone, Default)]
pub struct StatementFilter {
    /// `available`, `pending` or `withdrawing`; all three when `None`.
    pub account: Option<Account>,
    pub kind: Option<String>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
}

/// The lines on a merchant's own accounts, newest first, a page at a time; and how many in all.
pub async fn statement(
    db: &DatabaseConnection,
    merchant_id: MerchantId,
    filter: &StatementFilter,
    offset: u64,
    limit: u64,
) -> Result<(Vec<StatementLine>, u64), DbErr> {
    let accounts: Vec<String> = match filter.account {
        Some(account) => vec![account.to_string()],
        None => Balances::accounts(merchant_id).iter().map(ToString::to_string).collect(),
    };
    let mut query = posting_line::Entity::find().filter(posting_line::Column::Account.is_in(accounts));
    if let Some(from) = filter.from {
        query = query.filter(posting_line::Column::CreatedAt.gte(from.as_millis()));
    }
    if let Some(to) = filter.to {
        query = query.filter(posting_line::Column::CreatedAt.lt(to.as_millis()));
    }
    if let Some(kind) = &filter.kind {
        let ops = posting::Entity::find()
            .select_only()
            .column(posting::Column::OpId)
            .filter(posting::Column::MerchantId.eq(merchant_id.0))
            .filter(posting::Column::Kind.eq(kind.clone()))
            .into_query();
        query = query.filter(posting_line::Column::OpId.in_subquery(ops));
    }
    let total = query.clone().count(db).await?;
    let lines = query
        .order_by_desc(posting_line::Column::CreatedAt)
        .order_by_desc(posting_line::Column::OpId)
        .order_by_asc(posting_line::Column::LineNo)
        .offset(offset)
        .limit(limit)
        .all(db)
        .await?;
    let ops: Vec<String> = lines.iter().map(|l| l.op_id.clone()).collect();
    let headers = posting::Entity::find().filter(posting::Column::OpId.is_in(ops)).all(db).await?;
    let header = |op: &str| headers.iter().find(|h| h.op_id == op);
    Ok((
        lines
            .into_iter()
            .map(|l| StatementLine {
                kind: header(&l.op_id).map(|h| h.kind.clone()).unwrap_or_default(),
                order_id: header(&l.op_id).and_then(|h| h.order_id),
                op_id: l.op_id,
                account: l.account,
                amount_fen: -l.amount_fen,
                created_at: l.created_at,
            })
            .collect(),
        total,
    ))
}

/// The whole ledger's check, from the database alone: Σ of all lines, and the postings whose
/// own lines do not sum to zero.
pub async fn ledger_check(db: &DatabaseConnection) -> Result<(i64, Vec<String>, u64), DbErr> {
    let total: Option<Option<i64>> = posting_line::Entity::find()
        .select_only()
        .column_as(sum_of_amounts(), "total")
        .into_tuple()
        .one(db)
        .await?;
    let unbalanced: Vec<(String, Option<i64>)> = posting_line::Entity::find()
        .select_only()
        .column(posting_line::Column::OpId)
        .column_as(sum_of_amounts(), "total")
        .group_by(posting_line::Column::OpId)
        .having(ExprTrait::ne(posting_line::Column::AmountFen.sum(), Expr::value(0i64)))
        .into_tuple()
        .all(db)
        .await?;
    let postings = posting::Entity::find().count(db).await?;
    Ok((total.flatten().unwrap_or(0), unbalanced.into_iter().map(|(op, _)| op).collect(), postings))
}

/// Captures waiting for an operator's review (AML), oldest first.
pub async fn captures_under_review(db: &DatabaseConnection) -> Result<Vec<Capture>, DbErr> {
    capture::Entity::find()
        .filter(capture::Column::Review.eq(Review::Pending.as_str()))
        .order_by_asc(capture::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(capture_of)
        .collect()
}

pub async fn capture_of_order(db: &DatabaseConnection, order_id: OrderId) -> Result<Option<Capture>, DbErr> {
    capture::Entity::find_by_id(order_id.0).one(db).await?.map(capture_of).transpose()
}

pub async fn withdrawals(
    db: &DatabaseConnection,
    merchant_id: Option<MerchantId>,
    state: Option<WithdrawalState>,
) -> Result<Vec<Withdrawal>, DbErr> {
    let mut query = withdrawal::Entity::find();
    if let Some(m) = merchant_id {
        query = query.filter(withdrawal::Column::MerchantId.eq(m.0));
    }
    if let Some(s) = state {
        query = query.filter(withdrawal::Column::State.eq(s.as_str()));
    }
    query.order_by_desc(withdrawal::Column::CreatedAt).all(db).await?.into_iter().map(withdrawal_of).collect()
}

pub async fn withdrawal_by_id(
    db: &DatabaseConnection,
    id: WithdrawalId,
) -> Result<Option<Withdrawal>, DbErr> {
    withdrawal::Entity::find_by_id(id.0).one(db).await?.map(withdrawal_of).transpose()
}

/// One money movement through a channel as the ledger records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelMovement {
    /// The channel's transaction id.
    pub transaction_id: String,
    /// `PAY` (money in) or `REFUND` (money out).
    pub kind: &'static str,
    pub amount_fen: i64,
}

/// What the ledger says moved through a channel's clearing account in `[from, to)`, with the
/// channel's own transaction ids, for reconciliation against the channel's statement.
pub async fn channel_movements(
    db: &DatabaseConnection,
    channel: Channel,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<ChannelMovement>, DbErr> {
    let lines = posting_line::Entity::find()
        .filter(posting_line::Column::Account.eq(Account::ChannelClearing(channel).to_string()))
        .filter(posting_line::Column::CreatedAt.gte(from.as_millis()))
        .filter(posting_line::Column::CreatedAt.lt(to.as_millis()))
        .all(db)
        .await?;
    let mut movements = Vec::with_capacity(lines.len());
    for line in lines {
        let movement = match Op::parse(&OpId(line.op_id.clone())) {
            Some(Op::Payment { transaction_id, .. } | Op::Unmatched { transaction_id, .. }) => {
                ChannelMovement { transaction_id, kind: "PAY", amount_fen: line.amount_fen }
            }
            Some(Op::PlatformRefund { platform_order_id, .. }) => ChannelMovement {
                transaction_id: platform_order_id,
                kind: "REFUND",
                amount_fen: -line.amount_fen,
            },
            Some(Op::Refund { payment_id, .. } | Op::RefundPart { payment_id, .. }) => {
                let txn = payment::Entity::find_by_id(payment_id.0)
                    .one(db)
                    .await?
                    .and_then(|p| p.transaction_id)
                    .unwrap_or_default();
                ChannelMovement { transaction_id: txn, kind: "REFUND", amount_fen: -line.amount_fen }
            }
            _ => return Err(bad(format!("unexpected clearing line {}", line.op_id))),
        };
        movements.push(movement);
    }
    Ok(movements)
}

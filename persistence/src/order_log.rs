//! The order log: the durability point of the hot path.
//!
//! The journal writer appends each batch of placements and order changes to this file as one
//! record and calls `fdatasync` on it; once that returns, the batch survives `kill -9` and power
//! loss, and its requests are answered. The database learns the batch right after, behind the
//! acknowledgement, in the same order ([`crate::journal::run_writer_with_log`]). An fsync of a
//! small append costs a fraction of a millisecond; a database transaction per batch on the
//! acknowledgement path cost several.
//!
//! The file starts with a magic number and the identity of its database (a random number kept
//! in the database's settings), so that a log is never applied to another database than its
//! own: the server refuses to start instead. A record is `[payload length: u32 LE][CRC-32 of the payload: u32 LE][payload]`, the payload
//! being the batch as JSON (`[[seq, event], …]`). Records are only ever appended, so a crash
//! can leave at most one record torn, the last: reading stops at the first record that is short,
//! fails its checksum or does not parse, and the file is cut there. No acknowledgement ever
//! depended on that record (its `fdatasync` had not returned), so dropping it whole loses
//! nothing that was promised and applies nothing by halves.
//!
//! The log only holds what the database may not have yet. At start, [`recover`] applies every
//! record the database does not hold (it stores the last applied sequence number in the same
//! transaction as each batch) and empties the log; while running, the writer empties it whenever
//! it outgrows its bound and the database has caught up.
//!
//! Only placements and order changes are logged: they are the storm. Payments, money, restocks
//! and live-platform events are rare and keep the database commit as their durability point;
//! the writer lets nothing after such an event be acknowledged before it is committed.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use actors::{JournalEvent, Seq};
use engine::{Order, StateChange};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, Set};
use serde::{Deserialize, Serialize};

use crate::entities::setting;

const HEADER: usize = 8;
const MAGIC: &[u8; 8] = b"FSORDLG1";
/// The file's own header: the magic number and the database's identity.
const FILE_HEADER: u64 = 16;
/// The settings row holding the last sequence number the database applied.
pub const APPLIED_KEY: &str = "journal_applied_seq";
/// The settings row holding the database's identity, written into its log.
pub const IDENTITY_KEY: &str = "order_log_database_id";

/// A logged event, as written.
#[derive(Serialize)]
enum LoggedRef<'a> {
    Placed(&'a [Order]),
    Changed(&'a [StateChange]),
}

/// A logged event, as read back.
#[derive(Deserialize)]
enum Logged {
    Placed(Vec<Order>),
    Changed(Vec<StateChange>),
}

/// Whether `event` goes through the log (else its durability point is the database commit).
pub fn loggable(event: &JournalEvent) -> bool {
    matches!(event, JournalEvent::OrdersPlaced(_) | JournalEvent::OrdersChanged(_))
}

/// The open log, appended to by the journal writer alone.
#[derive(Debug)]
pub struct OrderLog {
    file: File,
    path: PathBuf,
    len: u64,
    buffer: Vec<u8>,
}

/// What [`OrderLog::open`] found.
#[derive(Debug, Default)]
pub struct Opened {
    /// Every whole record's events, in order.
    pub events: Vec<(Seq, JournalEvent)>,
    /// Bytes cut off the end: a record torn by a crash (0 after a clean stop).
    pub torn_bytes: u64,
}

impl OrderLog {
    /// Opens the log at `path` for the database `identity` (creating it and its directory),
    /// reads every whole record and cuts off a torn tail, durably, so that new records never
    /// follow garbage. A log of another database is refused.
    pub fn open(path: &Path, identity: u64) -> io::Result<(Self, Opened)> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let existed = path.exists();
        let mut file = OpenOptions::new().read(true).append(true).create(true).open(path)?;
        if !existed {
            // The new file's directory entry must survive power loss too.
            sync_parent(path)?;
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        if bytes.len() < FILE_HEADER as usize {
            // New, or torn while its header was written (no record can follow a torn header).
            file.set_len(0)?;
            file.write_all(MAGIC)?;
            file.write_all(&identity.to_le_bytes())?;
            file.sync_all()?;
            let log = OrderLog { file, path: path.to_owned(), len: FILE_HEADER, buffer: Vec::new() };
            return Ok((log, Opened::default()));
        }
        let (magic, rest) = bytes.split_at(MAGIC.len());
        let owner = u64::from_le_bytes(rest[..8].try_into().expect("8 bytes"));
        if magic != MAGIC || owner != identity {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} is not the order log of this database (its header names database {owner:016x}, \
                     this one is {identity:016x}): point journal.log_path at this database's own log",
                    path.display()
                ),
            ));
        }
        let (events, whole) = parse(&bytes[FILE_HEADER as usize..]);
        let whole = FILE_HEADER + whole as u64;
        let torn_bytes = bytes.len() as u64 - whole;
        if torn_bytes > 0 {
            file.set_len(whole)?;
            file.sync_all()?;
        }
        let log = OrderLog { file, path: path.to_owned(), len: whole, buffer: Vec::new() };
        Ok((log, Opened { events, torn_bytes }))
    }

    /// Appends the loggable events of `batch` as one record and waits for `fdatasync`.
    pub fn append(&mut self, batch: &[(Seq, JournalEvent)]) -> io::Result<()> {
        encode(batch, &mut self.buffer);
        self.file.write_all(&self.buffer)?;
        // fdatasync: the data and the file's new length, which is what reading it back needs.
        self.file.sync_data()?;
        self.len += self.buffer.len() as u64;
        Ok(())
    }

    /// Bytes in the log, its header included.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the log holds no record.
    pub fn is_empty(&self) -> bool {
        self.len == FILE_HEADER
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Empties the log: the caller knows the database holds every record in it.
    pub fn clear(&mut self) -> io::Result<()> {
        self.file.set_len(FILE_HEADER)?;
        self.file.sync_all()?;
        self.len = FILE_HEADER;
        Ok(())
    }
}

fn sync_parent(path: &Path) -> io::Result<()> {
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => File::open(dir)?.sync_all(),
        None => File::open(".")?.sync_all(),
    }
}

/// One record for the loggable events of `batch`, into `out` (cleared first).
pub fn encode(batch: &[(Seq, JournalEvent)], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&[0; HEADER]);
    let entries: Vec<(Seq, LoggedRef<'_>)> = batch
        .iter()
        .filter_map(|(seq, event)| match event {
            JournalEvent::OrdersPlaced(orders) => Some((*seq, LoggedRef::Placed(orders))),
            JournalEvent::OrdersChanged(changes) => Some((*seq, LoggedRef::Changed(changes))),
            _ => None,
        })
        .collect();
    serde_json::to_writer(&mut *out, &entries).expect("orders serialise to JSON");
    let payload = &out[HEADER..];
    let len = u32::try_from(payload.len()).expect("a batch record under 4 GiB");
    let crc = crc32fast::hash(payload);
    out[..4].copy_from_slice(&len.to_le_bytes());
    out[4..HEADER].copy_from_slice(&crc.to_le_bytes());
}

/// Every whole record at the start of `bytes`, and how many bytes they take.
pub fn parse(bytes: &[u8]) -> (Vec<(Seq, JournalEvent)>, usize) {
    let mut events = Vec::new();
    let mut at = 0;
    while let Some((record, next)) = record_at(bytes, at) {
        events.extend(record);
        at = next;
    }
    (events, at)
}

fn record_at(bytes: &[u8], at: usize) -> Option<(Vec<(Seq, JournalEvent)>, usize)> {
    let header = bytes.get(at..at + HEADER)?;
    let len = u32::from_le_bytes(header[..4].try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(header[4..].try_into().ok()?);
    // An empty payload is never written (`[]` at least): zeros past the end are not a record.
    if len == 0 {
        return None;
    }
    let payload = bytes.get(at + HEADER..at + HEADER + len)?;
    if crc32fast::hash(payload) != crc {
        return None;
    }
    let entries: Vec<(Seq, Logged)> = serde_json::from_slice(payload).ok()?;
    let events = entries
        .into_iter()
        .map(|(seq, logged)| {
            let event = match logged {
                Logged::Placed(orders) => JournalEvent::OrdersPlaced(orders),
                Logged::Changed(changes) => JournalEvent::OrdersChanged(changes),
            };
            (seq, event)
        })
        .collect();
    Some((events, at + HEADER + len))
}

/// The last sequence number the database applied (0 if none was recorded).
pub async fn applied_seq<C: ConnectionTrait>(db: &C) -> Result<Seq, DbErr> {
    let row = setting::Entity::find_by_id(APPLIED_KEY.to_owned()).one(db).await?;
    Ok(row.and_then(|r| r.value.parse().ok()).unwrap_or(0))
}

/// Records, inside the caller's transaction, that the database holds every event up to `seq`.
pub async fn set_applied_seq<C: ConnectionTrait>(db: &C, seq: Seq) -> Result<(), DbErr> {
    let row = setting::ActiveModel { key: Set(APPLIED_KEY.to_owned()), value: Set(seq.to_string()) };
    setting::Entity::insert(row)
        .on_conflict(
            OnConflict::column(setting::Column::Key).update_column(setting::Column::Value).to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// What recovery did, for the start-up log line.
#[derive(Debug)]
pub struct Recovered {
    pub log: OrderLog,
    /// The last sequence number any earlier run used: the journal numbers after it.
    pub last_seq: Seq,
    /// Events the database did not hold and now does.
    pub replayed: usize,
    pub torn_bytes: u64,
}

/// Opens the log at `path`, applies to the database every record it does not hold yet (in one
/// transaction, with the new applied mark) and empties the log. Runs before anything reads
/// orders from the database: the stock actors are rebuilt from what this leaves there.
pub async fn recover(db: &DatabaseConnection, path: &Path) -> anyhow::Result<Recovered> {
    let fresh = format!("{:016x}", rand::random::<u64>());
    let identity = crate::repo::setting_or_insert(db, IDENTITY_KEY, fresh).await?;
    let identity = u64::from_str_radix(&identity, 16)?;
    let (mut log, opened) = OrderLog::open(path, identity)?;
    let applied = applied_seq(db).await?;
    let tail: Vec<(Seq, JournalEvent)> =
        opened.events.into_iter().filter(|(seq, _)| *seq > applied).collect();
    let last_seq = tail.last().map_or(applied, |(seq, _)| *seq).max(applied);
    if !tail.is_empty() {
        crate::journal::write_batch(db, &tail, Some(last_seq)).await?;
    }
    log.clear()?;
    Ok(Recovered { log, last_seq, replayed: tail.len(), torn_bytes: opened.torn_bytes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::{BuyerId, Fen, FlashSaleId, IdempotencyKey, MerchantId, OrderId, OrderState, Timestamp};
    use proptest::prelude::*;

    fn order(id: i64) -> Order {
        Order {
            id: OrderId(id),
            flash_sale_id: FlashSaleId(7),
            merchant_id: MerchantId(3),
            buyer_id: BuyerId(id * 10),
            quantity: 2,
            amount_fen: Fen(1_998),
            state: OrderState::PendingPayment,
            idempotency_key: IdempotencyKey::parse(&format!("key-{id}")).unwrap(),
            client_network: None,
            created_at: Timestamp(1_000 + id),
            expires_at: Timestamp(901_000 + id),
            updated_at: Timestamp(1_000 + id),
        }
    }

    fn batch(first_seq: Seq, orders: i64) -> Vec<(Seq, JournalEvent)> {
        let placed = (0..orders).map(|i| order(first_seq as i64 * 100 + i)).collect();
        let change = StateChange {
            order_id: OrderId(first_seq as i64 * 100),
            from: OrderState::PendingPayment,
            to: OrderState::Expired,
            at: Timestamp(5),
        };
        vec![
            (first_seq, JournalEvent::OrdersPlaced(placed)),
            (first_seq + 1, JournalEvent::OrdersChanged(vec![change])),
        ]
    }

    #[test]
    fn records_read_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("orders.log");
        let (mut log, opened) = OrderLog::open(&path, 42).unwrap();
        assert!(opened.events.is_empty());
        assert!(log.is_empty());
        log.append(&batch(1, 3)).unwrap();
        log.append(&batch(3, 1)).unwrap();
        drop(log);
        let (log, opened) = OrderLog::open(&path, 42).unwrap();
        let mut expected = batch(1, 3);
        expected.extend(batch(3, 1));
        assert_eq!(opened.events, expected);
        assert_eq!(opened.torn_bytes, 0);
        assert_eq!(log.len(), std::fs::metadata(&path).unwrap().len());
        drop(log);
        let refused = OrderLog::open(&path, 43).unwrap_err();
        assert!(refused.to_string().contains("not the order log of this database"), "{refused}");
    }

    #[test]
    fn events_the_log_does_not_carry_are_left_out_of_the_record() {
        let mut with_restock = batch(1, 1);
        with_restock.push((
            3,
            JournalEvent::Restocked {
                refund_id: engine::RefundId(1),
                order_id: OrderId(1),
                units: 1,
                at: Timestamp(1),
            },
        ));
        assert!(!loggable(&with_restock[2].1));
        let mut bytes = Vec::new();
        encode(&with_restock, &mut bytes);
        assert_eq!(parse(&bytes).0, batch(1, 1));
    }

    proptest! {
        /// A crash tears the last record at any byte, or leaves zeros or garbage after it:
        /// every whole record before it is read, the torn one is dropped whole, the file is cut
        /// where the whole records end, and the next append reads back after them.
        #[test]
        fn a_torn_tail_is_dropped_whole_at_any_byte(
            records in 1usize..5,
            cut_in_last in any::<prop::sample::Index>(),
            junk in prop::collection::vec(any::<u8>(), 0..40),
            zeros in any::<bool>(),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("orders.log");
            let (mut log, _) = OrderLog::open(&path, 42).unwrap();
            let mut whole = Vec::new();
            for r in 0..records - 1 {
                let b = batch(1 + 2 * r as u64, 1 + r as i64);
                log.append(&b).unwrap();
                whole.extend(b);
            }
            let whole_len = log.len();
            drop(log);
            // The last record, written only in part.
            let mut last = Vec::new();
            encode(&batch(100, 2), &mut last);
            let cut = cut_in_last.index(last.len());
            let mut tail = last[..cut].to_vec();
            if zeros { tail.extend(std::iter::repeat_n(0, junk.len())) } else { tail.extend(&junk) }
            let mut file = OpenOptions::new().append(true).open(&path).unwrap();
            file.write_all(&tail).unwrap();
            drop(file);

            let (mut log, opened) = OrderLog::open(&path, 42).unwrap();
            prop_assert_eq!(&opened.events, &whole);
            prop_assert_eq!(opened.torn_bytes, tail.len() as u64);
            prop_assert_eq!(std::fs::metadata(&path).unwrap().len(), whole_len);
            log.append(&batch(200, 1)).unwrap();
            drop(log);
            let (_, opened) = OrderLog::open(&path, 42).unwrap();
            let mut expected = whole.clone();
            expected.extend(batch(200, 1));
            prop_assert_eq!(opened.events, expected);
        }
    }
}

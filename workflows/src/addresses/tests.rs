//! Addresses in storage, on SQLite or (with `TEST_DATABASE_URL`) Postgres.

use engine::address::MAX_SAVED_ADDRESSES;
use engine::{Fen, IdempotencyKey, Order, OrderState, Phone};
use persistence::{entities, repo};
use sea_orm::{ActiveValue::Set, EntityTrait as _};

use super::*;
use crate::testing::{START_MS, TestDb, seed_sale};

fn typed(detail: &str) -> AddressInput<'_> {
    AddressInput {
        name: "张三",
        phone: "13812348000",
        province: "广东省",
        city: "深圳市",
        district: "南山区",
        district_code: None,
        detail,
    }
}

#[tokio::test]
async fn saved_addresses_are_validated_bounded_masked_and_private() {
    let guard = TestDb::new().await;
    let db = persistence::connect(&guard.url, 4, false).await.unwrap();
    let now = Timestamp(START_MS);
    let buyer = repo::buyer_for_phone(&db, &Phone::parse("13800000001").unwrap(), now).await.unwrap();
    let other = repo::buyer_for_phone(&db, &Phone::parse("13800000002").unwrap(), now).await.unwrap();
    let bad = AddressInput { city: "北京市", ..typed("科技园1栋") };
    assert!(
        matches!(save(&db, buyer, &bad, false, now).await, Err(AddressFailure::Invalid(e)) if e.field() == "city")
    );
    let first = save(&db, buyer, &typed("科技园南区1栋101"), false, now).await.unwrap();
    assert!(first.is_default, "the first address is the default");
    assert_eq!(first.address.district_code, 440305);
    for i in 1..MAX_SAVED_ADDRESSES {
        save(&db, buyer, &typed(&format!("科技园南区{i}栋")), i == 5, now).await.unwrap();
    }
    let over = save(&db, buyer, &typed("科技园南区99栋"), false, now).await;
    assert!(matches!(over, Err(AddressFailure::TooMany { max: MAX_SAVED_ADDRESSES })));
    let listed = list(&db, buyer).await.unwrap();
    assert_eq!(listed.len() as u64, MAX_SAVED_ADDRESSES);
    assert_eq!(listed.iter().filter(|a| a.is_default).count(), 1);
    assert!(listed[0].is_default);
    assert_eq!(listed[0].address.detail, "科技园…", "a short detail keeps at most half");
    let whole = persistence::addresses::of_buyer(&db, buyer).await.unwrap();
    assert_eq!(whole[0].address.detail, "科技园南区5栋", "the last one asked to be the default is");
    assert_eq!((listed[0].address.name.as_str(), listed[0].address.phone.as_str()), ("张*", "138****8000"));
    // Another buyer sees none of them, and cannot use them for an order.
    assert!(list(&db, other).await.unwrap().is_empty());
    assert!(persistence::addresses::saved(&db, other, first.id).await.unwrap().is_none());
    assert!(!persistence::addresses::delete(&db, other, first.id).await.unwrap());
    assert!(persistence::addresses::delete(&db, buyer, first.id).await.unwrap());
    save(&db, buyer, &typed("科技园南区99栋"), false, now).await.unwrap();
}

#[tokio::test]
async fn only_the_buyer_sets_an_unpaid_orders_address() {
    let guard = TestDb::new().await;
    let db = persistence::connect(&guard.url, 4, false).await.unwrap();
    let now = Timestamp(START_MS);
    let (sale, merchant) = seed_sale(&db).await;
    let buyer = repo::buyer_for_phone(&db, &Phone::parse("13800000001").unwrap(), now).await.unwrap();
    let other = repo::buyer_for_phone(&db, &Phone::parse("13800000002").unwrap(), now).await.unwrap();
    let order = Order {
        id: OrderId(77),
        flash_sale_id: sale,
        merchant_id: merchant,
        buyer_id: buyer,
        quantity: 1,
        amount_fen: Fen(1_990),
        state: OrderState::PendingPayment,
        idempotency_key: IdempotencyKey::parse("k1").unwrap(),
        client_network: None,
        created_at: now,
        expires_at: now.plus_millis(900_000),
        updated_at: now,
    };
    entities::order::Entity::insert(repo::order_row(&order)).exec(&db).await.unwrap();
    let saved = save(&db, buyer, &typed("科技园南区1栋101"), false, now).await.unwrap();
    let theirs = set_for_order(&db, order.id, other, OrderAddress::Typed(typed("别人的地址1号")), now).await;
    assert!(matches!(theirs, Err(AddressFailure::NotFound)));
    let borrowed = set_for_order(&db, order.id, other, OrderAddress::Saved(saved.id), now).await;
    assert!(matches!(borrowed, Err(AddressFailure::NotFound)));
    assert_eq!(persistence::addresses::of_order(&db, order.id).await.unwrap(), None);
    set_for_order(&db, order.id, buyer, OrderAddress::Saved(saved.id), now).await.unwrap();
    let changed =
        set_for_order(&db, order.id, buyer, OrderAddress::Typed(typed("科技园北区2栋")), now).await.unwrap();
    assert_eq!(persistence::addresses::of_order(&db, order.id).await.unwrap(), Some(changed));
    // Paid: the address is fixed.
    let paid = entities::order::ActiveModel { id: Set(77), state: Set("paid".into()), ..Default::default() };
    entities::order::Entity::update(paid).exec(&db).await.unwrap();
    let late = set_for_order(&db, order.id, buyer, OrderAddress::Typed(typed("科技园东区3栋")), now).await;
    assert!(matches!(late, Err(AddressFailure::NotPending("paid"))));
    let kept = persistence::addresses::of_order(&db, order.id).await.unwrap().unwrap();
    assert_eq!(kept.detail, "科技园北区2栋");
}

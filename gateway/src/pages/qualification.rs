//! The merchant console's qualification page (`/console/qualification`): where the review
//! stands and why, the documents uploaded and an upload form, the qualification form, and
//! what the platform holds back (a ban, a takedown) with its reason. Everything it changes goes
//! through `PUT /api/v1/merchants/me/qualification` and `POST /api/v1/merchants/me/documents`
//! (the page's script, `assets/console.js`).

use actix_web::{HttpRequest, HttpResponse, web};
use engine::qualification::ReviewState;
use maud::html;
use persistence::qualification as stored;
use workflows::merchants::documents::DocumentSettings;

use super::console::{frame, merchant_of, trouble};
use super::layout::beijing;
use super::see_other;
use crate::AppState;

fn state_label(state: ReviewState) -> &'static str {
    match state {
        ReviewState::None => "未提交",
        ReviewState::Pending => "审核中",
        ReviewState::Manual => "人工审核中",
        ReviewState::Approved => "已通过",
        ReviewState::Rejected => "未通过",
    }
}

fn kind_label(kind: &str) -> &str {
    match kind {
        DocumentSettings::BUSINESS_LICENCE => "营业执照",
        DocumentSettings::ID_CARD_FRONT => "法人身份证人像面",
        DocumentSettings::ID_CARD_BACK => "法人身份证国徽面",
        "food_production" => "食品生产许可证",
        "food_operation" => "食品经营许可证",
        "cosmetics_production" => "化妆品生产许可证",
        other => other,
    }
}

/// `GET /console/qualification`.
pub async fn page(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    let Some((merchant, shop)) = merchant_of(&state, &request).await else {
        return see_other("/console/login");
    };
    let read = async {
        let qualification = stored::qualification(&state.db, merchant).await?;
        let documents = stored::documents_of(&state.db, merchant, 100).await?;
        let held = persistence::trust::suspended_sales_of(&state.db, merchant, 50).await?;
        Ok::<_, persistence::DbErr>((qualification, documents, held))
    };
    let (qualification, documents, held) = match read.await {
        Ok(read) => read,
        Err(error) => return trouble(&error),
    };
    let review = qualification.as_ref().map_or(ReviewState::None, |q| q.review_state);
    let reasons = qualification.as_ref().map(|q| q.review_reasons.clone()).unwrap_or_default();
    let kinds = state.trust.documents.settings().kinds.clone();
    let rules = &state.trust.reviews.settings().rules;
    let q = qualification.as_ref();
    let value = |f: fn(&stored::QualificationRecord) -> Option<String>| q.and_then(f).unwrap_or_default();
    let body = html! {
        h1 { "资质认证" }
        section.card aria-labelledby="review-title" {
            h2 #review-title { "审核状态：" span #review-state data-state=(review.as_str()) { (state_label(review)) } }
            @match review {
                ReviewState::Approved => { p { "资质已通过审核，可以创建秒杀。" } }
                ReviewState::Pending => { p { "提交后自动核验，通常几分钟内完成。刷新页面查看结果。" } }
                ReviewState::Manual => { p { "自动核验无法确认，已转人工审核。" } }
                ReviewState::Rejected => { p { "请按下列原因修改后重新提交。" } }
                ReviewState::None => { p { "只有资质审核通过的商家才能创建秒杀。请上传证件并填写下方资料。" } }
            }
            @if !reasons.is_empty() {
                ul #review-reasons {
                    @for r in &reasons {
                        li { strong { (r.field) } "：" (r.message) " (" (r.code) ")" }
                    }
                }
            }
            @if !held.is_empty() {
                h3 { "被平台暂停的秒杀" }
                ul #held-sales {
                    @for (sale, reason) in &held {
                        li { a href=(format!("/console/sales/{}", sale.0)) { "秒杀 " (sale.0) } "：" (reason) }
                    }
                }
            }
        }
        section.card aria-labelledby="documents-title" {
            h2 #documents-title { "证件照片" }
            p.muted { "PNG 或 JPEG，每边 300 到 8000 像素。公司和个体工商户需营业执照；所有人需法人身份证正反面；经营需许可的类目另需许可证。" }
            @if !documents.is_empty() {
                ul #documents {
                    @for d in &documents {
                        li { (kind_label(&d.kind)) "（" (d.width) "×" (d.height) "，" (beijing(d.uploaded_at)) "）" }
                    }
                }
            }
            form.inline-form data-upload="/api/v1/merchants/me/documents" novalidate {
                div.field {
                    label for="kind" { "证件类型" }
                    select #kind name="kind" {
                        @for kind in &kinds { option value=(kind) { (kind_label(kind)) } }
                    }
                }
                div.field {
                    label for="file" { "照片" }
                    input #file name="file" type="file" accept="image/png,image/jpeg" required;
                }
                button.secondary type="submit" { "上传" }
                p.form-error role="alert" {}
            }
        }
        section.card aria-labelledby="form-title" {
            h2 #form-title { "主体信息" }
            form.stack data-api="PUT /api/v1/merchants/me/qualification" data-qualification="1" data-then="reload" novalidate {
                div.field {
                    label for="entity_type" { "主体类型" }
                    select #entity_type name="entity_type" {
                        @for (value, label) in [("company", "公司"), ("individual_business", "个体工商户"), ("individual", "个人")] {
                            option value=(value) selected[q.is_some_and(|q| q.entity_type.as_str() == value)] { (label) }
                        }
                    }
                }
                div.field {
                    label for="business_name" { "营业执照名称（个人不填）" }
                    input #business_name name="business_name" type="text" value=(value(|q| q.business_name.clone()));
                }
                div.field {
                    label for="licence_number" { "统一社会信用代码（个人不填）" }
                    input #licence_number name="licence_number" type="text" autocapitalize="characters" value=(value(|q| q.licence_number.clone()));
                }
                div.field {
                    label for="legal_person_name" { "法人姓名" }
                    input #legal_person_name name="legal_person_name" type="text" required value=(value(|q| Some(q.legal_person_name.clone())));
                }
                div.field {
                    label for="legal_person_id_no" { "法人身份证号" }
                    input #legal_person_id_no name="legal_person_id_no" type="text" autocapitalize="characters" required;
                }
                div.field {
                    label for="contact_name" { "联系人" }
                    input #contact_name name="contact_name" type="text" required value=(value(|q| Some(q.contact_name.clone())));
                }
                div.field {
                    label for="contact_phone" { "联系电话" }
                    input #contact_phone name="contact_phone" type="tel" inputmode="numeric" required value=(value(|q| Some(q.contact_phone.clone())));
                }
                div.field {
                    label for="categories" { "经营类目（逗号分隔）：" (rules.categories.iter().map(|c| format!("{} {}", c.category, c.name)).collect::<Vec<_>>().join("、")) }
                    input #categories name="categories" data-kind="list" type="text" required value=(q.map(|q| q.categories.join(",")).unwrap_or_default());
                }
                div.field {
                    label for="permit_kind" { "许可证类型（食品、化妆品等类目需要）" }
                    select #permit_kind name="permit_kind" {
                        option value="" { "无" }
                        @for p in &rules.permits { option value=(p.kind) { (p.name) } }
                    }
                }
                div.field {
                    label for="permit_number" { "许可证编号" }
                    input #permit_number name="permit_number" type="text";
                }
                button.primary type="submit" { "提交审核" }
                p.form-error role="alert" {}
            }
        }
    };
    frame(&state, &request, "资质认证", "/console/qualification", &shop, body)
}

//! The operator console's pages for keeping sellers honest: the qualifications the automated
//! review left to a person (`/admin/qualifications`), fans' reports with takedown
//! (`/admin/reports`), and bans (`/admin/bans`). Each decision is made by the page's script
//! through the role-checked, audited `/api/v1/operator/…` route.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use engine::qualification::ReviewState;
use maud::{Markup, html};
use persistence::qualification as stored;
use serde_json::json;

use super::admin::{frame, role_label, staff_of, trouble};
use super::layout::beijing;
use super::see_other;
use crate::AppState;
use crate::access::DutyKind;
use crate::auth::Staff;

/// The signed-in operator whose role may decide about merchants, or the answer to give.
async fn reviewer(state: &AppState, request: &HttpRequest, active: &str) -> Result<Staff, HttpResponse> {
    let Some(staff) = staff_of(state, request).await else { return Err(see_other("/admin/login")) };
    if !staff.role.may(DutyKind::Kyc) {
        let body = html! {
            h1 { "没有权限" }
            p { "这个页面需要审核员或管理员（" (role_label(staff.role)) "不能处理）。" }
        };
        let mut answer = frame(state, request, &staff, active, "没有权限", body);
        *answer.status_mut() = StatusCode::FORBIDDEN;
        return Err(answer);
    }
    Ok(staff)
}

fn call_error() -> Markup {
    html! { p.form-error #call-error role="alert" {} }
}

/// `GET /admin/qualifications`: the manual-review queue, each with approve and reject.
pub async fn qualifications(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    let active = "/admin/qualifications";
    let staff = match reviewer(&state, &request, active).await {
        Ok(staff) => staff,
        Err(answer) => return answer,
    };
    let now = state.clock.now().plus_millis(1);
    let queue = match stored::in_state(&state.db, ReviewState::Manual, now, 100).await {
        Ok(queue) => queue,
        Err(error) => return trouble(&error),
    };
    let body = html! {
        h1 { "资质人工审核" }
        p.muted { "自动核验无法确认（核验服务不确定或不可用）的商家在这里，由人工决定。" }
        (call_error())
        @if queue.is_empty() {
            div.card.empty { p { "没有待人工审核的资质。" } }
        }
        @for q in &queue {
            section.card #(format!("qualification-{}", q.merchant_id.0)) {
                h2 { "商家 " (q.merchant_id.0) "（第 " (q.revision) " 次提交）" }
                dl {
                    dt { "主体" } dd { (q.entity_type.as_str()) " " (q.business_name.clone().unwrap_or_default()) }
                    dt { "统一社会信用代码" } dd { (q.licence_number.clone().unwrap_or_default()) }
                    dt { "法人" } dd { (q.legal_person_name) }
                    dt { "联系人" } dd { (q.contact_name) " " (q.contact_phone) }
                    dt { "类目" } dd { (q.categories.join("、")) }
                    dt { "提交时间" } dd { (beijing(q.submitted_at)) }
                    dt { "转人工原因" } dd { @for r in &q.review_reasons { (r.message) " " } }
                }
                button.secondary type="button"
                    data-call=(format!("POST /api/v1/operator/qualifications/{}/decision", q.merchant_id.0))
                    data-body=(json!({"revision": q.revision, "approve": true}).to_string()) { "通过" }
                form.inline-form data-api=(format!("POST /api/v1/operator/qualifications/{}/decision", q.merchant_id.0))
                    data-decision="1" data-then="reload" novalidate {
                    input type="hidden" name="revision" data-kind="int" value=(q.revision);
                    div.field {
                        label for=(format!("field-{}", q.merchant_id.0)) { "问题字段" }
                        select #(format!("field-{}", q.merchant_id.0)) name="field" {
                            @for f in ["business_name", "licence_number", "legal_person_name", "legal_person_id_no", "documents", "permits"] {
                                option value=(f) { (f) }
                            }
                        }
                    }
                    div.field {
                        label for=(format!("reason-{}", q.merchant_id.0)) { "驳回原因" }
                        input #(format!("reason-{}", q.merchant_id.0)) name="message" type="text" required;
                    }
                    button.danger type="submit" { "驳回" }
                    p.form-error role="alert" {}
                }
            }
        }
    };
    frame(&state, &request, &staff, active, "资质人工审核", body)
}

/// `GET /admin/reports`: open reports, each with takedown and dismiss.
pub async fn reports(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    let active = "/admin/reports";
    let staff = match reviewer(&state, &request, active).await {
        Ok(staff) => staff,
        Err(answer) => return answer,
    };
    let open = match persistence::trust::reports_in_state(&state.db, "open", 0, 100).await {
        Ok(open) => open,
        Err(error) => return trouble(&error),
    };
    let body = html! {
        h1 { "用户举报" }
        p.muted { "下架会立即暂停该秒杀、下架商品，并把原因告诉商家；每次处理都记入审计日志。" }
        (call_error())
        @if open.is_empty() {
            div.card.empty { p { "没有待处理的举报。" } }
        } @else {
            div.table-wrap tabindex="0" {
                table {
                    thead { tr { th { "编号" } th { "商家" } th { "秒杀" } th { "商品" } th { "原因" } th { "说明" } th { "时间" } th { "处理" } } }
                    tbody {
                        @for r in &open {
                            tr #(format!("report-{}", r.id)) {
                                td { (r.id) }
                                td { (r.merchant_id.0) }
                                td { @if let Some(sale) = r.flash_sale_id { (sale.0) } }
                                td { (r.product_id.0) }
                                td { (r.reason) }
                                td { (r.text) }
                                td.nowrap { (beijing(r.created_at)) }
                                td.actions {
                                    label.visually-hidden for=(format!("decision-{}", r.id)) { "处理说明" }
                                    input #(format!("decision-{}", r.id)) type="text" placeholder="处理说明";
                                    button.danger type="button" data-call=(format!("POST /api/v1/operator/reports/{}/takedown", r.id))
                                        data-reason=(format!("decision-{}", r.id)) { "下架" }
                                    button.secondary type="button" data-call=(format!("POST /api/v1/operator/reports/{}/dismiss", r.id))
                                        data-reason=(format!("decision-{}", r.id)) { "驳回举报" }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    frame(&state, &request, &staff, active, "用户举报", body)
}

/// `GET /admin/bans`: bans in force with unban, and a form to ban a merchant.
pub async fn bans(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    let active = "/admin/bans";
    let staff = match reviewer(&state, &request, active).await {
        Ok(staff) => staff,
        Err(answer) => return answer,
    };
    let banned = match persistence::trust::bans_in_force(&state.db, 200).await {
        Ok(banned) => banned,
        Err(error) => return trouble(&error),
    };
    let body = html! {
        h1 { "封禁商家" }
        section.card aria-labelledby="ban-title" {
            h2 #ban-title { "封禁" }
            p.muted { "封禁后：该商家所有秒杀立即停止接单，商品下架，提现冻结，无法登录，相同执照号或身份证号不能再次注册。" }
            form.inline-form data-api="POST /api/v1/operator/merchants/{merchant_id}/ban" data-then="reload" novalidate {
                div.field {
                    label for="merchant_id" { "商家编号" }
                    input #merchant_id name="merchant_id" data-path="1" data-kind="int" type="text" inputmode="numeric" required;
                }
                div.field {
                    label for="ban-reason" { "原因" }
                    input #ban-reason name="reason" type="text" required;
                }
                button.danger type="submit" { "封禁" }
                p.form-error role="alert" {}
            }
        }
        (call_error())
        @if banned.is_empty() {
            div.card.empty { p { "没有被封禁的商家。" } }
        } @else {
            div.table-wrap tabindex="0" {
                table {
                    thead { tr { th { "商家" } th { "原因" } th { "操作人" } th { "时间" } th { "解封" } } }
                    tbody {
                        @for b in &banned {
                            tr #(format!("ban-{}", b.merchant_id.0)) {
                                td { (b.merchant_id.0) }
                                td { (b.reason) }
                                td { (b.banned_by) }
                                td.nowrap { (beijing(b.banned_at)) }
                                td.actions {
                                    label.visually-hidden for=(format!("unban-{}", b.merchant_id.0)) { "解封说明" }
                                    input #(format!("unban-{}", b.merchant_id.0)) type="text" placeholder="解封说明";
                                    button.secondary type="button" data-call=(format!("POST /api/v1/operator/merchants/{}/unban", b.merchant_id.0))
                                        data-reason=(format!("unban-{}", b.merchant_id.0)) { "解封" }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    frame(&state, &request, &staff, active, "封禁商家", body)
}

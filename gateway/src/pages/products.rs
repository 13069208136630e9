//! The merchant console's catalogue pages: the product and SKU editor (`/console/products/{id}`:
//! text, status, SKUs with their stock and low-stock badge, pictures uploaded and reordered,
//! after-sales policy, revisions) and bulk import (`/console/products/import`: the templates,
//! a dry run that lists every bad row, the import). Every action goes through the JSON API
//! (`assets/console.js`: `data-api` forms, `data-call` buttons, `data-upload` file forms).

use actix_web::{HttpRequest, HttpResponse, web};
use engine::ProductId;
use engine::catalogue::ProductState;
use maud::{Markup, html};
use persistence::catalogue as stored;

use super::console::{frame, merchant_of, trouble};
use super::layout::{beijing, yuan};
use super::{not_found_page, see_other};
use crate::AppState;

/// A product state as the console says it.
pub fn state_label(state: ProductState) -> &'static str {
    match state {
        ProductState::Draft => "草稿",
        ProductState::UnderReview => "审核中",
        ProductState::Listed => "在售",
        ProductState::Delisted => "已下架",
    }
}

fn yuan_input(fen: i64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

fn values_text(values: &std::collections::BTreeMap<String, String>) -> String {
    if values.is_empty() {
        return "默认".to_owned();
    }
    values.iter().map(|(k, v)| format!("{k}：{v}")).collect::<Vec<_>>().join(" / ")
}

/// `GET /console/products/{id}`: the editor.
pub async fn editor(state: web::Data<AppState>, request: HttpRequest, id: web::Path<i64>) -> HttpResponse {
    let Some((merchant, shop)) = merchant_of(&state, &request).await else {
        return see_other("/console/login");
    };
    let id = ProductId(id.into_inner());
    let product = match stored::detail_of_merchant(&state.db, merchant, id).await {
        Ok(Some(product)) => product,
        Ok(None) => return not_found_page(),
        Err(error) => return trouble(&error),
    };
    let revisions = match stored::revisions(&state.db, id, 20).await {
        Ok(revisions) => revisions,
        Err(error) => return trouble(&error),
    };
    let p = &product.product;
    let moves: Vec<(ProductState, &str)> =
        [(ProductState::Listed, "上架"), (ProductState::Delisted, "下架"), (ProductState::Draft, "转为草稿")]
            .into_iter()
            .filter(|(to, _)| product.state.merchant_may_move(*to))
            .collect();
    let body = html! {
        p { a href="/console/products" { "‹ 商品" } }
        h1 { "编辑商品" }
        section.card aria-labelledby="status" {
            h2 #status { "状态：" span.tag data-state=(product.state.as_str()) { (state_label(product.state)) } }
            @if let Some(reason) = &product.state_reason {
                p.muted { (reason) }
            }
            @if product.skus.iter().any(|s| s.low_stock) {
                p.low-stock role="status" { "⚠ 有规格库存低于预警值" }
            }
            div.actions {
                @for (to, label) in &moves {
                    button.secondary type="button" data-call=(format!("POST /api/v1/products/{}/status", p.id.0)) data-body=(format!("{{\"status\":\"{}\"}}", to.as_str())) { (label) }
                }
            }
            p.form-error #call-error role="alert" {}
        }
        form.card.stack.form-grid data-api=(format!("PATCH /api/v1/products/{}", p.id.0)) data-then="/console/products" novalidate {
            div.field.wide {
                label for="title" { "商品标题" }
                input #title name="title" type="text" maxlength="120" value=(p.title) required;
            }
            @if product.skus.len() == 1 {
                div.field {
                    label for="price" { "原价（元）" }
                    input #price name="price_fen" data-kind="yuan" type="text" inputmode="decimal" value=(yuan_input(p.price_fen.as_i64())) required;
                }
            }
            div.field {
                span.label-like { "可分配库存" }
                p { (p.stock) " 件（随秒杀分配）" }
            }
            div.field.wide {
                label for="image_url" { "商品图片地址（https）" }
                input #image_url name="image_url" type="url" value=(p.image_url);
            }
            div.field.wide {
                label for="description" { "描述" }
                textarea #description name="description" rows="4" maxlength="5000" { (p.description) }
            }
            div.wide {
                button.primary type="submit" { "保存" }
                p.form-error role="alert" {}
            }
        }
        (skus(&product))
        (pictures(&product))
        section.card aria-labelledby="after-sales" {
            h2 #after-sales { "售后" }
            p { "七天无理由退货：" (if product.no_reason_returns { "支持" } else { "不支持" }) }
            p { "退货运费：" (match product.return_shipping {
                engine::catalogue::ReturnShipping::Buyer => "买家承担",
                engine::catalogue::ReturnShipping::Seller => "商家承担",
                engine::catalogue::ReturnShipping::Insurance => "运费险",
            }) }
        }
        section.card aria-labelledby="revisions" {
            h2 #revisions { "修改记录" }
            ol.revisions {
                @for r in &revisions {
                    li {
                        "第 " (r["revision"]) " 版 · "
                        (r["edited_at_ms"].as_i64().map(|ms| beijing(engine::Timestamp(ms))).unwrap_or_default())
                        " · " (r["edited_by"].as_str().unwrap_or_default())
                        " · " (r["product"]["title"].as_str().unwrap_or_default())
                    }
                }
            }
        }
    };
    frame(&state, &request, "编辑商品", "/console/products", &shop, body)
}

fn skus(product: &stored::ProductDetail) -> Markup {
    let id = product.product.id.0;
    html! {
        section.card aria-labelledby="skus" {
            h2 #skus { "规格与库存" }
            div.table-wrap tabindex="0" {
                table {
                    thead { tr { th { "规格" } th { "编码" } th.number { "价格（元）" } th.number { "库存" } th.number { "预警值" } th { span.visually-hidden { "保存" } } } }
                    tbody {
                        @for sku in &product.skus {
                            tr {
                                td { (values_text(&sku.values)) @if sku.low_stock { " " span.tag.low { "库存低" } } }
                                td { (sku.code) }
                                td colspan="4" {
                                    form.inline data-api=(format!("PATCH /api/v1/products/{id}/skus/{}", sku.id)) data-then="reload" novalidate {
                                        label.visually-hidden for=(format!("price-{}", sku.id)) { "价格" }
                                        input id=(format!("price-{}", sku.id)) name="price_fen" data-kind="yuan" type="text" inputmode="decimal" value=(yuan_input(sku.price_fen)) size="8";
                                        label.visually-hidden for=(format!("stock-{}", sku.id)) { "库存" }
                                        input id=(format!("stock-{}", sku.id)) name="stock" data-kind="int" type="number" min="0" value=(sku.stock) size="6";
                                        label.visually-hidden for=(format!("low-{}", sku.id)) { "预警值" }
                                        input id=(format!("low-{}", sku.id)) name="low_stock_threshold" data-kind="int" type="number" min="0" value=(sku.low_stock_threshold) size="4";
                                        button.secondary type="submit" { "保存" }
                                        span.form-error role="alert" {}
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn pictures(product: &stored::ProductDetail) -> Markup {
    let id = product.product.id.0;
    html! {
        section.card aria-labelledby="pictures" {
            h2 #pictures { "商品图片" }
            @if product.images.is_empty() {
                p.muted { "还没有图片。第一张是主图。" }
            } @else {
                ol.thumbs {
                    @for image in &product.images {
                        li {
                            img src=(format!("/api/v1/product-images/{}?size=thumb", image.id)) alt=(format!("图片 {}", image.position + 1)) width="120";
                            button.secondary type="button" data-call=(format!("DELETE /api/v1/products/{id}/images/{}", image.id)) { "删除" }
                        }
                    }
                }
            }
            form.stack data-upload=(format!("/api/v1/products/{id}/images")) data-then="reload" novalidate {
                div.field {
                    label for="picture" { "上传图片（PNG 或 JPEG）" }
                    input #picture name="file" type="file" accept="image/png,image/jpeg" required;
                }
                button.primary type="submit" { "上传" }
                p.form-error role="alert" {}
            }
        }
    }
}

/// `GET /console/products/import`: templates, the dry run and the import.
pub async fn import_page(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    let Some((_, shop)) = merchant_of(&state, &request).await else { return see_other("/console/login") };
    let body = html! {
        p { a href="/console/products" { "‹ 商品" } }
        h1 { "批量导入商品" }
        section.card {
            p { "每行一个规格（SKU），按商品编码归为同一商品。先下载模板填写，再「检查」看哪些行有问题，确认后「导入」：没问题的行全部导入，有问题的行一行也不导入；同一文件再传一次不会重复。" }
            p { a href="/api/v1/products/import/template?format=xlsx" download { "下载 Excel 模板" } " · " a href="/api/v1/products/import/template?format=csv" download { "下载 CSV 模板" } }
        }
        form.card.stack data-upload="/api/v1/products/import" data-report="import-report" novalidate {
            div.field {
                label for="import-file" { "文件（.xlsx 或 .csv）" }
                input #import-file name="file" type="file" accept=".xlsx,.csv,text/csv" required;
            }
            div.actions {
                button.secondary type="submit" name="dry_run" value="true" { "检查" }
                button.primary type="submit" name="dry_run" value="false" { "导入" }
            }
            p.form-error role="alert" {}
        }
        section.card #import-report aria-live="polite" hidden {}
    };
    frame(&state, &request, "批量导入", "/console/products", &shop, body)
}

/// The products list's extra columns: state and low-stock badge.
pub fn state_cells(product: &stored::ProductDetail) -> Markup {
    html! {
        td { span.tag data-state=(product.state.as_str()) { (state_label(product.state)) } }
        td { @if product.skus.iter().any(|s| s.low_stock) { span.tag.low { "库存低" } } }
        td.number { (yuan(product.product.price_fen)) }
    }
}

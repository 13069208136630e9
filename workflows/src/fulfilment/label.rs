//! Shipping labels: one 100 × 150 mm page per parcel (the thermal label size couriers'
//! printers take), many in one PDF for batch printing.
//!
//! Each page carries the courier's name, the sort code (大头笔) when the courier gave one, a
//! Code 128 barcode of the waybill number drawn as vector bars (the encoding from
//! `barcoders`, the module width a whole number of 203 dpi printer dots), the number in
//! text, receiver and sender (name, phone, full address) and the order number.
//!
//! Chinese text needs a CJK font in the PDF: printers and viewers have none of their own to
//! fall back on. The label embeds a subset of a TrueType font (WenQuanYi Micro Hei, Debian's
//! `fonts-wqy-microhei`, by default) holding only the glyphs the batch uses, as a Type0 /
//! CIDFontType2 font with `Identity-H` encoding and a `ToUnicode` map, so that text can be
//! searched and extracted. A subset of a few hundred glyphs is some tens of kilobytes; the
//! whole font would be five megabytes per PDF.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use barcoders::sym::code128::Code128;
use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Content, Filter, Name, Pdf, Rect, Ref, Str};
use providers::couriers::{Courier, Party};
use thiserror::Error;

/// Where Debian's `fonts-wqy-microhei` puts its font.
pub const DEFAULT_FONT_PATH: &str = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc";
/// Labels one PDF holds at most.
pub const MAX_LABELS_PER_PDF: usize = 500;

const MM: f32 = 72.0 / 25.4;
pub const PAGE_WIDTH_MM: f32 = 100.0;
pub const PAGE_HEIGHT_MM: f32 = 150.0;
/// One dot of a 203 dpi thermal printer.
const DOT_MM: f32 = 25.4 / 203.0;
/// Quiet zone each side of the bars, in modules (Code 128 asks for at least ten).
const QUIET_MODULES: usize = 10;
const FONT: Name<'static> = Name(b"F1");

/// What one label shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub courier: Courier,
    pub waybill_no: String,
    pub sort_code: Option<String>,
    pub package_center: Option<String>,
    pub order_no: String,
    pub sender: Party,
    pub receiver: Party,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LabelError {
    #[error("label font unusable: {0}")]
    Font(String),
    #[error("no labels to print")]
    Empty,
    #[error("at most {MAX_LABELS_PER_PDF} labels in one pdf")]
    TooMany,
    #[error("waybill number {0:?} cannot be a code 128 barcode")]
    Barcode(String),
}

/// A TrueType font (or one face of a collection), read once and kept for every label.
#[derive(Clone)]
pub struct LabelFont {
    data: Arc<Vec<u8>>,
    index: u32,
}

impl LabelFont {
    /// Reads the font at `path` (face `index` of a `.ttc`) and checks it can print a label.
    pub fn load(path: &Path, index: u32) -> Result<Self, LabelError> {
        let data = std::fs::read(path).map_err(|e| LabelError::Font(format!("{}: {e}", path.display())))?;
        Self::from_bytes(data, index)
    }

    pub fn from_bytes(data: Vec<u8>, index: u32) -> Result<Self, LabelError> {
        let face = ttf_parser::Face::parse(&data, index).map_err(|e| LabelError::Font(e.to_string()))?;
        if face.tables().glyf.is_none() {
            return Err(LabelError::Font("only TrueType outlines (glyf) are embedded".into()));
        }
        for ch in ['收', '寄', '0', 'A', '?'] {
            if face.glyph_index(ch).is_none() {
                return Err(LabelError::Font(format!("the font has no glyph for {ch:?}")));
            }
        }
        Ok(Self { data: Arc::new(data), index })
    }

    fn face(&self) -> ttf_parser::Face<'_> {
        ttf_parser::Face::parse(&self.data, self.index).expect("checked when loaded")
    }
}

/// The bars of a waybill number: Code 128, set C for an even run of digits (denser), set B
/// otherwise. `1` is a bar module, `0` a space.
pub fn barcode_modules(waybill_no: &str) -> Result<Vec<u8>, LabelError> {
    let bad = || LabelError::Barcode(waybill_no.to_owned());
    if waybill_no.is_empty() || !waybill_no.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad());
    }
    let all_digits = waybill_no.bytes().all(|b| b.is_ascii_digit());
    let data = if all_digits && waybill_no.len().is_multiple_of(2) {
        format!("Ć{waybill_no}")
    } else {
        format!("Ɓ{waybill_no}")
    };
    Ok(Code128::new(data).map_err(|_| bad())?.encode())
}

/// Text laid out on a page: glyphs of one font, measured in its units.
struct Typesetter<'f> {
    face: ttf_parser::Face<'f>,
    units_per_em: f32,
    /// Every character the batch shows, with its glyph in the whole font.
    used: BTreeMap<char, u16>,
}

impl<'f> Typesetter<'f> {
    fn glyph(&mut self, ch: char) -> (char, u16) {
        let (ch, glyph) = match self.face.glyph_index(ch) {
            Some(g) => (ch, g.0),
            // A character the font lacks prints as `?` rather than an empty box.
            None => ('?', self.face.glyph_index('?').map_or(0, |g| g.0)),
        };
        self.used.insert(ch, glyph);
        (ch, glyph)
    }

    fn advance(&self, glyph: u16) -> f32 {
        f32::from(self.face.glyph_hor_advance(ttf_parser::GlyphId(glyph)).unwrap_or(0)) / self.units_per_em
    }

    /// Width of `text` at `size` points.
    fn width(&mut self, text: &str, size: f32) -> f32 {
        let glyphs: Vec<u16> = text.chars().map(|c| self.glyph(c).1).collect();
        glyphs.into_iter().map(|g| self.advance(g) * size).sum()
    }

    /// `text` broken into lines no wider than `max_width` points, at the largest of `sizes`
    /// that fits in `max_lines` (the smallest size otherwise, with every line kept).
    fn wrap(&mut self, text: &str, sizes: &[f32], max_width: f32, max_lines: usize) -> (f32, Vec<String>) {
        let mut last = (sizes[sizes.len() - 1], Vec::new());
        for &size in sizes {
            let mut lines = vec![String::new()];
            let mut width = 0.0;
            for ch in text.chars() {
                let w = self.width(ch.encode_utf8(&mut [0; 4]), size);
                if width + w > max_width && !lines.last().is_some_and(String::is_empty) {
                    lines.push(String::new());
                    width = 0.0;
                }
                lines.last_mut().expect("at least one line").push(ch);
                width += w;
            }
            if lines.len() <= max_lines {
                return (size, lines);
            }
            last = (size, lines);
        }
        last
    }
}

/// What goes on a page before glyph ids are final: text runs and bars.
enum Mark {
    Text { x: f32, y: f32, size: f32, text: String },
    Bar { x: f32, y: f32, width: f32, height: f32 },
}

fn mm(v: f32) -> f32 {
    v * MM
}

/// Lays out one label, from the top down, in points.
fn lay_out(label: &Label, ts: &mut Typesetter<'_>) -> Result<Vec<Mark>, LabelError> {
    let mut marks = Vec::new();
    let left = mm(5.0);
    let inner = mm(PAGE_WIDTH_MM - 10.0);
    let rule = |marks: &mut Vec<Mark>, y_mm: f32| {
        marks.push(Mark::Bar { x: left, y: mm(y_mm), width: inner, height: 0.8 });
    };
    let text = |marks: &mut Vec<Mark>, x: f32, y_mm: f32, size: f32, t: String| {
        marks.push(Mark::Text { x, y: mm(y_mm), size, text: t });
    };

    // Courier and sort code.
    text(&mut marks, left, 140.0, 16.0, label.courier.name.to_owned());
    if let Some(sort) = &label.sort_code {
        let (size, lines) = ts.wrap(sort, &[24.0, 20.0, 16.0], inner, 1);
        text(&mut marks, left, 127.0, size, lines.concat());
    }
    rule(&mut marks, 123.0);

    // The barcode: whole printer dots per module, as wide as fits.
    let modules = barcode_modules(&label.waybill_no)?;
    let total = modules.len() + 2 * QUIET_MODULES;
    let dots = ((PAGE_WIDTH_MM - 6.0) / total as f32 / DOT_MM).floor().clamp(2.0, 4.0);
    let module = mm(dots * DOT_MM);
    let bars_width = module * modules.len() as f32;
    let x0 = (mm(PAGE_WIDTH_MM) - bars_width) / 2.0;
    let (bottom, height) = (mm(101.0), mm(19.0));
    let mut i = 0;
    while i < modules.len() {
        if modules[i] == 1 {
            let run = modules[i..].iter().take_while(|&&m| m == 1).count();
            marks.push(Mark::Bar {
                x: x0 + module * i as f32,
                y: bottom,
                width: module * run as f32,
                height,
            });
            i += run;
        } else {
            i += 1;
        }
    }
    let number_width = ts.width(&label.waybill_no, 12.0);
    marks.push(Mark::Text {
        x: (mm(PAGE_WIDTH_MM) - number_width) / 2.0,
        y: mm(96.0),
        size: 12.0,
        text: label.waybill_no.clone(),
    });
    rule(&mut marks, 93.0);

    // Receiver, large; sender, smaller.
    let mut party = |marks: &mut Vec<Mark>, tag: &str, who: &Party, top_mm: f32, size: f32, lines: usize| {
        let x = left + mm(9.0);
        marks.push(Mark::Text { x: left, y: mm(top_mm - 6.0), size: size + 6.0, text: tag.to_owned() });
        let head = format!("{}  {}", who.name, who.phone);
        let (head_size, head_lines) = ts.wrap(&head, &[size + 1.0, size, size - 1.0], inner - mm(9.0), 1);
        marks.push(Mark::Text { x, y: mm(top_mm - 4.0), size: head_size, text: head_lines.concat() });
        let sizes = [size, size - 1.0, size - 2.0, size - 3.0];
        let (address_size, address_lines) = ts.wrap(&who.full_address(), &sizes, inner - mm(9.0), lines);
        for (n, line) in address_lines.into_iter().enumerate() {
            let y = top_mm - 9.0 - n as f32 * (address_size / MM * 1.35);
            marks.push(Mark::Text { x, y: mm(y), size: address_size, text: line });
        }
    };
    party(&mut marks, "收", &label.receiver, 92.0, 11.0, 3);
    rule(&mut marks, 68.0);
    party(&mut marks, "寄", &label.sender, 67.0, 9.0, 2);
    rule(&mut marks, 47.0);

    text(&mut marks, left, 41.0, 10.0, format!("订单号：{}", label.order_no));
    if let Some(center) = &label.package_center {
        text(&mut marks, left, 35.0, 10.0, format!("集包地：{center}"));
    }
    text(&mut marks, left, 8.0, 7.0, format!("{} {}", label.courier.name, label.waybill_no));
    // Every mark's characters are known to the typesetter before the subset is made.
    for mark in &marks {
        if let Mark::Text { text, .. } = mark {
            text.chars().for_each(|c| {
                ts.glyph(c);
            });
        }
    }
    Ok(marks)
}

/// Six capital letters naming a subset, as PDF asks (`ABCDEF+Font`), from what it holds.
fn subset_tag(glyphs: &BTreeSet<u16>) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for g in glyphs {
        for b in g.to_be_bytes() {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    (0..6).map(|i| char::from(b'A' + ((hash >> (i * 5)) % 26) as u8)).collect()
}

/// The labels of `labels`, one per page, in one PDF.
pub fn render(labels: &[Label], font: &LabelFont) -> Result<Vec<u8>, LabelError> {
    if labels.is_empty() {
        return Err(LabelError::Empty);
    }
    if labels.len() > MAX_LABELS_PER_PDF {
        return Err(LabelError::TooMany);
    }
    let face = font.face();
    let units_per_em = f32::from(face.units_per_em());
    let mut ts = Typesetter { face, units_per_em, used: BTreeMap::new() };
    let pages: Vec<Vec<Mark>> = labels.iter().map(|l| lay_out(l, &mut ts)).collect::<Result<_, _>>()?;

    // The subset: glyph 0 first (PDF wants .notdef at 0), then every glyph used.
    let mut remapper = subsetter::GlyphRemapper::new();
    let originals: BTreeSet<u16> = ts.used.values().copied().collect();
    for &g in &originals {
        remapper.remap(g);
    }
    let subset = subsetter::subset(&font.data, font.index, &remapper)
        .map_err(|e| LabelError::Font(format!("subsetting: {e:?}")))?;
    let new_id = |g: u16| remapper.get(g).expect("every used glyph is in the subset");

    let mut ids = (1..).map(Ref::new);
    let mut next = || ids.next().expect("references do not run out");
    let (catalog, tree, type0, cid, descriptor, file, cmap) =
        (next(), next(), next(), next(), next(), next(), next());
    let page_refs: Vec<(Ref, Ref)> = pages.iter().map(|_| (next(), next())).collect();

    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids(page_refs.iter().map(|(p, _)| *p)).count(page_refs.len() as i32);

    let tag = subset_tag(&originals);
    let family = ts
        .face
        .names()
        .into_iter()
        .find(|n| n.name_id == ttf_parser::name_id::POST_SCRIPT_NAME)
        .and_then(|n| n.to_string())
        .unwrap_or_else(|| "LabelFont".to_owned());
    let base = format!("{tag}+{}", family.replace(' ', ""));
    let system_info = SystemInfo { registry: Str(b"Adobe"), ordering: Str(b"Identity"), supplement: 0 };
    pdf.type0_font(type0)
        .base_font(Name(base.as_bytes()))
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(cid)
        .to_unicode(cmap);
    let widths: Vec<f32> = {
        let mut by_new: Vec<(u16, f32)> = std::iter::once(0)
            .chain(originals.iter().copied())
            .map(|g| (new_id(g), ts.advance(g) * 1000.0))
            .collect();
        by_new.sort_by_key(|(n, _)| *n);
        by_new.dedup_by_key(|(n, _)| *n);
        by_new.into_iter().map(|(_, w)| w).collect()
    };
    {
        let mut cid_font = pdf.cid_font(cid);
        cid_font
            .subtype(CidFontType::Type2)
            .base_font(Name(base.as_bytes()))
            .system_info(system_info)
            .font_descriptor(descriptor)
            .default_width(1000.0)
            .cid_to_gid_map_predefined(Name(b"Identity"));
        cid_font.widths().consecutive(0, widths);
    }
    let scale = |v: i16| f32::from(v) * 1000.0 / units_per_em;
    let bbox = ts.face.global_bounding_box();
    pdf.font_descriptor(descriptor)
        .name(Name(base.as_bytes()))
        .flags(FontFlags::SYMBOLIC)
        .bbox(Rect::new(scale(bbox.x_min), scale(bbox.y_min), scale(bbox.x_max), scale(bbox.y_max)))
        .italic_angle(0.0)
        .ascent(scale(ts.face.ascender()))
        .descent(scale(ts.face.descender()))
        .cap_height(scale(ts.face.capital_height().unwrap_or(ts.face.ascender())))
        .stem_v(80.0)
        .font_file2(file);
    let compressed = compress(&subset);
    pdf.stream(file, &compressed).filter(Filter::FlateDecode).pair(Name(b"Length1"), subset.len() as i32);

    let mut unicode = UnicodeCmap::new(Name(b"Label-UTF16"), system_info);
    for (&ch, &glyph) in &ts.used {
        unicode.pair(new_id(glyph), ch);
    }
    let unicode = unicode.finish();
    pdf.cmap(cmap, &unicode);

    for ((page_ref, content_ref), marks) in page_refs.iter().zip(&pages) {
        let mut page = pdf.page(*page_ref);
        page.media_box(Rect::new(0.0, 0.0, mm(PAGE_WIDTH_MM), mm(PAGE_HEIGHT_MM)))
            .parent(tree)
            .contents(*content_ref);
        page.resources().fonts().pair(FONT, type0);
        drop(page);
        let mut content = Content::new();
        content.set_fill_gray(0.0);
        for mark in marks {
            match mark {
                Mark::Bar { x, y, width, height } => {
                    content.rect(*x, *y, *width, *height);
                    content.fill_nonzero();
                }
                Mark::Text { x, y, size, text } => {
                    let mut encoded = Vec::with_capacity(text.len() * 2);
                    for ch in text.chars() {
                        let glyph = ts.used.get(&ch).copied().unwrap_or_else(|| ts.used[&'?']);
                        encoded.extend_from_slice(&new_id(glyph).to_be_bytes());
                    }
                    content
                        .begin_text()
                        .set_font(FONT, *size)
                        .next_line(*x, *y)
                        .show(Str(&encoded))
                        .end_text();
                }
            }
        }
        pdf.stream(*content_ref, &content.finish());
    }
    Ok(pdf.finish())
}

fn compress(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("writing to memory succeeds");
    encoder.finish().expect("writing to memory succeeds")
}

#[cfg(test)]
mod tests;

use std::path::Path;

use super::*;

fn font() -> LabelFont {
    LabelFont::load(Path::new(DEFAULT_FONT_PATH), 0)
        .expect("the label font is installed (Debian: apt-get install fonts-wqy-microhei)")
}

pub(crate) fn sample(waybill_no: &str, order_no: &str) -> Label {
    Label {
        courier: Courier::parse("SF").unwrap(),
        waybill_no: waybill_no.into(),
        sort_code: Some("广东-天河区 020".into()),
        package_center: Some("广州转运中心".into()),
        order_no: order_no.into(),
        sender: Party {
            name: "直播小店".into(),
            phone: "0755-86000000".into(),
            province: "广东省".into(),
            city: "深圳市".into(),
            district: "南山区".into(),
            detail: "科技园路1号A栋".into(),
        },
        receiver: Party {
            name: "李四".into(),
            phone: "13800000000".into(),
            province: "广东省".into(),
            city: "广州市".into(),
            district: "天河区".into(),
            detail: "天河路385号太古汇一座写字楼二十八层2801室（前台代收，工作日九点到六点）".into(),
        },
    }
}

#[test]
fn code_128_has_its_start_stop_and_length() {
    // Set B: start, one symbol per character, checksum, stop (13 modules with the final bar).
    let b = barcode_modules("SF1234567890123").unwrap();
    assert_eq!(b.len(), 11 * (15 + 2) + 13);
    let text: String = b.iter().map(|m| char::from(b'0' + m)).collect();
    assert!(text.starts_with("11010010000"), "start B");
    assert!(text.ends_with("1100011101011"), "stop");
    // Set C packs two digits per symbol.
    let c = barcode_modules("731234567890").unwrap();
    assert_eq!(c.len(), 11 * (6 + 2) + 13);
    assert!(c.iter().map(|m| char::from(b'0' + m)).collect::<String>().starts_with("11010011100"), "start C");
    // An odd run of digits stays in set B.
    assert_eq!(barcode_modules("77300000001").unwrap().len(), 11 * (11 + 2) + 13);
    for bad in ["", "SF 1", "单号1"] {
        assert_eq!(barcode_modules(bad), Err(LabelError::Barcode(bad.into())));
    }
}

#[test]
fn a_batch_is_one_page_per_label_with_the_text_extractable() {
    let labels = [sample("SF1234567890123", "880001"), sample("SF1234567890124", "880002")];
    let pdf = render(&labels, &font()).unwrap();
    let document = lopdf::Document::load_mem(&pdf).unwrap();
    let pages = document.get_pages();
    assert_eq!(pages.len(), 2);
    for (n, (&number, &page_id)) in pages.iter().enumerate() {
        let page = document.get_dictionary(page_id).unwrap();
        let media: Vec<f32> = page
            .get(b"MediaBox")
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_float().unwrap())
            .collect();
        assert!((media[2] - 283.46).abs() < 0.05 && (media[3] - 425.20).abs() < 0.05, "{media:?}");
        let text = document.extract_text(&[number]).unwrap();
        assert!(text.contains(&labels[n].waybill_no), "page {number}: {text}");
        assert!(text.contains("李四"), "page {number}: {text}");
        assert!(text.contains(&format!("订单号：{}", labels[n].order_no)), "page {number}: {text}");
        assert!(text.contains("顺丰速运") && text.contains("广东-天河区"), "page {number}: {text}");
    }
    // The font is embedded as a subset: present, and far smaller than the 5 MB font.
    let embedded = document
        .objects
        .values()
        .filter_map(|o| o.as_stream().ok())
        .find(|s| s.dict.has(b"Length1"))
        .expect("an embedded TrueType font");
    let size = embedded.dict.get(b"Length1").unwrap().as_i64().unwrap();
    assert!(size > 1_000 && size < 400_000, "subset of {size} bytes");
    assert!(pdf.len() < 300_000, "the pdf is {} bytes", pdf.len());
}

#[test]
fn the_batch_is_bounded_and_never_empty() {
    let font = font();
    assert_eq!(render(&[], &font), Err(LabelError::Empty));
    let many = vec![sample("SF1", "1"); MAX_LABELS_PER_PDF + 1];
    assert_eq!(render(&many, &font), Err(LabelError::TooMany));
    assert_eq!(render(&[sample("SF 1", "1")], &font), Err(LabelError::Barcode("SF 1".into())));
}

#[test]
fn a_character_the_font_lacks_prints_as_a_question_mark() {
    let mut label = sample("SF1", "1");
    label.receiver.name = "李\u{1F600}".into();
    let pdf = render(&[label], &font()).unwrap();
    let document = lopdf::Document::load_mem(&pdf).unwrap();
    assert!(document.extract_text(&[1]).unwrap().contains("李?"));
}

#[test]
fn a_font_without_cjk_glyphs_is_refused() {
    let dejavu = Path::new("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf");
    if dejavu.exists() {
        assert!(matches!(LabelFont::load(dejavu, 0), Err(LabelError::Font(_))));
    }
    assert!(matches!(LabelFont::from_bytes(b"not a font".to_vec(), 0), Err(LabelError::Font(_))));
}

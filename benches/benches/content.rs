//! The banned-word check of a 2,000-character description against a 10,000-word dictionary
//! (the bound: under a millisecond), against the cheapest pass over the same text (a
//! count of its characters), so that the check's own cost is visible.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use engine::content::{BannedWords, SEED_WORDS};

/// A small deterministic generator (SplitMix64), so every run checks the same text.
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A common Han character (U+4E00 to U+5DFF), a letter, a digit or a space.
    fn character(&mut self) -> char {
        match self.next() % 20 {
            0 => ' ',
            1 => char::from(b'a' + (self.next() % 26) as u8),
            2 => char::from(b'0' + (self.next() % 10) as u8),
            _ => char::from_u32(0x4E00 + (self.next() % 0x1000) as u32).expect("a Han character"),
        }
    }
}

fn dictionary(draw: &mut Draw) -> Vec<String> {
    let mut words: Vec<String> = SEED_WORDS.iter().map(|w| (*w).to_owned()).collect();
    while words.len() < 10_000 {
        let chars = 2 + (draw.next() % 4) as usize;
        words.push(
            (0..chars).map(|_| char::from_u32(0x4E00 + (draw.next() % 0x1000) as u32).unwrap()).collect(),
        );
    }
    words
}

fn description(draw: &mut Draw) -> String {
    let mut text: String = (0..1_990).map(|_| draw.character()).collect();
    // two banned words hidden in it, as a merchant would
    let at = text.char_indices().nth(600).map_or(text.len(), |(at, _)| at);
    text.insert_str(at, "全 网 最 低");
    text.push_str("顶\u{200B}级");
    text
}

fn content(c: &mut Criterion) {
    let mut draw = Draw(7);
    let words = BannedWords::new(dictionary(&mut draw)).expect("a valid dictionary");
    let text = description(&mut draw);
    assert!(text.chars().count() >= 2_000);
    assert!(words.find(&text).len() >= 2, "the hidden words are found");

    let mut group = c.benchmark_group("banned_words_2000_chars_10000_words");
    group.throughput(Throughput::Elements(1));
    group.bench_function("baseline_count_chars", |b| b.iter(|| black_box(black_box(&text).chars().count())));
    group.bench_function("is_clean", |b| b.iter(|| black_box(words.is_clean(black_box(&text)))));
    group.bench_function("find", |b| b.iter(|| black_box(words.find(black_box(&text)))));
    group.finish();
}

criterion_group!(benches, content);
criterion_main!(benches);

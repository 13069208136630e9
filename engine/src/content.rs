//! The banned-word check that every title, description and spec name passes before it is
//! listed: the Advertising Law's absolute terms (广告法极限词: 国家级, 第一, 顶级…) and the
//! claims no ordinary product may make (治疗, 根治…), from a configurable dictionary.
//!
//! Both the dictionary and the text are *normalised* before matching, so that a word hidden by
//! full-width letters or digits (`ＮＯ．１`), spaces (ASCII, U+3000 and the rest), zero-width
//! characters, punctuation between its characters (`国.家.级`, `第*一`) or letter case is
//! still found. Matching is Aho–Corasick over the normalised text (one pass, whatever the
//! dictionary's size), leftmost-longest so `全网最低` is reported rather than `最低` inside it.
//! Each hit names the dictionary word and the text exactly as written, so the merchant sees
//! what to change.
//!
//! The seed dictionary leaves out the bare `最`: as a word it flags `最近` and `最后一件`,
//! which the law does not forbid, and would send every other title to review; the forbidden
//! superlatives (`最佳`, `最低价`, `史上最`…) are listed one by one instead.

use aho_corasick::{AhoCorasick, MatchKind};
use thiserror::Error;

/// The seed: absolute terms of the Advertising Law (art. 9(3)) and the forbidden medical and
/// guarantee claims (art. 16–17, 28) most often found in live-commerce titles.
pub const SEED_WORDS: &[&str] = &[
    // superlatives and absolute terms
    "最佳",
    "最好",
    "最优",
    "最高",
    "最低",
    "最强",
    "最大",
    "最先进",
    "最便宜",
    "最低价",
    "最高级",
    "最受欢迎",
    "最新科技",
    "史上最",
    "全网最低",
    "全网第一",
    "全国第一",
    "第一",
    "第一品牌",
    "NO.1",
    "TOP1",
    "国家级",
    "世界级",
    "顶级",
    "极品",
    "极致",
    "唯一",
    "首个",
    "首选",
    "独一无二",
    "绝无仅有",
    "万能",
    "100%",
    "百分百",
    "永久",
    "王牌",
    "销量冠军",
    "领袖品牌",
    "国家领导人",
    "特供",
    "专供",
    // medical and guarantee claims
    "治疗",
    "根治",
    "包治百病",
    "药到病除",
    "疗效",
    "防癌",
    "抗癌",
    "治愈",
    "无副作用",
    "零风险",
    "立竿见影",
    "减肥神器",
    "祖传秘方",
];

/// Dictionary bounds: words are short phrases, and the automaton's memory grows with them.
pub const MAX_WORDS: usize = 100_000;
pub const MAX_WORD_CHARS: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DictionaryError {
    #[error("the dictionary has {words} words, more than {max}", max = MAX_WORDS)]
    TooManyWords { words: usize },
    #[error("dictionary word {word:?} is empty once spaces and punctuation are removed")]
    EmptyWord { word: String },
    #[error("dictionary word {word:?} is longer than {max} characters", max = MAX_WORD_CHARS)]
    WordTooLong { word: String },
    #[error("the banned-word matcher could not be built: {0}")]
    Build(String),
}

/// One banned word found in a text.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Hit {
    /// The dictionary word, as configured.
    pub word: String,
    /// The text as written, from the word's first character to its last (`国 家 级`).
    pub found: String,
    /// Character offset of `found` in the text.
    pub at_char: usize,
}

/// What a character becomes before matching: `None` drops it (spaces, zero-width characters,
/// punctuation and symbols), letters are lowercased, full-width ASCII becomes ASCII.
pub fn normalise_char(c: char) -> Option<char> {
    let c = match c {
        // full-width forms of ASCII ！ to ～
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        _ => c,
    };
    let dropped = c.is_whitespace()
        || c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' | '\u{00AD}' | '\u{180E}')
        // punctuation and symbols a word can be broken up with; `%` is kept, because without
        // it `100%` would become `100` and flag every `100g`
        || (c.is_ascii_punctuation() && c != '%')
        || matches!(c, '\u{2010}'..='\u{205E}' | '\u{3001}'..='\u{303F}' | '\u{00B7}' | '\u{30FB}'
            | '\u{FE10}'..='\u{FE6F}' | '\u{FF61}'..='\u{FF65}' | '\u{2500}'..='\u{27BF}');
    if dropped {
        return None;
    }
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) => Some(l),
        _ => Some(c),
    }
}

/// `text` normalised, with each normalised character's byte range in `text`.
fn normalise(text: &str) -> (String, Vec<(usize, usize)>) {
    let mut out = String::with_capacity(text.len());
    let mut spans = Vec::with_capacity(text.len());
    for (at, c) in text.char_indices() {
        if let Some(n) = normalise_char(c) {
            out.push(n);
            // one entry per byte of the normalised character, so match offsets index it
            for _ in 0..n.len_utf8() {
                spans.push((at, at + c.len_utf8()));
            }
        }
    }
    (out, spans)
}

/// The compiled dictionary. Build it once per configuration and share it: checking is `&self`.
pub struct BannedWords {
    automaton: AhoCorasick,
    /// The configured word of each pattern, in pattern order.
    words: Vec<String>,
}

impl BannedWords {
    /// The dictionary of `words` (duplicates after normalisation are kept once).
    pub fn new<I, S>(words: I) -> Result<Self, DictionaryError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut configured = Vec::new();
        let mut patterns: Vec<String> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for word in words {
            let word = word.as_ref();
            if word.chars().count() > MAX_WORD_CHARS {
                return Err(DictionaryError::WordTooLong { word: word.to_owned() });
            }
            let (pattern, _) = normalise(word);
            if pattern.is_empty() {
                return Err(DictionaryError::EmptyWord { word: word.to_owned() });
            }
            if seen.insert(pattern.clone()) {
                configured.push(word.to_owned());
                patterns.push(pattern);
            }
            if patterns.len() > MAX_WORDS {
                return Err(DictionaryError::TooManyWords { words: patterns.len() });
            }
        }
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&patterns)
            .map_err(|e| DictionaryError::Build(e.to_string()))?;
        Ok(Self { automaton, words: configured })
    }

    /// The seed dictionary ([`SEED_WORDS`]).
    pub fn seed() -> Self {
        Self::new(SEED_WORDS).expect("the seed dictionary is valid")
    }

    pub fn len(&self) -> usize {
        self.words.len()
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Every banned word in `text`, in the order they appear (non-overlapping, longest first).
    pub fn find(&self, text: &str) -> Vec<Hit> {
        let (normalised, spans) = normalise(text);
        self.automaton
            .find_iter(&normalised)
            .map(|m| {
                let (start, _) = spans[m.start()];
                let (_, end) = spans[m.end() - 1];
                Hit {
                    word: self.words[m.pattern().as_usize()].clone(),
                    found: text[start..end].to_owned(),
                    at_char: text[..start].chars().count(),
                }
            })
            .collect()
    }

    /// The distinct dictionary words in `text`, in order of first appearance: what a refusal
    /// (`banned_words`) names.
    pub fn words_in(&self, text: &str) -> Vec<String> {
        let mut words: Vec<String> = Vec::new();
        for hit in self.find(text) {
            if !words.contains(&hit.word) {
                words.push(hit.word);
            }
        }
        words
    }

    /// Whether `text` holds no banned word; cheaper than [`find`](Self::find) when clean.
    pub fn is_clean(&self, text: &str) -> bool {
        let (normalised, _) = normalise(text);
        !self.automaton.is_match(&normalised)
    }
}

impl std::fmt::Debug for BannedWords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BannedWords").field("words", &self.words.len()).finish()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn found(text: &str) -> Vec<(String, String)> {
        BannedWords::seed().find(text).into_iter().map(|h| (h.word, h.found)).collect()
    }

    fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
        expected.iter().map(|(w, f)| ((*w).to_owned(), (*f).to_owned())).collect()
    }

    #[test]
    fn hidden_words_are_still_found_and_reported_as_written() {
        let table: [(&str, &[(&str, &str)]); 12] = [
            (
                "全网最低 国家级 第一品牌",
                &[("全网最低", "全网最低"), ("国家级", "国家级"), ("第一品牌", "第一品牌")],
            ),
            ("国 家 级面膜", &[("国家级", "国 家 级")]),
            ("国\u{3000}家\u{3000}级", &[("国家级", "国\u{3000}家\u{3000}级")]),
            ("顶\u{200B}级牛排", &[("顶级", "顶\u{200B}级")]),
            ("国.家.级 好物", &[("国家级", "国.家.级")]),
            ("第*一", &[("第一", "第*一")]),
            ("销量ＮＯ．１", &[("NO.1", "ＮＯ．１")]),
            ("no.1 面霜", &[("NO.1", "no.1")]),
            ("Top 1 口碑", &[("TOP1", "Top 1")]),
            ("１００％纯棉", &[("100%", "１００％")]),
            ("包治百病的神药，药到病除", &[("包治百病", "包治百病"), ("药到病除", "药到病除")]),
            ("唯一、首个、极品！", &[("唯一", "唯一"), ("首个", "首个"), ("极品", "极品")]),
        ];
        for (text, expected) in table {
            assert_eq!(found(text), pairs(expected), "{text:?}");
        }
    }

    #[test]
    fn clean_titles_pass() {
        let words = BannedWords::seed();
        for text in [
            "纯棉短袖T恤 夏季新款",
            "最近上新的连衣裙",
            "最后一件清仓",
            "第二件半价",
            "国货精品牛仔裤",
            "100g 装",
            "",
        ] {
            assert!(words.is_clean(text), "{text:?}");
            assert_eq!(words.find(text), vec![], "{text:?}");
        }
    }

    #[test]
    fn the_longest_word_wins_and_each_word_is_named_once() {
        let words = BannedWords::seed();
        assert_eq!(words.words_in("全网最低！全网最低！最低价"), ["全网最低", "最低价"]);
        let hits = words.find("好物：顶 级");
        assert_eq!((hits[0].at_char, hits[0].found.as_str()), (3, "顶 级"));
    }

    #[test]
    fn the_dictionary_is_configurable_and_checked() {
        let words = BannedWords::new(["奢华", "ＶＩＰ专享", "奢 华"]).unwrap();
        assert_eq!(words.len(), 2, "the same word twice after normalisation is kept once");
        assert_eq!(words.words_in("vip专享奢华礼盒"), ["ＶＩＰ专享", "奢华"]);
        assert_eq!(
            BannedWords::new([" ·、"]).unwrap_err(),
            DictionaryError::EmptyWord { word: " ·、".into() }
        );
        let long = "长".repeat(MAX_WORD_CHARS + 1);
        assert_eq!(
            BannedWords::new([long.as_str()]).unwrap_err(),
            DictionaryError::WordTooLong { word: long }
        );
    }

    proptest! {
        /// A seed word with any mix of spaces, zero-width characters and punctuation between
        /// its characters, in full width where it has one, is still found.
        #[test]
        fn a_word_broken_up_any_way_is_found(
            index in 0..SEED_WORDS.len(),
            fillers in proptest::collection::vec(proptest::sample::select(vec!["", " ", "\u{3000}", "\u{200B}", ".", "*", "-", "、", "\u{FEFF}"]), 64),
            wide in any::<bool>(),
        ) {
            let word = SEED_WORDS[index];
            let mut text = String::from("前缀");
            for (i, c) in word.chars().enumerate() {
                let c = if wide && c.is_ascii_graphic() { char::from_u32(c as u32 + 0xFEE0).unwrap() } else { c };
                text.push(c);
                text.push_str(fillers[i]);
            }
            text.push_str("后缀");
            let words = BannedWords::seed();
            prop_assert!(!words.is_clean(&text), "{:?} passed", text);
        }
    }
}

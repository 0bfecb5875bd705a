//! Character bigrams for substring search in Chinese text (names, addresses), where words
//! are not separated by spaces: "文三路12号" → 文三, 三路, 路1, 12, 2号.

/// The distinct bigrams of `text`, ignoring white space and ASCII case.
pub fn bigrams(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).flat_map(char::to_lowercase).collect();
    let mut out: Vec<String> = Vec::new();
    for w in chars.windows(2) {
        let g: String = w.iter().collect();
        if !out.contains(&g) {
            out.push(g);
        }
    }
    out
}

/// Orders query bigrams so the most selective comes first: grams of Chinese characters
/// that are not address boilerplate (路, 号, 幢 …) before grams with digits.
pub fn by_selectivity(mut grams: Vec<String>) -> Vec<String> {
    const COMMON: &[char] = &['路', '号', '区', '幢', '单', '元', '室', '街', '道', '弄', '栋', '楼', '层'];
    let score = |g: &String| -> i32 {
        g.chars()
            .map(|c| {
                if c.is_ascii_digit() {
                    3
                } else if COMMON.contains(&c) {
                    2
                } else {
                    0
                }
            })
            .sum()
    };
    grams.sort_by_key(score);
    grams
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_bigrams() {
        assert_eq!(bigrams("文三路 12号"), ["文三", "三路", "路1", "12", "2号"]);
        assert_eq!(bigrams("欧阳娜娜"), ["欧阳", "阳娜", "娜娜"]);
        assert!(bigrams("王").is_empty());
        assert_eq!(bigrams("AbAb"), ["ab", "ba"]);
    }

    #[test]
    fn selective_first() {
        assert_eq!(by_selectivity(bigrams("文三路12号")).first().map(String::as_str), Some("文三"));
    }
}

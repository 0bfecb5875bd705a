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

/// House-number tokens of an address: the road's last character, its suffix (路 街 道 巷 弄)
/// and the number after it, as one token — "文三路12号" → "#三路12". A road and a number
/// name a handful of houses, where each bigram alone names thousands.
pub fn house_tokens(text: &str) -> Vec<String> {
    const SUFFIX: &[char] = &['路', '街', '道', '巷', '弄'];
    let chars: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).collect();
    let mut out: Vec<String> = Vec::new();
    for (i, c) in chars.iter().enumerate() {
        if !SUFFIX.contains(c) || i == 0 {
            continue;
        }
        let digits: String = chars[i + 1..].iter().take_while(|d| d.is_ascii_digit()).collect();
        if digits.is_empty() || digits.len() > 6 {
            continue;
        }
        let t = format!("#{}{}{}", chars[i - 1], c, digits);
        if !out.contains(&t) {
            out.push(t);
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
    fn house_number_tokens() {
        assert_eq!(house_tokens("西湖区文三路12号3幢"), ["#三路12"]);
        assert_eq!(house_tokens("滨江区江南大道 100 号"), ["#大道100"]);
        assert!(house_tokens("文三路").is_empty() && house_tokens("路12号").is_empty());
    }

    #[test]
    fn selective_first() {
        assert_eq!(by_selectivity(bigrams("文三路12号")).first().map(String::as_str), Some("文三"));
    }
}

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
    house_tokens_of(text, false)
}

/// [`house_tokens`] whose number is followed by another character in `text`, so that any
/// text containing `text` has the same token (a search for "文三路1" must find "文三路12号").
fn house_tokens_of(text: &str, terminated: bool) -> Vec<String> {
    const SUFFIX: &[char] = &['路', '街', '道', '巷', '弄'];
    let chars: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).collect();
    let mut out: Vec<String> = Vec::new();
    for (i, c) in chars.iter().enumerate() {
        if !SUFFIX.contains(c) || i == 0 {
            continue;
        }
        let digits: String = chars[i + 1..].iter().take_while(|d| d.is_ascii_digit()).collect();
        if digits.is_empty() || digits.len() > 6 || (terminated && i + 1 + digits.len() >= chars.len()) {
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

/// The search keys of work-order text (title, content, address; ARCHITECTURE D27): every
/// character bigram as a number (`first << 21 | second`, white space dropped, ASCII
/// lowercased as in [`bigrams`]) and every house-number token hashed (FNV-1a, bit 62 set),
/// distinct. A text containing a search string has every one of [`search_keys`] of it.
pub fn text_keys(texts: &[&str]) -> Vec<i64> {
    let mut out: Vec<i64> = Vec::new();
    for t in texts {
        out.extend(bigram_keys(t));
        out.extend(house_tokens_of(t, false).iter().map(|h| token_key(h)));
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// The keys every text containing `text` has (see [`text_keys`]); empty when `text` is
/// too short to have any (one character).
pub fn search_keys(text: &str) -> Vec<i64> {
    let mut out: Vec<i64> = bigram_keys(text).collect();
    out.extend(house_tokens_of(text, true).iter().map(|h| token_key(h)));
    out.sort_unstable();
    out.dedup();
    out
}

fn bigram_keys(text: &str) -> impl Iterator<Item = i64> {
    let chars: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).flat_map(char::to_lowercase).collect();
    (1..chars.len()).map(move |i| (i64::from(u32::from(chars[i - 1])) << 21) | i64::from(u32::from(chars[i])))
}

fn token_key(token: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in token.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    ((h & ((1 << 62) - 1)) | (1 << 62)) as i64
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

    #[test]
    fn search_keys_are_keys_of_every_containing_text() {
        let text = ["文三路12号水管漏水", "", "西湖区文三路12号3幢"];
        let keys = text_keys(&text);
        for q in ["文三路12号", "漏水", "路12", "文三路1", "三路12号3", "12号 水管", "西湖", "号3幢"]
        {
            let want = search_keys(q);
            assert!(!want.is_empty(), "{q}");
            assert!(want.iter().all(|k| keys.contains(k)), "{q}");
        }
        assert!(search_keys("文三路12号").len() > bigrams("文三路12号").len(), "a house token too");
        assert!(search_keys("文三路1").len() == bigrams("文三路1").len(), "an open number has none");
        assert!(search_keys("水").is_empty());
        assert!(!search_keys("莫干山路").iter().all(|k| keys.contains(k)));
        assert_eq!(text_keys(&["AB", "ab"]), search_keys("Ab"));
        assert!(text_keys(&["文三路12号"]).iter().all(|k| *k > 0));
    }
}

//! Glob matching with Redis's `stringmatchlen` semantics (KEYS, SCAN MATCH).

/// Whether `string` matches the glob `pattern`: `*` any run, `?` one byte,
/// `[abc]`, `[^a]`, `[a-z]` classes (a reversed range is swapped, an
/// unterminated class runs to the end of the pattern), `\x` a literal `x`.
/// Comparison is byte-wise and case-sensitive.
pub fn matches(pattern: &[u8], string: &[u8]) -> bool {
    let mut skip_longer = false;
    match_impl(pattern, string, &mut skip_longer, 0)
}

/// [`matches`] ignoring ASCII case (FUNCTION LIST's LIBRARYNAME).
pub fn matches_nocase(pattern: &[u8], string: &[u8]) -> bool {
    matches(&pattern.to_ascii_lowercase(), &string.to_ascii_lowercase())
}

fn at(s: &[u8], i: usize) -> u8 {
    s.get(i).copied().unwrap_or(0)
}

fn match_impl(pat: &[u8], s: &[u8], skip_longer: &mut bool, nesting: u32) -> bool {
    if nesting > 1000 {
        return false;
    }
    let mut p = 0usize;
    let mut i = 0usize;
    while p < pat.len() && i < s.len() {
        match pat[p] {
            b'*' => {
                while p + 1 < pat.len() && pat[p + 1] == b'*' {
                    p += 1;
                }
                if p + 1 == pat.len() {
                    return true;
                }
                while i < s.len() {
                    if match_impl(&pat[p + 1..], &s[i..], skip_longer, nesting + 1) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    i += 1;
                }
                *skip_longer = true;
                return false;
            }
            b'?' => i += 1,
            b'[' => {
                p += 1;
                let not = at(pat, p) == b'^';
                if not {
                    p += 1;
                }
                let mut matched = false;
                let c = s[i];
                loop {
                    let rem = pat.len().saturating_sub(p);
                    if at(pat, p) == b'\\' && rem >= 2 {
                        p += 1;
                        if pat[p] == c {
                            matched = true;
                        }
                    } else if at(pat, p) == b']' {
                        break;
                    } else if rem == 0 {
                        p -= 1;
                        break;
                    } else if rem >= 3 && pat[p + 1] == b'-' {
                        // C compares (signed) chars.
                        let mut start = pat[p] as i8;
                        let mut end = pat[p + 2] as i8;
                        if start > end {
                            core::mem::swap(&mut start, &mut end);
                        }
                        let ci = c as i8;
                        p += 2;
                        if ci >= start && ci <= end {
                            matched = true;
                        }
                    } else if pat[p] == c {
                        matched = true;
                    }
                    p += 1;
                }
                if not {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                i += 1;
            }
            b'\\' => {
                if pat.len() - p >= 2 {
                    p += 1;
                }
                if pat[p] != s[i] {
                    return false;
                }
                i += 1;
            }
            other => {
                if other != s[i] {
                    return false;
                }
                i += 1;
            }
        }
        p += 1;
        if i == s.len() {
            while at(pat, p) == b'*' && p < pat.len() {
                p += 1;
            }
            break;
        }
    }
    p >= pat.len() && i == s.len()
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn stars_and_questions() {
        // As in Redis, a pattern never matches the empty string through the
        // loop; KEYS and SCAN special-case the lone "*".
        assert!(!matches(b"*", b""));
        assert!(matches(b"*", b"anything"));
        assert!(matches(b"h?llo", b"hello"));
        assert!(!matches(b"h?llo", b"hllo"));
        assert!(matches(b"h*llo", b"hllo"));
        assert!(matches(b"h*llo", b"heeeello"));
        assert!(matches(b"a*b*c", b"aXXbYYc"));
        assert!(!matches(b"a*b*c", b"aXXbYY"));
        assert!(matches(b"**a", b"a"));
        assert!(matches(b"a**", b"a"));
        assert!(!matches(b"", b"a"));
        assert!(matches(b"", b""));
        assert!(!matches(b"a", b""));
    }

    #[test]
    fn classes() {
        assert!(matches(b"h[ae]llo", b"hello"));
        assert!(matches(b"h[ae]llo", b"hallo"));
        assert!(!matches(b"h[ae]llo", b"hillo"));
        assert!(matches(b"h[^e]llo", b"hallo"));
        assert!(!matches(b"h[^e]llo", b"hello"));
        assert!(matches(b"h[a-b]llo", b"hbllo"));
        assert!(matches(b"h[b-a]llo", b"hallo"));
        assert!(!matches(b"h[a-b]llo", b"hcllo"));
        assert!(matches(b"[\\]]", b"]"));
        assert!(matches(b"[abc", b"c"));
        assert!(!matches(b"[", b"a"));
    }

    #[test]
    fn escapes() {
        assert!(matches(b"h\\*llo", b"h*llo"));
        assert!(!matches(b"h\\*llo", b"hello"));
        assert!(matches(b"a\\", b"a\\"));
        assert!(matches(b"\\?", b"?"));
        assert!(!matches(b"\\?", b"x"));
    }
}

//! The start of a known secret left just before a `…`: a preview (the diagnosis's, a cause's) cut inside it.

use super::Redactor;

/// The mark every shortened preview ends with (`log::frame::preview`, `inspect::close::preview`).
const CUT_MARK: char = '…';

/// A piece of a secret this long is masked wherever the cut falls; a shorter one only where a word starts, so a
/// cut-off ordinary word that merely begins like a secret is left alone.
const MIN_PIECE_INSIDE_A_WORD: usize = 4;

impl Redactor {
    /// `text` with the start of every known secret that runs into a `…` replaced by as much of its placeholder
    /// (`"my token is 3f2b9a1c-5d…"` → `"my token is 00000000-00…"`), or `None` when there is none. The whole
    /// secret is found by [`Redactor::free_text`]'s search; a preview cut inside it holds only its start.
    pub(super) fn cut_off_secrets(&self, text: &str) -> Option<String> {
        if !text.contains(CUT_MARK) {
            return None;
        }
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        for (mark, _) in text.match_indices(CUT_MARK) {
            let before = &text[copied..mark];
            let longest = self
                .known_here()
                .filter_map(|(secret, placeholder)| Some((piece_at_end(before, secret)?, placeholder)))
                .min_by_key(|(start, _)| *start);
            if let Some((start, placeholder)) = longest {
                let piece_len = before.len() - start;
                out.push_str(&before[..start]);
                out.push_str(placeholder.get(..piece_len).unwrap_or(placeholder));
                copied = mark;
            }
        }
        if copied == 0 {
            return None;
        }
        out.push_str(&text[copied..]);
        Some(out)
    }
}

/// Where the longest start of `secret` that ends `text` begins, if one long enough to count does.
fn piece_at_end(text: &str, secret: &str) -> Option<usize> {
    let first = *secret.as_bytes().first()?;
    let from = text.len().saturating_sub(secret.len().saturating_sub(1));
    (from..text.len()).find(|&start| {
        text.as_bytes()[start] == first
            && text.is_char_boundary(start)
            && secret.as_bytes().starts_with(&text.as_bytes()[start..])
            && (text.len() - start >= MIN_PIECE_INSIDE_A_WORD || starts_a_word(text, start))
    })
}

/// True when nothing word-like (a letter, a digit, `-`, `_`) comes just before `at`.
fn starts_a_word(text: &str, at: usize) -> bool {
    text[..at].chars().next_back().is_none_or(|c| !(c.is_alphanumeric() || c == '-' || c == '_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_cut_by_a_preview_is_masked_as_far_as_it_goes() {
        let mut r = Redactor::with_key(b"k");
        let secret = "3f2b9a1c-5d6e-4f70-8a9b-0c1d2e3f4a5b";
        let placeholder = r.placeholder_for(secret);
        let cut = r.free_text("You said: my token is 3f2b9a1c-5d… and more…").into_owned();
        assert_eq!(cut, format!("You said: my token is {}… and more…", &placeholder[..11]));
        // One character at a word's start is masked too; inside a word, a short piece is an ordinary word.
        assert_eq!(r.free_text("token 3…").into_owned(), format!("token {}…", &placeholder[..1]));
        assert_eq!(r.free_text("abc3f2…"), "abc3f2…");
        assert_eq!(r.free_text("abc3f2b…").into_owned(), format!("abc{}…", &placeholder[..4]));
        // No mark, or a mark after something that is no start of a secret: unchanged.
        assert_eq!(r.free_text("3f2b9a1c-5d"), "3f2b9a1c-5d");
        assert_eq!(r.free_text("nothing here…"), "nothing here…");
    }
}

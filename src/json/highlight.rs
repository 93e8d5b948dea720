//! JSON syntax highlighting as a writer: the bytes of JSON text (one value
//! or a stream of them, as the printers write them) pass through and come
//! out with ANSI colours around keys, strings, numbers and literals. The
//! printers stay as they are and know nothing of colour; without colour the
//! writer is not there at all, so the plain path costs nothing.
//!
//! A token may be split across writes (a string cut inside an escape, a
//! number cut in its exponent): the state machine carries over, and the
//! colour opened for a token stays open on the terminal until it ends.

use std::io::{self, Write};

use crate::color;

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between tokens: punctuation, white space.
    Between,
    String {
        escaped: bool,
    },
    Number,
    Literal,
}

pub struct Highlight<W: Write> {
    inner: W,
    state: State,
    /// Containers open, innermost last: true for an object.
    objects: Vec<bool>,
    /// The next string in the innermost object is a key.
    expect_key: bool,
    /// A flush closed the token's colour; it is reopened by the next byte
    /// that continues the token.
    reopen: Option<&'static str>,
    out: Vec<u8>,
}

impl<W: Write> Highlight<W> {
    pub fn new(inner: W) -> Highlight<W> {
        Highlight {
            inner,
            state: State::Between,
            objects: Vec::new(),
            expect_key: false,
            reopen: None,
            out: Vec::new(),
        }
    }

    fn end_token(&mut self) {
        self.state = State::Between;
        self.out.extend_from_slice(color::RESET.as_bytes());
    }

    fn start(&mut self, style: &'static str, state: State, byte: u8) {
        self.out.extend_from_slice(style.as_bytes());
        self.out.push(byte);
        self.state = state;
    }

    fn style(&self) -> &'static str {
        match self.state {
            State::Between => "",
            State::String { .. } if self.expect_key => color::KEY,
            State::String { .. } => color::STRING,
            State::Number => color::NUMBER,
            State::Literal => color::LITERAL,
        }
    }

    fn byte(&mut self, b: u8) {
        if let Some(style) = self.reopen.take() {
            let continues = match self.state {
                State::String { .. } => true,
                State::Number => is_number_byte(b),
                State::Literal => b.is_ascii_alphabetic(),
                State::Between => false,
            };
            if continues {
                self.out.extend_from_slice(style.as_bytes());
            } else {
                // Its colour is already closed.
                self.state = State::Between;
            }
        }
        match self.state {
            State::String { escaped } => {
                self.out.push(b);
                if escaped {
                    self.state = State::String { escaped: false };
                } else if b == b'\\' {
                    self.state = State::String { escaped: true };
                } else if b == b'"' {
                    self.end_token();
                    self.expect_key = false;
                }
                return;
            }
            State::Number if is_number_byte(b) => return self.out.push(b),
            State::Literal if b.is_ascii_alphabetic() => return self.out.push(b),
            State::Number | State::Literal => self.end_token(),
            State::Between => {}
        }
        match b {
            b'"' => {
                let style = if self.expect_key {
                    color::KEY
                } else {
                    color::STRING
                };
                self.start(style, State::String { escaped: false }, b);
                return;
            }
            b'-' | b'0'..=b'9' => return self.start(color::NUMBER, State::Number, b),
            b't' | b'f' | b'n' => return self.start(color::LITERAL, State::Literal, b),
            b'{' => {
                self.objects.push(true);
                self.expect_key = true;
            }
            b'[' => {
                self.objects.push(false);
                self.expect_key = false;
            }
            b'}' | b']' => {
                self.objects.pop();
                self.expect_key = false;
            }
            b',' => self.expect_key = self.objects.last() == Some(&true),
            b':' => self.expect_key = false,
            _ => {}
        }
        self.out.push(b);
    }
}

fn is_number_byte(b: u8) -> bool {
    matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
}

impl<W: Write> Write for Highlight<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // About one escape sequence per token: room for the text and a few.
        self.out.reserve(buf.len() + buf.len() / 2);
        for &b in buf {
            self.byte(b);
        }
        let result = self.inner.write_all(&self.out);
        self.out.clear();
        result.map(|()| buf.len())
    }

    /// Whatever comes next (a prompt, another program's output) must not
    /// inherit an open colour: a token cut here is closed, and reopened if
    /// more of it follows.
    fn flush(&mut self) -> io::Result<()> {
        if self.state != State::Between && self.reopen.is_none() {
            self.reopen = Some(self.style());
            self.inner.write_all(color::RESET.as_bytes())?;
        }
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paint(chunks: &[&[u8]]) -> String {
        let mut h = Highlight::new(Vec::new());
        for chunk in chunks {
            h.write_all(chunk).unwrap();
        }
        String::from_utf8(h.inner).unwrap()
    }

    /// The colours as tags, for readable expectations.
    fn tags(text: &str) -> String {
        text.replace(color::KEY, "<k>")
            .replace(color::STRING, "<s>")
            .replace(color::NUMBER, "<n>")
            .replace(color::LITERAL, "<l>")
            .replace(color::RESET, "</>")
    }

    const TRICKY: &str = concat!(
        "{\n  \"a\\\"b:c\": \"x\\\\\\\"y: {z}, [w]\",\n",
        "  \"n\": [-1.5e+10, 0, 2E-3, {\"k\": true}],\n",
        "  \"o\": {\"\": null, \"f\": false, \"s\": \"\\u00e9\\\\\"},\n",
        "  \"e\": {}, \"l\": [[]], \"utf\": \"h\u{e9}\u{1f600}\"\n}\n",
        "[\"v\", {\"k2\": \"after array\"}]\n",
    );

    const TRICKY_TAGGED: &str = concat!(
        "{\n  <k>\"a\\\"b:c\"</>: <s>\"x\\\\\\\"y: {z}, [w]\"</>,\n",
        "  <k>\"n\"</>: [<n>-1.5e+10</>, <n>0</>, <n>2E-3</>, {<k>\"k\"</>: <l>true</>}],\n",
        "  <k>\"o\"</>: {<k>\"\"</>: <l>null</>, <k>\"f\"</>: <l>false</>, <k>\"s\"</>: <s>\"\\u00e9\\\\\"</>},\n",
        "  <k>\"e\"</>: {}, <k>\"l\"</>: [[]], <k>\"utf\"</>: <s>\"h\u{e9}\u{1f600}\"</>\n}\n",
        "[<s>\"v\"</>, {<k>\"k2\"</>: <s>\"after array\"</>}]\n",
    );

    #[test]
    fn keys_strings_numbers_and_literals_are_told_apart() {
        assert_eq!(tags(&paint(&[TRICKY.as_bytes()])), TRICKY_TAGGED);
    }

    /// A write may end anywhere: between the bytes of an escape, a number,
    /// a literal, a character of several bytes. Every split (into two, and
    /// byte by byte) gives the same text.
    #[test]
    fn writes_split_at_every_byte_give_the_same_colours() {
        let bytes = TRICKY.as_bytes();
        for cut in 0..=bytes.len() {
            let (a, b) = bytes.split_at(cut);
            assert_eq!(tags(&paint(&[a, b])), TRICKY_TAGGED, "split at {cut}");
        }
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(tags(&paint(&singles)), TRICKY_TAGGED);
    }

    #[test]
    fn without_colour_codes_the_text_is_unchanged() {
        let painted = paint(&[TRICKY.as_bytes()]);
        let plain = tags(&painted)
            .replace("<k>", "")
            .replace("<s>", "")
            .replace("<n>", "")
            .replace("<l>", "")
            .replace("</>", "");
        assert_eq!(plain, TRICKY);
    }

    /// A flush inside a token closes its colour (nothing after rpcurl
    /// inherits it) and the rest of the token is coloured again.
    #[test]
    fn a_flush_inside_a_token_closes_and_reopens_its_colour() {
        let mut h = Highlight::new(Vec::new());
        h.write_all(b"{\"key\": \"ab").unwrap();
        h.flush().unwrap();
        h.write_all(b"c\", \"n\": 12").unwrap();
        h.flush().unwrap();
        h.write_all(b"}\n").unwrap();
        assert_eq!(
            tags(&String::from_utf8(h.inner).unwrap()),
            "{<k>\"key\"</>: <s>\"ab</><s>c\"</>, <k>\"n\"</>: <n>12</>}\n"
        );
    }
}

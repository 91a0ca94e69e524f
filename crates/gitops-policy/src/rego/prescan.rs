//! A pass over a policy's text before regorus parses it, refusing what
//! would make the parser take exponential time or recurse without bound:
//! files over [`MAX_FILE_BYTES`], brackets nested over [`MAX_NESTING`],
//! nesting whose parse cost estimate is over [`MAX_PARSE_COST`], and runs
//! of unary minus over [`MAX_UNARY_RUN`]. It reads tokens only as far as
//! it needs: strings (`"…"` with escapes, and raw `` `…` ``) and comments
//! (`#` to the end of the line) count for nothing, whatever they hold.
//!
//! The cost model. regorus 0.11 parses `[` by first trying a comprehension
//! (`[x | …]`): it parses the first term, and when no `|` follows, rewinds
//! and parses the whole bracket again as an array; `{` likewise, as a set
//! or object comprehension, then a set or an object. Each level of nesting
//! therefore doubles the work inside it, and triples it when the bracket
//! holds a `|` that turns out not to make a comprehension
//! (`[a | [..], b]`). A statement that begins with a bracket is parsed
//! twice too (as the target of an assignment, then as an expression).
//! Measured on regorus 0.11, every pattern tried grows by at most those
//! factors. So each token costs the product of the factors of the brackets
//! around it: 2 for `[` and `{` (3 with a `|` inside), 1 for `(` and for a
//! rule's body, and 2 more for a bracket that starts a statement of a body.

use super::PolicyError;
use super::limits::{self, MAX_FILE_BYTES, MAX_NESTING, MAX_PARSE_COST, MAX_UNARY_RUN};

const FLATTEN: &str = "give the inner part a name (`inner := [...]`) and use the name, or flatten the data";

/// Checks `text`, the contents of `file`, before it is parsed.
pub(crate) fn check(file: &str, text: &str) -> Result<(), PolicyError> {
    if text.len() > MAX_FILE_BYTES {
        return Err(limits::error(
            file,
            None,
            format!("the policy is {} bytes", text.len()),
            format!("{} per file", limits::bytes(MAX_FILE_BYTES as u64)),
            "split it into several files (a package may span files)",
        ));
    }
    Scanner::new(file).run(text)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `(`: parsed once.
    Paren,
    /// A rule's (or `else`'s) body: parsed once.
    Body,
    /// `[`, or `{` of a set, object or comprehension.
    Value,
}

struct Frame {
    kind: Kind,
    at: (u32, u32),
    /// The cost of what is inside so far.
    cost: u64,
    /// A `|` directly inside.
    pipe: bool,
    /// Opens a statement of the enclosing body.
    starts_statement: bool,
    /// For a body: the next token starts a statement.
    at_statement_start: bool,
}

impl Frame {
    fn factor(&self) -> u64 {
        let own = match self.kind {
            Kind::Paren | Kind::Body => 1,
            Kind::Value if self.pipe => 3,
            Kind::Value => 2,
        };
        if self.starts_statement { own * 2 } else { own }
    }
}

/// The previous token, as far as telling a rule body's `{` from a value's.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Prev {
    None,
    /// `if` or `else`.
    BodyKeyword,
    /// A keyword after which a value comes (`in`, `contains`, `as`, …).
    ValueKeyword,
    /// A name, number, string or closing bracket: what ends a rule head.
    Operand,
    /// Any other punctuation: an operator, `:=`, `,`, `:`, an opening bracket.
    Punct,
}

struct Scanner<'f> {
    file: &'f str,
    stack: Vec<Frame>,
    /// Cost of what is outside every bracket.
    top: u64,
    prev: Prev,
    /// `-` signs in a row, and where the run began.
    minus_run: usize,
    minus_at: (u32, u32),
}

impl<'f> Scanner<'f> {
    fn new(file: &'f str) -> Self {
        Scanner { file, stack: Vec::new(), top: 0, prev: Prev::None, minus_run: 0, minus_at: (0, 0) }
    }

    fn run(&mut self, text: &str) -> Result<(), PolicyError> {
        let mut chars = text.chars().peekable();
        let (mut line, mut col) = (1u32, 1u32);
        // Advances past one character, keeping the position.
        macro_rules! bump {
            () => {{
                let c = chars.next();
                if c == Some('\n') {
                    line += 1;
                    col = 1;
                } else if c.is_some() {
                    col += 1;
                }
                c
            }};
        }
        while let Some(&c) = chars.peek() {
            let at = (line, col);
            match c {
                '\n' | ';' => {
                    bump!();
                    self.statement_boundary();
                    if c == ';' {
                        self.token(at, Prev::Punct, false)?;
                    }
                }
                c if c.is_whitespace() => {
                    bump!();
                }
                '#' => {
                    while chars.peek().is_some_and(|&c| c != '\n') {
                        bump!();
                    }
                }
                '"' => {
                    bump!();
                    while let Some(c) = bump!() {
                        match c {
                            '\\' if chars.peek() != Some(&'\n') => {
                                bump!();
                            }
                            '"' | '\n' => break,
                            _ => {}
                        }
                    }
                    self.token(at, Prev::Operand, false)?;
                }
                '`' => {
                    bump!();
                    while bump!().is_some_and(|c| c != '`') {}
                    self.token(at, Prev::Operand, false)?;
                }
                '[' | '{' | '(' => {
                    bump!();
                    self.open(c, at)?;
                }
                ']' | '}' | ')' => {
                    bump!();
                    self.close()?;
                    self.prev = Prev::Operand;
                }
                '|' => {
                    bump!();
                    if let Some(frame) = self.stack.last_mut() {
                        frame.pipe = true;
                    }
                    self.token(at, Prev::Punct, false)?;
                }
                '-' => {
                    bump!();
                    self.token(at, Prev::Punct, true)?;
                }
                c if c.is_alphanumeric() || c == '_' => {
                    let mut word = String::new();
                    while let Some(&c) = chars.peek() {
                        if !(c.is_alphanumeric() || c == '_') {
                            break;
                        }
                        if word.len() < 16 {
                            word.push(c);
                        }
                        bump!();
                    }
                    let prev = match word.as_str() {
                        "if" | "else" => Prev::BodyKeyword,
                        "in" | "contains" | "as" | "not" | "some" | "every" | "with" | "default"
                        | "import" | "package" => Prev::ValueKeyword,
                        _ => Prev::Operand,
                    };
                    self.token(at, prev, false)?;
                }
                _ => {
                    bump!();
                    self.token(at, Prev::Punct, false)?;
                }
            }
        }
        while !self.stack.is_empty() {
            self.close()?;
        }
        Ok(())
    }

    /// One token at `at`; `minus` for a `-`.
    fn token(&mut self, at: (u32, u32), prev: Prev, minus: bool) -> Result<(), PolicyError> {
        if minus {
            if self.minus_run == 0 {
                self.minus_at = at;
            }
            self.minus_run += 1;
            if self.minus_run > MAX_UNARY_RUN {
                return Err(limits::error(
                    self.file,
                    Some(self.minus_at),
                    format!("{} `-` signs follow one another here", self.minus_run),
                    format!("{MAX_UNARY_RUN} in a row"),
                    "write the number or expression without the repeated signs",
                ));
            }
        } else {
            self.minus_run = 0;
        }
        self.prev = prev;
        match self.stack.last_mut() {
            Some(frame) => {
                frame.cost = frame.cost.saturating_add(1);
                frame.at_statement_start = false;
            }
            None => self.top = self.top.saturating_add(1),
        }
        Ok(())
    }

    fn statement_boundary(&mut self) {
        if let Some(frame) = self.stack.last_mut()
            && frame.kind == Kind::Body
        {
            frame.at_statement_start = true;
        }
    }

    fn open(&mut self, c: char, at: (u32, u32)) -> Result<(), PolicyError> {
        self.minus_run = 0;
        let kind = match c {
            '(' => Kind::Paren,
            '[' => Kind::Value,
            _ if self.prev == Prev::BodyKeyword => Kind::Body,
            // A rule head ends in a name, a number, a string or a bracket;
            // outside every bracket, a `{` after one opens the rule's body.
            _ if self.stack.is_empty() && matches!(self.prev, Prev::Operand | Prev::None) => Kind::Body,
            _ => Kind::Value,
        };
        let starts_statement =
            self.stack.last().is_some_and(|frame| frame.kind == Kind::Body && frame.at_statement_start);
        if self.stack.len() >= MAX_NESTING {
            return Err(limits::error(
                self.file,
                Some(at),
                format!(
                    "brackets are nested {} deep here (`[`, `{{` and `(`, outside strings and comments)",
                    self.stack.len() + 1
                ),
                format!("{MAX_NESTING} levels"),
                FLATTEN,
            ));
        }
        self.stack.push(Frame {
            kind,
            at,
            cost: 0,
            pipe: false,
            starts_statement,
            at_statement_start: kind == Kind::Body,
        });
        self.prev = Prev::Punct;
        Ok(())
    }

    fn close(&mut self) -> Result<(), PolicyError> {
        self.minus_run = 0;
        let Some(frame) = self.stack.pop() else {
            // A stray closing bracket: regorus reports it.
            return Ok(());
        };
        // The brackets themselves are two tokens.
        let cost = frame.cost.saturating_add(2).saturating_mul(frame.factor());
        let total = match self.stack.last_mut() {
            Some(parent) => {
                parent.cost = parent.cost.saturating_add(cost);
                parent.at_statement_start = false;
                parent.cost
            }
            None => {
                self.top = self.top.saturating_add(cost);
                self.top
            }
        };
        if total > MAX_PARSE_COST {
            return Err(limits::error(
                self.file,
                Some(frame.at),
                format!(
                    "the brackets from here on would cost the parser about {total} steps: each level of \
                     `[` or `{{` nesting doubles or triples its work"
                ),
                format!("{MAX_PARSE_COST} steps per file"),
                FLATTEN,
            ));
        }
        Ok(())
    }
}

/// The estimated parse cost of `text` (for tests and calibration).
#[cfg(test)]
pub(crate) fn cost(text: &str) -> u64 {
    let mut scanner = Scanner::new("t.rego");
    scanner.run(text).map(|()| scanner.top).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        check("policies/p.rego", text).unwrap_err().to_string()
    }

    #[test]
    fn strings_and_comments_do_not_count() {
        let deep = "[".repeat(200);
        let policy = format!(
            "package p\n# {deep}\nx := \"{deep}\\\"{deep}\"\ny := `{deep}\n{deep}`\ndeny contains m if {{ m := concat(\"\", [x, y]) }}\n"
        );
        check("p.rego", &policy).unwrap();
    }

    #[test]
    fn each_kind_of_bracket_counts_toward_the_depth() {
        for (open, close) in [("[", "]"), ("{", "}"), ("(", ")"), ("[{(", ")}]")] {
            let depth = 20;
            let policy = format!("package p\nx := {}1{}\n", open.repeat(depth), close.repeat(depth));
            let e = err(&policy);
            assert!(e.starts_with("policies/p.rego:2:"), "{e}");
            assert!(e.contains("nested 17 deep"), "{e}");
            assert!(e.contains(&format!("the limit is {MAX_NESTING} levels")), "{e}");
        }
    }

    #[test]
    fn the_cost_of_brackets_grows_with_their_nesting_and_a_flat_file_is_cheap() {
        let nested = |d: usize| cost(&format!("x := {}1{}\n", "[".repeat(d), "]".repeat(d)));
        assert!(nested(10) >= 2 * nested(9));
        // A rule body is parsed once; a bracket that starts a statement twice.
        assert!(cost("p if { x := [1] }") < cost("p if { [1] == x }"));
        let rule = "deny contains msg if {\n\tinput.kind == \"Deployment\"\n\tsome c in input.spec.template.spec.containers\n\tnot c.resources.limits\n\tmsg := sprintf(\"%v: no limits\", [c.name])\n}\n";
        let file = format!("package p\n{}", rule.repeat(MAX_FILE_BYTES / rule.len()));
        assert!(cost(&file) < MAX_PARSE_COST / 4, "{}", cost(&file));
    }

    #[test]
    fn a_run_of_minus_signs_is_refused() {
        check("p.rego", "package p\nx := 1 - -1\ny := 3 - 1 # ------\n").unwrap();
        let e = err("package p\nx := - - - - - - 1\n");
        assert!(e.starts_with("policies/p.rego:2:6:"), "{e}");
    }

    #[test]
    fn a_large_file_is_refused() {
        let e = err(&format!("package p\n{}", "# filler\n".repeat(MAX_FILE_BYTES / 9 + 1)));
        assert!(e.starts_with("policies/p.rego: the policy is"), "{e}");
    }
}

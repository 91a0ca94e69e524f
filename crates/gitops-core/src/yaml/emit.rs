//! A YAML emitter that writes exactly the bytes `serde_yaml` 0.9 writes
//! (libyaml's block style, unlimited width, serde_yaml's quoting of strings
//! that would read back as another type), for the documents this workspace
//! renders, about ten times faster: no event queue, no per-scalar
//! allocation.
//!
//! It covers printable ASCII text, integers, booleans, nulls, sequences and
//! mappings with scalar keys, and multi-line strings as literal blocks. For
//! anything else (floats, non-ASCII or control characters, enum tags,
//! complex keys, a string libyaml would double-quote or keep trailing
//! newlines of) it gives up with [`Fallback`], and the caller asks
//! `serde_yaml` instead, so the output is always serde_yaml's.

use std::fmt;

use serde::ser::{self, Serialize};

/// This emitter does not write that value; `serde_yaml` does.
#[derive(Debug)]
pub struct Fallback;

impl fmt::Display for Fallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("value outside the native emitter's subset")
    }
}

impl std::error::Error for Fallback {}

impl ser::Error for Fallback {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Fallback
    }
}

type Result<T = ()> = std::result::Result<T, Fallback>;

/// libyaml's `best_indent`.
const INDENT: usize = 2;

/// The style serde_yaml asks libyaml for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Requested {
    /// Libyaml decides: plain when it can, else single-quoted.
    Any,
    Plain,
    SingleQuoted,
    Literal,
}

/// Where a node sits, as libyaml's emitter tracks it.
#[derive(Clone, Copy)]
struct Context {
    mapping: bool,
    simple_key: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sequence,
    Mapping,
}

/// An open collection. Libyaml writes `[]` and `{}` for empty ones, so
/// nothing is written until the first entry (or the end) shows which.
struct Frame {
    kind: Kind,
    started: bool,
    /// A block sequence that is a mapping value is not indented.
    indentless: bool,
    /// In a mapping: the key is written, its value comes next.
    expecting_value: bool,
}

pub struct Emitter {
    out: String,
    column: usize,
    /// libyaml's `indent`; `None` before the root node (libyaml's -1).
    indent: Option<usize>,
    indents: Vec<Option<usize>>,
    whitespace: bool,
    indention: bool,
    frames: Vec<Frame>,
}

/// `value` as serde_yaml would write it, or [`Fallback`].
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    after(String::new(), value)
}

/// `value` as serde_yaml would write it, appended to `out`, which is empty
/// or ends with a line break.
pub fn after<T: Serialize + ?Sized>(mut out: String, value: &T) -> Result<String> {
    debug_assert!(out.is_empty() || out.ends_with('\n'));
    out.reserve(4096);
    let mut emitter = Emitter {
        out,
        column: 0,
        indent: None,
        indents: Vec::with_capacity(16),
        whitespace: true,
        indention: true,
        frames: Vec::with_capacity(16),
    };
    value.serialize(&mut emitter)?;
    if !emitter.frames.is_empty() {
        return Err(Fallback);
    }
    // Document end.
    emitter.write_indent();
    emitter.out.shrink_to_fit();
    Ok(emitter.out)
}

impl Emitter {
    fn put(&mut self, s: &str) {
        self.out.push_str(s);
        self.column += s.len();
    }

    fn put_break(&mut self) {
        self.out.push('\n');
        self.column = 0;
    }

    fn write_indent(&mut self) {
        let indent = self.indent.unwrap_or(0);
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put_break();
        }
        while self.column < indent {
            self.out.push(' ');
            self.column += 1;
        }
        self.whitespace = true;
        self.indention = true;
    }

    fn write_indicator(
        &mut self,
        indicator: &str,
        need_whitespace: bool,
        is_whitespace: bool,
        is_indention: bool,
    ) {
        if need_whitespace && !self.whitespace {
            self.put(" ");
        }
        self.put(indicator);
        self.whitespace = is_whitespace;
        self.indention = self.indention && is_indention;
    }

    fn increase_indent(&mut self, flow: bool, indentless: bool) {
        self.indents.push(self.indent);
        self.indent = match self.indent {
            None if flow => Some(INDENT),
            None => Some(0),
            Some(i) if indentless => Some(i),
            Some(i) => Some(i + INDENT),
        };
    }

    fn pop_indent(&mut self) {
        self.indent = self.indents.pop().expect("balanced indents");
    }

    /// Writes what comes before a node in its parent (a sequence's `-`, a
    /// key's indentation) and says where the node is.
    fn begin_node(&mut self) -> Context {
        let Some(frame) = self.frames.last_mut() else {
            return Context { mapping: false, simple_key: false };
        };
        let first = !frame.started;
        frame.started = true;
        match (frame.kind, frame.expecting_value) {
            (Kind::Sequence, _) => {
                let indentless = frame.indentless;
                if first {
                    self.increase_indent(false, indentless);
                }
                self.write_indent();
                self.write_indicator("-", true, false, true);
                Context { mapping: false, simple_key: false }
            }
            (Kind::Mapping, false) => {
                if first {
                    self.increase_indent(false, false);
                }
                self.write_indent();
                Context { mapping: true, simple_key: true }
            }
            (Kind::Mapping, true) => Context { mapping: true, simple_key: false },
        }
    }

    /// After a node: a key is followed by `:`.
    fn end_node(&mut self) {
        if let Some(frame) = self.frames.last_mut()
            && frame.kind == Kind::Mapping
        {
            frame.expecting_value = !frame.expecting_value;
            if frame.expecting_value {
                self.write_indicator(":", false, false, false);
            }
        }
    }

    fn open(&mut self, kind: Kind) -> Result {
        let context = self.begin_node();
        if context.simple_key {
            // A collection as a mapping key.
            return Err(Fallback);
        }
        let indentless = kind == Kind::Sequence && context.mapping && !self.indention;
        self.frames.push(Frame { kind, started: false, indentless, expecting_value: false });
        Ok(())
    }

    fn close(&mut self) -> Result {
        let frame = self.frames.pop().expect("balanced collections");
        if frame.expecting_value {
            return Err(Fallback);
        }
        if frame.started {
            self.pop_indent();
        } else {
            let (open, close) = if frame.kind == Kind::Sequence { ("[", "]") } else { ("{", "}") };
            self.write_indicator(open, true, true, false);
            self.write_indicator(close, false, false, false);
        }
        self.end_node();
        Ok(())
    }

    fn scalar(&mut self, value: &str, requested: Requested) -> Result {
        self.scalar_with(value, |simple_key| select_style(value, requested, simple_key))
    }

    /// Writes a scalar in the style `style(simple_key)` picks.
    fn scalar_with(&mut self, value: &str, style: impl FnOnce(bool) -> Result<Style>) -> Result {
        let context = self.begin_node();
        // A key libyaml would write as a complex key (`? …`), or one
        // serde_yaml may take for an enum tag.
        if context.simple_key && (value.len() > 128 || value.starts_with('!')) {
            return Err(Fallback);
        }
        let style = style(context.simple_key)?;
        self.increase_indent(true, false);
        match style {
            Style::Plain => {
                if !self.whitespace && !value.is_empty() {
                    self.put(" ");
                }
                self.put(value);
                self.whitespace = false;
                self.indention = false;
            }
            Style::SingleQuoted => {
                self.write_indicator("'", true, false, false);
                let mut rest = value;
                while let Some(at) = rest.find('\'') {
                    self.put(&rest[..=at]);
                    self.put("'");
                    rest = &rest[at + 1..];
                }
                self.put(rest);
                self.write_indicator("'", false, false, false);
                self.whitespace = false;
                self.indention = false;
            }
            Style::Literal => self.literal(value),
        }
        self.pop_indent();
        self.end_node();
        Ok(())
    }

    /// A literal block (`|`), for text with line breaks; `select_style` has
    /// refused the `+` chomping.
    fn literal(&mut self, value: &str) {
        self.write_indicator("|", true, false, false);
        if value.starts_with([' ', '\n']) {
            self.write_indicator("2", false, false, false);
        }
        if !value.ends_with('\n') {
            self.write_indicator("-", false, false, false);
        }
        self.put_break();
        self.indention = true;
        self.whitespace = true;
        let mut first = true;
        for line in value.split('\n') {
            if !first {
                self.put_break();
                self.indention = true;
            }
            first = false;
            if !line.is_empty() {
                self.write_indent();
                self.put(line);
                self.indention = false;
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Style {
    Plain,
    SingleQuoted,
    Literal,
}

/// What libyaml's `yaml_emitter_analyze_scalar` finds, for printable ASCII
/// text with `\n` as the only line break.
struct Analysis {
    multiline: bool,
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
}

fn analyze(value: &str) -> Result<Analysis> {
    let b = value.as_bytes();
    if b.is_empty() {
        return Ok(Analysis {
            multiline: false,
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: false,
        });
    }
    let mut block_indicators = b.starts_with(b"---") || b.starts_with(b"...");
    let (mut line_breaks, mut leading_space, mut leading_break) = (false, false, false);
    let (mut trailing_space, mut trailing_break) = (false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut previous_space, mut previous_break) = (false, false);
    let blankz = |i: usize| i >= b.len() || matches!(b[i], b' ' | b'\n');
    let mut preceded_by_whitespace = true;
    for (i, &c) in b.iter().enumerate() {
        if !(c == b'\n' || (0x20..=0x7E).contains(&c)) {
            // Non-ASCII, tabs, control characters: libyaml's rules for
            // these (double quotes, other line breaks) are not reproduced.
            return Err(Fallback);
        }
        let followed_by_whitespace = blankz(i + 1);
        if i == 0 {
            if b"#,[]{}&*!|>'\"%@`".contains(&c)
                || (matches!(c, b'?' | b':' | b'-') && followed_by_whitespace)
            {
                block_indicators = true;
            }
        } else if (c == b':' && followed_by_whitespace) || (c == b'#' && preceded_by_whitespace) {
            block_indicators = true;
        }
        if c == b' ' {
            leading_space |= i == 0;
            trailing_space |= i + 1 == b.len();
            break_space |= previous_break;
            previous_space = true;
            previous_break = false;
        } else if c == b'\n' {
            line_breaks = true;
            leading_break |= i == 0;
            trailing_break |= i + 1 == b.len();
            space_break |= previous_space;
            previous_space = false;
            previous_break = true;
        } else {
            previous_space = false;
            previous_break = false;
        }
        preceded_by_whitespace = blankz(i);
    }
    let mut a = Analysis {
        multiline: line_breaks,
        block_plain_allowed: true,
        single_quoted_allowed: true,
        block_allowed: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break || line_breaks || block_indicators {
        a.block_plain_allowed = false;
    }
    if trailing_space {
        a.block_allowed = false;
    }
    if break_space {
        a.single_quoted_allowed = false;
    }
    if space_break {
        a.single_quoted_allowed = false;
        a.block_allowed = false;
    }
    Ok(a)
}

/// libyaml's `yaml_emitter_select_scalar_style` in block context, without
/// tags; double quotes and kept trailing newlines fall back.
fn select_style(value: &str, requested: Requested, simple_key: bool) -> Result<Style> {
    let a = analyze(value)?;
    if simple_key && a.multiline {
        return Err(Fallback);
    }
    let mut style = match requested {
        Requested::Any | Requested::Plain => Style::Plain,
        Requested::SingleQuoted => Style::SingleQuoted,
        Requested::Literal => Style::Literal,
    };
    if style == Style::Plain && (!a.block_plain_allowed || (value.is_empty() && simple_key)) {
        style = Style::SingleQuoted;
    }
    if style == Style::SingleQuoted && !a.single_quoted_allowed {
        return Err(Fallback);
    }
    if style == Style::Literal {
        if !a.block_allowed || simple_key {
            return Err(Fallback);
        }
        // `|+` (more than one trailing line break) makes libyaml end the
        // stream with `...`.
        if value == "\n" || value.ends_with("\n\n") {
            return Err(Fallback);
        }
    }
    Ok(style)
}

/// Bytes after which nothing in a string needs libyaml's full analysis:
/// printable ASCII but the space, `:` and `#`.
const SIMPLE: [bool; 256] = {
    let mut table = [false; 256];
    let mut c = 0x21;
    while c <= 0x7E {
        table[c] = c != b':' as usize && c != b'#' as usize;
        c += 1;
    }
    table
};

/// The style of most strings, found in one pass: a non-empty string of
/// [`SIMPLE`] bytes is plain unless it starts with an indicator or reads
/// back as another type (then single-quoted, which such a string always
/// allows). `None`: take the full analysis.
fn simple_style(value: &str) -> Option<Style> {
    let b = value.as_bytes();
    if b.is_empty() || !b.iter().all(|&c| SIMPLE[usize::from(c)]) {
        return None;
    }
    // With no space in the string, only the first byte can be an
    // indicator (`-`, `?` and `:` only when followed by the end).
    let indicator = b"#,[]{}&*!|>'\"%@`".contains(&b[0])
        || (b.len() == 1 && matches!(b[0], b'?' | b'-'))
        || b.starts_with(b"---")
        || b.starts_with(b"...");
    Some(if indicator || reads_as_non_string(value) { Style::SingleQuoted } else { Style::Plain })
}

/// How serde_yaml asks for a string: literal when it has a line break,
/// quoted when it would read back as null, a boolean or a number.
fn requested_style(value: &str) -> Requested {
    if value.contains('\n') {
        Requested::Literal
    } else if reads_as_non_string(value) {
        Requested::SingleQuoted
    } else {
        Requested::Any
    }
}

/// serde_yaml's `visit_untagged_scalar`: whether `v`, written plain, would
/// read back as something other than this string (serde_yaml also quotes
/// digits with a leading zero).
fn reads_as_non_string(v: &str) -> bool {
    let Some(&first) = v.as_bytes().first() else { return true };
    // Only these can start a null, a boolean or a finite number.
    if !matches!(first, b'0'..=b'9' | b'+' | b'-' | b'.' | b'~' | b'n' | b'N' | b't' | b'T' | b'f' | b'F') {
        return false;
    }
    matches!(v, "~" | "null" | "Null" | "NULL" | "true" | "True" | "TRUE" | "false" | "False" | "FALSE")
        || digits_but_not_number(v)
        || parses_as_int(v)
        || parse_f64(v)
}

fn digits_but_not_number(scalar: &str) -> bool {
    let scalar = scalar.strip_prefix(['-', '+']).unwrap_or(scalar);
    scalar.len() > 1 && scalar.starts_with('0') && scalar[1..].bytes().all(|b| b.is_ascii_digit())
}

/// serde_yaml's `visit_int`: `[+|-]` then `0x`, `0o`, `0b` or decimal
/// digits, fitting in 128 bits.
fn parses_as_int(v: &str) -> bool {
    let (negative, unsigned) = match v.as_bytes()[0] {
        b'+' => (false, &v[1..]),
        b'-' => (true, &v[1..]),
        _ => (false, v),
    };
    if unsigned.starts_with(['+', '-']) {
        return false;
    }
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(rest) = unsigned.strip_prefix(prefix) {
            if rest.starts_with(['+', '-']) {
                return false;
            }
            let fits = if negative {
                i128::from_str_radix(&format!("-{rest}"), radix).is_ok()
            } else {
                u128::from_str_radix(rest, radix).is_ok()
            };
            if fits {
                return true;
            }
        }
    }
    if digits_but_not_number(v) {
        return false;
    }
    if negative { v.parse::<i128>().is_ok() } else { unsigned.parse::<u128>().is_ok() }
}

/// serde_yaml's `parse_f64`: a finite float, or `.inf` / `.nan` spelled as YAML does.
fn parse_f64(v: &str) -> bool {
    let unpositive = match v.strip_prefix('+') {
        Some(rest) if rest.starts_with(['+', '-']) => return false,
        Some(rest) => rest,
        None => v,
    };
    matches!(unpositive, ".inf" | ".Inf" | ".INF")
        || matches!(v, "-.inf" | "-.Inf" | "-.INF" | ".nan" | ".NaN" | ".NAN")
        || unpositive.parse::<f64>().is_ok_and(f64::is_finite)
}

macro_rules! int {
    ($($method:ident: $ty:ty),+) => {
        $(fn $method(self, v: $ty) -> Result {
            self.scalar(&v.to_string(), Requested::Plain)
        })+
    };
}

impl ser::Serializer for &mut Emitter {
    type Ok = ();
    type Error = Fallback;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = ser::Impossible<(), Fallback>;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = ser::Impossible<(), Fallback>;

    fn serialize_bool(self, v: bool) -> Result {
        self.scalar(if v { "true" } else { "false" }, Requested::Plain)
    }

    int!(serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64, serialize_i128: i128);
    int!(serialize_u8: u8, serialize_u16: u16, serialize_u32: u32, serialize_u64: u64, serialize_u128: u128);

    fn serialize_f32(self, _: f32) -> Result {
        Err(Fallback)
    }

    fn serialize_f64(self, _: f64) -> Result {
        Err(Fallback)
    }

    fn serialize_char(self, _: char) -> Result {
        Err(Fallback)
    }

    fn serialize_str(self, v: &str) -> Result {
        match simple_style(v) {
            Some(style) => self.scalar_with(v, |_| Ok(style)),
            None => self.scalar(v, requested_style(v)),
        }
    }

    fn serialize_bytes(self, _: &[u8]) -> Result {
        Err(Fallback)
    }

    fn serialize_none(self) -> Result {
        self.serialize_unit()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result {
        self.scalar("null", Requested::Plain)
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result {
        self.serialize_unit()
    }

    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Result {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result {
        Err(Fallback)
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self> {
        self.open(Kind::Sequence)?;
        Ok(self)
    }

    fn serialize_tuple(self, _: usize) -> Result<Self> {
        self.serialize_seq(None)
    }

    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self> {
        self.serialize_seq(None)
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        Err(Fallback)
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self> {
        self.open(Kind::Mapping)?;
        Ok(self)
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self> {
        self.serialize_map(None)
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant> {
        Err(Fallback)
    }
}

/// The sequence-like serde traits, which all write their items alike.
macro_rules! sequence {
    ($($trait:ident :: $method:ident),+) => {$(
        impl ser::$trait for &mut Emitter {
            type Ok = ();
            type Error = Fallback;

            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
                value.serialize(&mut **self)
            }

            fn end(self) -> Result {
                self.close()
            }
        }
    )+};
}

sequence!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field
);

impl ser::SerializeMap for &mut Emitter {
    type Ok = ();
    type Error = Fallback;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result {
        key.serialize(&mut **self)
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result {
        value.serialize(&mut **self)
    }

    fn end(self) -> Result {
        self.close()
    }
}

impl ser::SerializeStruct for &mut Emitter {
    type Ok = ();
    type Error = Fallback;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result {
        ser::Serializer::serialize_str(&mut **self, key)?;
        value.serialize(&mut **self)
    }

    fn end(self) -> Result {
        self.close()
    }
}

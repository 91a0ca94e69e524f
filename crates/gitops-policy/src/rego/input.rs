//! An object as a Rego `input`, built directly from its `Serialize`
//! implementation: the value regorus would parse from the object's
//! serde_json text, without writing and parsing that text (which was most
//! of the policy check's time at scale).
//!
//! It covers what the rendered objects hold: strings, integers, booleans,
//! nulls, sequences and string-keyed maps. Anything else (floats, bytes,
//! enum variants with data, non-string keys) gives up with [`Fallback`], and
//! the caller takes the JSON round trip, so `input` is always what
//! `Value::from_json_str(serde_json::to_string(object))` gives.

use std::collections::BTreeMap;
use std::fmt;

use gitops_core::hash::FxHashMap;
use regorus::Value;
use serde::ser::{self, Serialize};

#[derive(Debug)]
pub(crate) struct Fallback;

impl fmt::Display for Fallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("value outside the direct conversion's subset")
    }
}

impl std::error::Error for Fallback {}

impl ser::Error for Fallback {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Fallback
    }
}

type Result<T = Value> = std::result::Result<T, Fallback>;

/// Struct field names as Rego strings, made once per check rather than
/// once per object (regorus interns keys the same way when it parses JSON).
/// Field names are `'static`, so their address identifies them.
#[derive(Default)]
pub(crate) struct Keys(FxHashMap<(usize, usize), Value>);

impl Keys {
    fn get(&mut self, key: &'static str) -> Value {
        let address = (key.as_ptr() as usize, key.len());
        self.0.entry(address).or_insert_with(|| Value::from(key)).clone()
    }
}

/// `value` as regorus reads its JSON, or [`Fallback`].
pub(crate) fn to_value<T: Serialize + ?Sized>(value: &T, keys: &mut Keys) -> Result {
    value.serialize(Converter { keys })
}

struct Converter<'k> {
    keys: &'k mut Keys,
}

/// JSON has one kind of number; serde_json reads non-negative integers as
/// `u64` and negative ones as `i64`.
fn int(v: i64) -> Value {
    match u64::try_from(v) {
        Ok(u) => Value::from(u),
        Err(_) => Value::from(v),
    }
}

impl<'k> ser::Serializer for Converter<'k> {
    type Ok = Value;
    type Error = Fallback;
    type SerializeSeq = Seq<'k>;
    type SerializeTuple = Seq<'k>;
    type SerializeTupleStruct = Seq<'k>;
    type SerializeTupleVariant = ser::Impossible<Value, Fallback>;
    type SerializeMap = Map<'k>;
    type SerializeStruct = Map<'k>;
    type SerializeStructVariant = ser::Impossible<Value, Fallback>;

    fn serialize_bool(self, v: bool) -> Result {
        Ok(Value::Bool(v))
    }

    fn serialize_i8(self, v: i8) -> Result {
        Ok(int(v.into()))
    }

    fn serialize_i16(self, v: i16) -> Result {
        Ok(int(v.into()))
    }

    fn serialize_i32(self, v: i32) -> Result {
        Ok(int(v.into()))
    }

    fn serialize_i64(self, v: i64) -> Result {
        Ok(int(v))
    }

    fn serialize_u8(self, v: u8) -> Result {
        Ok(Value::from(u64::from(v)))
    }

    fn serialize_u16(self, v: u16) -> Result {
        Ok(Value::from(u64::from(v)))
    }

    fn serialize_u32(self, v: u32) -> Result {
        Ok(Value::from(u64::from(v)))
    }

    fn serialize_u64(self, v: u64) -> Result {
        Ok(Value::from(v))
    }

    fn serialize_f32(self, _: f32) -> Result {
        Err(Fallback)
    }

    fn serialize_f64(self, _: f64) -> Result {
        Err(Fallback)
    }

    fn serialize_char(self, v: char) -> Result {
        Ok(Value::from(v.encode_utf8(&mut [0; 4]) as &str))
    }

    fn serialize_str(self, v: &str) -> Result {
        Ok(Value::from(v))
    }

    fn serialize_bytes(self, _: &[u8]) -> Result {
        Err(Fallback)
    }

    fn serialize_none(self) -> Result {
        Ok(Value::Null)
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result {
        Ok(Value::Null)
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result {
        Ok(Value::Null)
    }

    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result {
        Ok(Value::from(variant))
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

    fn serialize_seq(self, len: Option<usize>) -> Result<Seq<'k>> {
        Ok(Seq { keys: self.keys, items: Vec::with_capacity(len.unwrap_or(0)) })
    }

    fn serialize_tuple(self, len: usize) -> Result<Seq<'k>> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Seq<'k>> {
        self.serialize_seq(Some(len))
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

    fn serialize_map(self, _: Option<usize>) -> Result<Map<'k>> {
        Ok(Map { keys: self.keys, entries: BTreeMap::new(), key: None })
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Map<'k>> {
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

pub(crate) struct Seq<'k> {
    keys: &'k mut Keys,
    items: Vec<Value>,
}

impl Seq<'_> {
    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        let item = value.serialize(Converter { keys: self.keys })?;
        self.items.push(item);
        Ok(())
    }
}

/// The sequence-like serde traits, which all collect their items alike.
macro_rules! sequence {
    ($($trait:ident :: $method:ident),+) => {$(
        impl ser::$trait for Seq<'_> {
            type Ok = Value;
            type Error = Fallback;

            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
                self.push(value)
            }

            fn end(self) -> Result {
                Ok(Value::from(self.items))
            }
        }
    )+};
}

sequence!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field
);

pub(crate) struct Map<'k> {
    keys: &'k mut Keys,
    entries: BTreeMap<Value, Value>,
    key: Option<Value>,
}

impl ser::SerializeMap for Map<'_> {
    type Ok = Value;
    type Error = Fallback;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<()> {
        // JSON keys are strings; serde_json would turn numbers into strings.
        match key.serialize(Converter { keys: self.keys })? {
            key @ Value::String(_) => {
                self.key = Some(key);
                Ok(())
            }
            _ => Err(Fallback),
        }
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        let key = self.key.take().ok_or(Fallback)?;
        let value = value.serialize(Converter { keys: self.keys })?;
        self.entries.insert(key, value);
        Ok(())
    }

    fn end(self) -> Result {
        Ok(Value::from(self.entries))
    }
}

impl ser::SerializeStruct for Map<'_> {
    type Ok = Value;
    type Error = Fallback;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<()> {
        let value = value.serialize(Converter { keys: self.keys })?;
        self.entries.insert(self.keys.get(key), value);
        Ok(())
    }

    fn end(self) -> Result {
        Ok(Value::from(self.entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn via_json<T: Serialize>(v: &T) -> Value {
        Value::from_json_str(&serde_json::to_string(v).unwrap()).unwrap()
    }

    #[test]
    fn builds_what_regorus_parses_from_json() {
        let v = json!({
            "kind": "Deployment",
            "n": 3, "neg": -2, "big": u64::MAX, "flag": false, "none": null,
            "list": [1, "a", [], {}, { "k": [true] }],
            "labels": { "app.kubernetes.io/name": "x", "": "" },
        });
        assert_eq!(to_value(&v, &mut Keys::default()).unwrap(), via_json(&v));
        #[derive(serde::Serialize)]
        struct S {
            a: Option<i32>,
            b: Option<u8>,
            c: Vec<&'static str>,
            d: E,
        }
        #[derive(serde::Serialize)]
        enum E {
            Unit,
        }
        let s = S { a: Some(-1), b: None, c: vec!["x"], d: E::Unit };
        assert_eq!(to_value(&s, &mut Keys::default()).unwrap(), via_json(&s));
    }

    #[test]
    fn other_values_fall_back() {
        assert!(to_value(&json!({ "x": 1.5 }), &mut Keys::default()).is_err());
        let int_keys = std::collections::BTreeMap::from([(1, "a")]);
        assert!(to_value(&int_keys, &mut Keys::default()).is_err());
    }
}

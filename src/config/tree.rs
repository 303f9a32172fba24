//! The pipeline file as a tree whose scalars keep their text, so that `--set`
//! can be applied to the parsed file and the result deserialised once,
//! numbers still read from their text (never through an `f64`, which
//! `serde_yaml::Value` would use).
//!
//! A tree is read in two passes over the YAML: `serde_yaml::Value` gives
//! the shape (which nodes are mappings, sequences, nulls), and a second
//! pass reads every other scalar with `deserialize_str`, which serde_yaml
//! answers with the scalar's text.

use std::fmt;

use serde::de::value::{Error as ValueError, MapDeserializer, SeqDeserializer};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, IntoDeserializer, Visitor};
use serde::forward_to_deserialize_any;
use serde_yaml::Value;

/// A YAML node; a scalar is its text.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Null,
    Scalar(String),
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>),
}

impl Node {
    /// Reads YAML text.
    pub fn parse(text: &str) -> Result<Node, serde_yaml::Error> {
        let shape: Value = serde_yaml::from_str(text)?;
        if shape.is_null() {
            return Ok(Node::Null);
        }
        Shape(&shape).deserialize(serde_yaml::Deserializer::from_str(text))
    }

    /// Sets the node at a dotted `path`, making the mappings on the way.
    pub fn set(&mut self, path: &[&str], value: Node) {
        let Some((first, rest)) = path.split_first() else {
            *self = value;
            return;
        };
        if !matches!(self, Node::Map(_)) {
            *self = Node::Map(Vec::new());
        }
        let Node::Map(entries) = self else {
            unreachable!("made a mapping above")
        };
        let at = match entries.iter().position(|(k, _)| k == first) {
            Some(at) => at,
            None => {
                entries.push(((*first).to_owned(), Node::Null));
                entries.len() - 1
            }
        };
        entries[at].1.set(rest, value);
    }

    /// The value of a mapping's `key`.
    pub fn entry(&self, key: &str) -> Option<&Node> {
        self.entries()
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// The tree without its mappings' empty values: a key left empty
    /// takes its default, as if it were not written.
    pub fn without_nulls(self) -> Node {
        match self {
            Node::Map(entries) => Node::Map(
                entries
                    .into_iter()
                    .filter(|(_, v)| *v != Node::Null)
                    .map(|(k, v)| (k, v.without_nulls()))
                    .collect(),
            ),
            Node::Seq(items) => Node::Seq(items.into_iter().map(Node::without_nulls).collect()),
            node => node,
        }
    }

    /// The entries of a mapping (none for anything else).
    pub fn entries(&self) -> &[(String, Node)] {
        match self {
            Node::Map(entries) => entries,
            _ => &[],
        }
    }
}

/// Reads the node whose shape is the given `Value`.
struct Shape<'a>(&'a Value);

impl<'de> DeserializeSeed<'de> for Shape<'_> {
    type Value = Node;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        match self.0 {
            Value::Mapping(m) => d.deserialize_map(MapShape(m)),
            Value::Sequence(s) => d.deserialize_seq(SeqShape(s)),
            Value::Null => IgnoredAny::deserialize(d).map(|_| Node::Null),
            Value::Tagged(_) => Err(de::Error::custom("YAML tags are not supported here")),
            Value::Bool(_) | Value::Number(_) | Value::String(_) => {
                d.deserialize_str(TextVisitor).map(Node::Scalar)
            }
        }
    }
}

use serde::Deserialize as _;

struct TextVisitor;

impl Visitor<'_> for TextVisitor {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a scalar")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }
}

struct MapShape<'a>(&'a serde_yaml::Mapping);

impl<'de> Visitor<'de> for MapShape<'_> {
    type Value = Node;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a mapping")
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut access: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        // serde_yaml keeps a mapping's entries in the order they are read.
        for (key, value) in self.0 {
            let Some(key) = access.next_key_seed(Shape(key))? else {
                break;
            };
            let key = match key {
                Node::Scalar(text) => text,
                _ => return Err(de::Error::custom("a key must be a plain name")),
            };
            entries.push((key, access.next_value_seed(Shape(value))?));
        }
        Ok(Node::Map(entries))
    }
}

struct SeqShape<'a>(&'a [Value]);

impl<'de> Visitor<'de> for SeqShape<'_> {
    type Value = Node;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a sequence")
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut access: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        for shape in self.0 {
            match access.next_element_seed(Shape(shape))? {
                Some(node) => items.push(node),
                None => break,
            }
        }
        Ok(Node::Seq(items))
    }
}

/// A tree read back as typed values: a scalar is given to the type as text
/// (`deserialize_str`), or parsed as the number or boolean it asks for.
impl<'de> Deserializer<'de> for Node {
    type Error = ValueError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Node::Null => visitor.visit_unit(),
            Node::Scalar(text) => visitor.visit_string(text),
            Node::Seq(items) => visitor.visit_seq(SeqDeserializer::new(items.into_iter())),
            Node::Map(entries) => visitor.visit_map(MapDeserializer::new(entries.into_iter())),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            Node::Null => visitor.visit_none(),
            node => visitor.visit_some(node),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self {
            // An empty value, as serde_yaml reads it.
            Node::Null => visitor.visit_str(""),
            node => node.deserialize_any(visitor),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ValueError> {
        match self {
            Node::Scalar(text) => text
                .into_deserializer()
                .deserialize_enum(name, variants, visitor),
            node => node.deserialize_any(visitor),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self.scalar() {
            Some("true" | "True" | "TRUE") => visitor.visit_bool(true),
            Some("false" | "False" | "FALSE") => visitor.visit_bool(false),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self.scalar().map(str::parse::<u64>) {
            Some(Ok(n)) => visitor.visit_u64(n),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        self.deserialize_u32(visitor)
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ValueError> {
        match self.scalar().map(str::parse::<i64>) {
            Some(Ok(n)) => visitor.visit_i64(n),
            _ => self.deserialize_any(visitor),
        }
    }

    forward_to_deserialize_any! {
        i8 i16 i32 i128 u8 u16 u128 f32 f64 char bytes byte_buf unit unit_struct
        seq tuple tuple_struct map struct identifier ignored_any
    }
}

impl Node {
    fn scalar(&self) -> Option<&str> {
        match self {
            Node::Scalar(text) => Some(text),
            _ => None,
        }
    }
}

impl IntoDeserializer<'_, ValueError> for Node {
    type Deserializer = Node;
    fn into_deserializer(self) -> Node {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_keep_their_text() {
        let node = Node::parse("a: 0.1000000000000000055\nb: [1.50, x]\nc:\n").unwrap();
        assert_eq!(
            node,
            Node::Map(vec![
                ("a".into(), Node::Scalar("0.1000000000000000055".into())),
                (
                    "b".into(),
                    Node::Seq(vec![Node::Scalar("1.50".into()), Node::Scalar("x".into())])
                ),
                ("c".into(), Node::Null),
            ])
        );
    }

    #[test]
    fn a_dotted_set_makes_the_mappings_on_its_way() {
        let mut node = Node::parse("sources: {customers: {encoding: gbk}}\n").unwrap();
        node.set(
            &["sources", "billing", "path"],
            Node::Scalar("s3://b".into()),
        );
        node.set(
            &["sources", "customers", "encoding"],
            Node::Scalar("utf-8".into()),
        );
        let sources = &node.entries()[0].1;
        assert_eq!(
            sources.entries()[0].1.entries(),
            [("encoding".to_owned(), Node::Scalar("utf-8".into()))]
        );
        assert_eq!(
            sources.entries()[1].1.entries(),
            [("path".to_owned(), Node::Scalar("s3://b".into()))]
        );
    }
}

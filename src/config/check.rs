//! Reading the pipeline file's keys into [`Settings`] and [`Params`], and
//! finding every error, not only the first:
//!
//! * the file: each top-level entry is read on its own, from the file's
//!   text with the other entries blanked out, so that serde_yaml points at
//!   the bad value's `FILE:LINE:COLUMN` (blank lines keep the numbering);
//! * each `--set NAME=VALUE`: its value read as YAML, set at its dotted
//!   name in an otherwise empty tree and read the same way;
//! * then the file's tree with every `--set` applied is read once.

use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde_yaml::Value;

use super::tree::Node;
use super::{Params, Settings};

/// `FILE:LINE:COL: message`, the way compilers point at a line.
pub fn located(label: &str, e: &serde_yaml::Error) -> String {
    let message = e.to_string();
    let message = message.split(" at line ").next().unwrap_or(&message);
    match e.location() {
        Some(loc) => format!("{label}:{}:{}: {message}", loc.line(), loc.column()),
        None => format!("{label}: {message}"),
    }
}

/// Every error of the pipeline file's text, one message each.
pub fn file_errors(label: &str, text: &str) -> Vec<String> {
    let shape: Value = match serde_yaml::from_str(text) {
        Ok(shape) => shape,
        Err(e) => return vec![located(label, &e)],
    };
    let entries = top_level_entries(text);
    let keys: Vec<String> = match &shape {
        Value::Mapping(m) => m.keys().map(key_text).collect(),
        Value::Null => Vec::new(),
        _ => return vec![format!("{label}: expected a mapping of settings")],
    };
    let found: Vec<&str> = entries.iter().map(|e| e.key.as_str()).collect();
    if found != keys {
        // Not one entry a line at the left margin (a flow mapping, say):
        // read as a whole, without the lines of the errors.
        let read = Node::parse(text).map_err(|e| e.to_string());
        return match read.and_then(|tree| split(tree).map(drop)) {
            Ok(()) => Vec::new(),
            Err(e) => vec![format!("{label}: {}", short(&e))],
        };
    }
    let nulls: Vec<bool> = match &shape {
        Value::Mapping(m) => m.values().map(Value::is_null).collect(),
        _ => Vec::new(),
    };
    entries
        .iter()
        .zip(nulls)
        // An empty value leaves the key at its default.
        .filter(|(_, null)| !null)
        .filter_map(|(entry, _)| {
            let alone = entry.alone(text, entries[0].lines.start);
            let read = match is_setting(&entry.key) {
                true => read_entry::<Settings>(&alone),
                false => read_entry::<Params>(&alone),
            };
            read.err().map(|e| located(label, &e))
        })
        .collect()
}

fn read_entry<T: DeserializeOwned>(text: &str) -> Result<(), serde_yaml::Error> {
    serde_yaml::from_str::<Option<T>>(text).map(drop)
}

fn key_text(key: &Value) -> String {
    match key {
        Value::String(s) => s.clone(),
        other => serde_yaml::to_string(other)
            .unwrap_or_default()
            .trim()
            .to_owned(),
    }
}

/// One top-level entry of a block mapping: its key and its lines.
struct Entry {
    key: String,
    lines: std::ops::Range<usize>,
}

impl Entry {
    /// The text with every other entry's lines blank: the lines before the
    /// first entry (comments, `---`) and this entry's are kept.
    fn alone(&self, text: &str, first: usize) -> String {
        text.split('\n')
            .enumerate()
            .map(|(i, line)| match i < first || self.lines.contains(&i) {
                true => line,
                false => "",
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Lines that start a top-level entry: a key at the left margin.
fn key_of(line: &str) -> Option<String> {
    let first = line.chars().next()?;
    if first.is_whitespace() || matches!(first, '#' | '-' | '.' | '{' | '[') {
        return None;
    }
    let (key, _) = line.split_once(':')?;
    Some(key.trim().trim_matches(['"', '\'']).to_owned())
}

fn top_level_entries(text: &str) -> Vec<Entry> {
    let mut entries: Vec<Entry> = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        if let Some(key) = key_of(line) {
            if let Some(last) = entries.last_mut() {
                last.lines.end = i;
            }
            entries.push(Entry {
                key,
                lines: i..usize::MAX,
            });
        }
    }
    entries
}

/// Applies `NAME=VALUE` to `tree` and checks the top-level entry it
/// changed, as it now is (a dotted name reaches into the file's mapping).
pub fn apply_set(tree: &mut Node, set: &str) -> Result<(), String> {
    let Some((name, value)) = set.split_once('=') else {
        return Err("expected NAME=VALUE".to_owned());
    };
    let path: Vec<&str> = name.trim().split('.').collect();
    let value = Node::parse(value).map_err(|e| short(&e.to_string()))?;
    tree.set(&path, value);
    let entry = tree.entry(path[0]).cloned().unwrap_or(Node::Null);
    split(Node::Map(vec![(path[0].to_owned(), entry)])).map(drop)
}

fn short(message: &str) -> String {
    message
        .split(" at line ")
        .next()
        .unwrap_or(message)
        .to_owned()
}

/// The settings and the parameters of a tree, each read once.
pub fn split(tree: Node) -> Result<(Settings, Params), String> {
    let (settings, params): (Vec<_>, Vec<_>) = match tree {
        Node::Map(entries) => entries.into_iter().partition(|(k, _)| is_setting(k)),
        Node::Null => Default::default(),
        _ => return Err("expected a mapping of settings".to_owned()),
    };
    let read = |entries: Vec<(String, Node)>| Node::Map(entries).without_nulls();
    let settings = Settings::deserialize(read(settings)).map_err(|e| e.to_string())?;
    let params = Params::deserialize(read(params)).map_err(|e| e.to_string())?;
    Ok((settings, params))
}

/// The parameters' names: the fields of [`Params`].
pub fn param_names() -> &'static [&'static str] {
    field_names::<Params>()
}

/// Whether a top-level key is one of [`Settings`] (else a parameter).
fn is_setting(key: &str) -> bool {
    field_names::<Settings>().contains(&key)
}

/// The field names of a struct, as its derived `Deserialize` gives them to
/// serde: so the struct is the only list of its keys.
fn field_names<T: DeserializeOwned>() -> &'static [&'static str] {
    struct Names(&'static [&'static str]);
    impl<'de> Deserializer<'de> for &mut Names {
        type Error = de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Self::Error> {
            self.0 = fields;
            Err(de::Error::custom("names only"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }
    let mut names = Names(&[]);
    let _ = T::deserialize(&mut names);
    names.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_settings_keys_come_from_the_struct() {
        assert!(is_setting("output") && is_setting("sources"));
        assert!(!is_setting("window_months"));
    }

    #[test]
    fn every_bad_entry_of_a_file_is_reported_at_its_value() {
        let text =
            "# a pipeline\noutput: out\nwindow_months: 0\nname: x\nmgc_share: 1.2\nno_such: 1\n";
        let errors = file_errors("p.yaml", text);
        assert_eq!(errors.len(), 3, "{errors:?}");
        assert!(errors[0].starts_with("p.yaml:3:16: "), "{errors:?}");
        assert!(errors[1].starts_with("p.yaml:5:12: "), "{errors:?}");
        assert!(errors[2].starts_with("p.yaml:6:1: ") && errors[2].contains("no_such"));
    }

    #[test]
    fn an_error_inside_a_nested_value_is_at_its_own_line() {
        let text = "tier_policy:\n  MVC: {points_multiplier: 3.5, action: retain}\nalert_drop: 2\n";
        let errors = file_errors("p.yaml", text);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].starts_with("p.yaml:2:"), "{errors:?}");
        assert!(errors[1].starts_with("p.yaml:3:13: "), "{errors:?}");
    }

    #[test]
    fn a_set_is_checked_with_the_entry_it_changes() {
        let set = |s: &str| apply_set(&mut Node::Null, s);
        assert!(set("mvc_share=0.07").is_ok());
        assert!(set("sources.billing.path=s3://b/billing").is_ok());
        assert!(set("mvc_share=2").is_err());
        assert!(set("sources.billing.encoding=latin1").is_err());
        assert!(set("no_such=1").is_err());
        assert!(set("mvc_share").is_err());
        // One tier's multiplier, into a file that has the whole policy.
        let policy = "tier_policy:\n  MVC: {points_multiplier: 3, action: retain}\n  MGC: {points_multiplier: 2, action: cultivate}\n  LVC: {points_multiplier: 1, action: upgrade}\n  BZ: {points_multiplier: 0, action: phase_out}\n";
        let mut tree = Node::parse(policy).unwrap();
        assert!(apply_set(&mut tree, "tier_policy.MVC.points_multiplier=4").is_ok());
        assert!(apply_set(&mut tree, "tier_policy.MVC.points_multiplier=4000").is_err());
    }

    #[test]
    fn a_list_at_the_left_margin_and_an_empty_value_are_valid() {
        let text = "require_partition_for_as_of:\n- billing\ncurrency:\noutput: out\n";
        assert_eq!(file_errors("p.yaml", text), Vec::<String>::new());
        let (settings, params) = split(Node::parse(text).unwrap()).unwrap();
        assert_eq!(params.currency, "CNY");
        assert_eq!(params.require_partition_for_as_of.len(), 1);
        assert_eq!(settings.output.as_deref(), Some("out"));
    }
}

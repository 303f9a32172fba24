//! A file's column names matched to a source's columns, the same way for a
//! CSV header line and a Parquet schema: names are compared trimmed and in
//! lower case, a required column that is missing or a name written twice is
//! an error naming the file, and the other names are extra columns, which
//! are ignored (and reported once per source).

use std::collections::BTreeSet;

use super::spec::Column;
use crate::error::{Error, Result};

/// Where a file's columns are named, for the error messages: a CSV header
/// line (`line 1: the header`) or a Parquet schema (`the file`).
pub enum NamedIn {
    HeaderLine(i64),
    Schema,
}

/// The source's columns found in a file.
#[derive(Debug)]
pub struct ColumnMap {
    /// For each source column, the position of the file column that holds it.
    pub fields: Vec<Option<usize>>,
    /// The file's names that are no column of the source.
    pub extra: BTreeSet<String>,
    /// The positions of the file columns that hold personal data.
    pub personal: Vec<usize>,
}

/// The name a file gives a column, as it is matched.
pub fn normalise(name: &str) -> String {
    name.trim().to_lowercase()
}

/// Matches `names` (normalised) to `columns`. Required columns are checked
/// first: a first CSV line that names none of them is likely a record, not
/// a header, and its text is not quoted in the error. An empty name (the
/// trailing commas of spreadsheet exports) names no column, so it is never
/// a double.
pub fn map_columns(
    columns: &[Column],
    names: &[String],
    label: &str,
    named_in: NamedIn,
) -> Result<ColumnMap> {
    let fields: Vec<Option<usize>> = columns
        .iter()
        .map(|c| names.iter().position(|n| n == c.name))
        .collect();
    if let Some((c, _)) = columns
        .iter()
        .zip(&fields)
        .find(|(c, f)| c.required && f.is_none())
    {
        return Err(Error::config(format!(
            "{label}: missing required column '{}'",
            c.name
        )));
    }
    for (i, name) in names.iter().enumerate() {
        if !name.is_empty() && names[..i].contains(name) {
            let place = match named_in {
                NamedIn::HeaderLine(line) => format!("line {line}: the header"),
                NamedIn::Schema => "the file".to_owned(),
            };
            return Err(Error::config(format!(
                "{label}: {place} names column '{name}' twice"
            )));
        }
    }
    let known: BTreeSet<&str> = columns.iter().map(|c| c.name).collect();
    let extra = names
        .iter()
        .filter(|n| !known.contains(n.as_str()))
        .cloned()
        .collect();
    let personal = columns
        .iter()
        .zip(&fields)
        .filter(|(c, _)| c.personal)
        .filter_map(|(_, f)| *f)
        .collect();
    Ok(ColumnMap {
        fields,
        extra,
        personal,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::SourceName;
    use crate::sources::spec;

    fn names(text: &str) -> Vec<String> {
        text.split(',').map(normalise).collect()
    }

    #[test]
    fn a_header_is_matched_trimmed_and_in_lower_case() {
        let map = map_columns(
            spec::columns(SourceName::Costs),
            &names(" Cost_ID ,customer_id,cost_date,amount,currency,Note"),
            "f",
            NamedIn::Schema,
        )
        .unwrap();
        assert_eq!(map.fields[0], Some(0));
        assert_eq!(
            map.extra.into_iter().collect::<Vec<_>>(),
            ["note"].map(String::from)
        );
    }

    #[test]
    fn a_missing_required_column_is_reported_before_a_double() {
        let e = map_columns(
            spec::columns(SourceName::Costs),
            &names("cost_id,cost_id,cost_date,amount,currency"),
            "f",
            NamedIn::HeaderLine(1),
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "f: missing required column 'customer_id'");
    }

    #[test]
    fn a_name_written_twice_is_an_error_where_it_is_named() {
        let header = names("cost_id,customer_id,cost_date,amount,currency,amount");
        let columns = spec::columns(SourceName::Costs);
        let csv = map_columns(columns, &header, "f", NamedIn::HeaderLine(1)).unwrap_err();
        assert_eq!(
            csv.to_string(),
            "f: line 1: the header names column 'amount' twice"
        );
        let parquet = map_columns(columns, &header, "f", NamedIn::Schema).unwrap_err();
        assert_eq!(
            parquet.to_string(),
            "f: the file names column 'amount' twice"
        );
    }
}

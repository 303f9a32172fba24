//! The text of records that the whole-source checks rejected, read again
//! from their files. Staged rows keep only where they came from
//! (`_file_id`, `_line`): a few rows need their text, and every row would
//! pay for keeping it.

use std::collections::HashSet;
use std::sync::Arc;

use datafusion::arrow::array::{Int32Array, Int64Array, StringArray};
use datafusion::arrow::record_batch::RecordBatch;
use object_store::ObjectStoreExt;

use super::raw::Collect;
use super::{InputFile, SourceRead, read_records, spec};
use crate::error::{Error, Result};

/// The `raw` text (redacted as in `rejected`) of the records of file
/// `file_id` of `read` that start at `lines`: rows of [`spec::raw_schema`].
pub async fn raw_records(
    read: &SourceRead,
    file_id: i32,
    lines: &HashSet<i64>,
) -> Result<RecordBatch> {
    let file = usize::try_from(file_id)
        .ok()
        .and_then(|i| read.files.get(i))
        .ok_or_else(|| Error::internal(format!("{}: no file {file_id}", read.source)))?;
    unchanged(read, file).await?;
    let columns = spec::columns(read.source).len();
    let mut sink = Collect::new(columns, |line| lines.contains(&line));
    read_records(
        &read.origin,
        file,
        &read.settings,
        read.max_record_bytes,
        read.source,
        &mut sink,
    )
    .await?;
    if sink.records.len() != lines.len() {
        return Err(changed(read, file));
    }
    let found: Int64Array = sink.records.iter().map(|r| r.line).collect();
    let raws: StringArray = sink.records.iter().map(|r| Some(r.raw.as_str())).collect();
    let ids = Int32Array::from_value(file_id, found.len());
    let paths = StringArray::from(vec![file.relative.as_str(); found.len()]);
    Ok(RecordBatch::try_new(
        spec::raw_schema(),
        vec![
            Arc::new(ids),
            Arc::new(found),
            Arc::new(paths),
            Arc::new(raws),
        ],
    )?)
}

/// The file is still the one the run read (same size and etag).
async fn unchanged(read: &SourceRead, file: &InputFile) -> Result<()> {
    match read.origin.store.head(&file.path).await {
        Ok(meta) if meta.size == file.size && meta.e_tag == file.e_tag => Ok(()),
        Ok(_) | Err(object_store::Error::NotFound { .. }) => Err(changed(read, file)),
        Err(e) => Err(Error::storage(
            format!("reading {}/{}", read.origin, file.relative),
            e,
        )),
    }
}

fn changed(read: &SourceRead, file: &InputFile) -> Error {
    Error::NotReady(format!(
        "{}/{} changed while the run was reading it; run again once the export is complete",
        read.origin, file.relative
    ))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use object_store::PutPayload;

    use super::*;
    use crate::config::SourceSettings;
    use crate::domain::SourceName;
    use crate::sources::Format;
    use crate::storage::{Location, Storage};

    const BILLING: &str = "invoice_id,line_no,customer_id,invoice_date,service,amount,currency\n\
        I1,1,C1,2026-01-15,\"two\nlines\",1.00,CNY\n\
        I2,1,C1,2026-01-15,voice,2.00,CNY\n";

    async fn put(location: &Location, text: &str) {
        let payload = PutPayload::from(text.as_bytes().to_vec());
        location
            .store
            .put(&location.path_of("b.csv"), payload)
            .await
            .unwrap();
    }

    /// A source read of one file, `b.csv`, as the run saw it.
    async fn read_of(location: &Location) -> SourceRead {
        let path = location.path_of("b.csv");
        let meta = location.store.head(&path).await.unwrap();
        SourceRead {
            source: SourceName::Billing,
            origin: location.clone(),
            settings: SourceSettings {
                path: location.to_string(),
                encoding: Default::default(),
            },
            max_record_bytes: 1 << 20,
            files: vec![InputFile {
                path,
                relative: "b.csv".into(),
                dt: None,
                format: Format::Csv,
                size: meta.size,
                e_tag: meta.e_tag,
                last_modified: meta.last_modified,
            }],
            rows_read: 2,
            rejected_by_reason: BTreeMap::new(),
            warnings: Vec::new(),
            staged: PathBuf::new(),
            rejected: PathBuf::new(),
        }
    }

    fn location() -> Location {
        Storage::new(BTreeMap::new())
            .location("memory://inputs/billing")
            .unwrap()
    }

    #[tokio::test]
    async fn the_chosen_records_are_read_again_as_they_were_written() {
        let location = location();
        put(&location, BILLING).await;
        let read = read_of(&location).await;
        let batch = raw_records(&read, 0, &HashSet::from([2, 4])).await.unwrap();
        let lines = batch
            .column(1)
            .as_any()
            .downcast_ref::<datafusion::arrow::array::Int64Array>();
        let raws = batch.column(3).as_any().downcast_ref::<StringArray>();
        let rows: Vec<(i64, &str)> = lines
            .unwrap()
            .values()
            .iter()
            .copied()
            .zip(raws.unwrap().iter().map(Option::unwrap))
            .collect();
        assert_eq!(
            rows,
            vec![
                (2, "I1,1,C1,2026-01-15,\"two\nlines\",1.00,CNY"),
                (4, "I2,1,C1,2026-01-15,voice,2.00,CNY")
            ]
        );
    }

    #[tokio::test]
    async fn a_file_rewritten_since_the_run_read_it_is_not_ready() {
        let location = location();
        put(&location, BILLING).await;
        let read = read_of(&location).await;
        put(&location, BILLING).await;
        let error = raw_records(&read, 0, &HashSet::from([2]))
            .await
            .unwrap_err();
        assert!(matches!(error, Error::NotReady(_)), "{error}");
        assert!(error.to_string().contains("b.csv changed"), "{error}");
    }
}

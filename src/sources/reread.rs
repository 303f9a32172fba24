//! The text of records that the whole-source checks rejected, read again
//! from their files. Staged rows keep only where they came from
//! (`_file_id`, `_line`): a few rows need their text, and every row would
//! pay for keeping it.

use std::collections::HashSet;
use std::sync::Arc;

use datafusion::arrow::array::{Int32Array, Int64Array, StringArray};
use datafusion::arrow::record_batch::RecordBatch;
use object_store::{GetOptions, ObjectStoreExt};

use super::record::Collect;
use super::{InputFile, SourceRead, read_records, spec};
use crate::error::{Error, Result, storage_cause};

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
    // Each GET itself checks that the file is still the one the run read;
    // a store without ETags has only the size to go by.
    let get = match &file.e_tag {
        Some(e_tag) => GetOptions {
            if_match: Some(e_tag.clone()),
            ..GetOptions::default()
        },
        None => {
            unchanged(read, file).await?;
            GetOptions::default()
        }
    };
    let columns = spec::columns(read.source).len();
    let mut sink = Collect::new(columns, |line| lines.contains(&line));
    let found = read_records(
        &read.origin,
        file,
        &read.settings,
        read.max_record_bytes,
        read.source,
        &mut sink,
        get,
    )
    .await;
    let found = match found {
        Ok(found) => found,
        Err(e) => {
            return match storage_cause(&e) {
                Some(
                    object_store::Error::Precondition { .. } | object_store::Error::NotFound { .. },
                ) => Err(changed(read, file)),
                _ => Err(e),
            };
        }
    };
    // A store that ignores If-Match still says what it sent.
    if found
        .object
        .is_some_and(|o| o.size != file.size || o.e_tag != file.e_tag)
    {
        return Err(changed(read, file));
    }
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
        put_bytes(location, "b.csv", text.as_bytes().to_vec()).await;
    }

    async fn put_bytes(location: &Location, name: &str, bytes: Vec<u8>) {
        let payload = PutPayload::from(bytes);
        location
            .store
            .put(&location.path_of(name), payload)
            .await
            .unwrap();
    }

    /// BILLING's second record as a Parquet file of text columns.
    fn billing_parquet() -> Vec<u8> {
        use datafusion::arrow::array::ArrayRef;
        let text = |v: &str| Arc::new(StringArray::from(vec![v])) as ArrayRef;
        let batch = RecordBatch::try_from_iter([
            ("invoice_id", text("I2")),
            ("line_no", text("1")),
            ("customer_id", text("C1")),
            ("invoice_date", text("2026-01-15")),
            ("amount", text("2.00")),
            ("currency", text("CNY")),
        ])
        .unwrap();
        let mut bytes = Vec::new();
        let mut writer =
            parquet::arrow::ArrowWriter::try_new(&mut bytes, batch.schema(), None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        bytes
    }

    /// A source read of one file, `b.csv`, as the run saw it.
    async fn read_of(location: &Location) -> SourceRead {
        read_of_file(location, "b.csv", Format::Csv).await
    }

    async fn read_of_file(location: &Location, name: &str, format: Format) -> SourceRead {
        let path = location.path_of(name);
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
                relative: name.into(),
                dt: None,
                format,
                size: meta.size,
                e_tag: meta.e_tag,
                last_modified: meta.last_modified,
            }],
            rows_read: 2,
            rejected_by_reason: BTreeMap::new(),
            warnings: Vec::new(),
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

    #[tokio::test]
    async fn a_parquet_file_rewritten_since_the_run_read_it_is_not_ready() {
        let location = location();
        put_bytes(&location, "b.parquet", billing_parquet()).await;
        let read = read_of_file(&location, "b.parquet", Format::Parquet).await;
        let batch = raw_records(&read, 0, &HashSet::from([1])).await.unwrap();
        assert_eq!(batch.num_rows(), 1);
        put_bytes(&location, "b.parquet", billing_parquet()).await;
        let error = raw_records(&read, 0, &HashSet::from([1]))
            .await
            .unwrap_err();
        assert!(matches!(error, Error::NotReady(_)), "{error}");
        assert!(error.to_string().contains("b.parquet changed"), "{error}");
    }
}

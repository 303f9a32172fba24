//! The plan codecs of all three roles: Ballista's, plus our in-memory
//! tables and the reading of the sources.
//!
//! The small tables a run builds in memory (the listed files of a source,
//! the scenarios, the tier policy) are `MemTable`s, which DataFusion's
//! protobuf form cannot carry. They travel inside the plan as Arrow IPC
//! streams, one per partition, after a marker that tells them from the
//! tables Ballista encodes itself. A source's files to read
//! ([`read::SourceFiles`], and the [`read::ReadSourceExec`] it plans to)
//! travel as the JSON of their [`read::Job`], after a marker of their own.

use std::sync::Arc;

use ballista_core::serde::{BallistaLogicalExtensionCodec, BallistaPhysicalExtensionCodec};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::TableProvider;
use datafusion::common::{DataFusionError, Result, TableReference};
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Extension, LogicalPlan};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};

use super::read;

/// What starts an encoded `MemTable`; the version is in it.
const MARKER: &[u8] = b"cvm-etl:memtable:1\n";

/// What starts an encoded source reading, as a table or as a plan.
const READ_MARKER: &[u8] = b"cvm-etl:read-source:1\n";

/// Ballista's logical codec with `MemTable`s added.
#[derive(Debug, Default)]
pub struct Codec {
    ballista: BallistaLogicalExtensionCodec,
}

impl LogicalExtensionCodec for Codec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> Result<Extension> {
        self.ballista.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        self.ballista.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        if let Some(job) = buf.strip_prefix(READ_MARKER) {
            let job = read::Job::from_bytes(job)?;
            return Ok(Arc::new(read::SourceFiles { job }));
        }
        match buf.strip_prefix(MARKER) {
            Some(partitions) => Ok(Arc::new(decode_partitions(partitions, schema)?)),
            None => self
                .ballista
                .try_decode_table_provider(buf, table_ref, schema, ctx),
        }
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        if let Some(files) = node.downcast_ref::<read::SourceFiles>() {
            buf.extend_from_slice(READ_MARKER);
            buf.extend_from_slice(&files.job.to_bytes()?);
            return Ok(());
        }
        match node.downcast_ref::<MemTable>() {
            Some(table) => encode_partitions(table, buf),
            None => self
                .ballista
                .try_encode_table_provider(table_ref, node, buf),
        }
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> Result<Arc<dyn FileFormatFactory>> {
        self.ballista.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn FileFormatFactory>,
    ) -> Result<()> {
        self.ballista.try_encode_file_format(buf, node)
    }
}

/// Ballista's physical codec with the reading of the sources added.
#[derive(Debug, Default)]
pub struct PhysicalCodec {
    ballista: BallistaPhysicalExtensionCodec,
}

impl PhysicalExtensionCodec for PhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match buf.strip_prefix(READ_MARKER) {
            Some(job) => Ok(Arc::new(read::ReadSourceExec::new(read::Job::from_bytes(
                job,
            )?))),
            None => self.ballista.try_decode(buf, inputs, ctx, proto_converter),
        }
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        match node.downcast_ref::<read::ReadSourceExec>() {
            Some(exec) => {
                buf.extend_from_slice(READ_MARKER);
                buf.extend_from_slice(&exec.job.to_bytes()?);
                Ok(())
            }
            None => self.ballista.try_encode(node, buf, proto_converter),
        }
    }
}

/// The marker, then per partition its length (8 bytes, little-endian) and
/// its batches as one IPC stream.
fn encode_partitions(table: &MemTable, buf: &mut Vec<u8>) -> Result<()> {
    buf.extend_from_slice(MARKER);
    for partition in &table.batches {
        let batches = partition.try_read().map_err(|_| {
            DataFusionError::Internal("an in-memory table is being written to".to_owned())
        })?;
        let mut stream = Vec::new();
        let mut writer = StreamWriter::try_new(&mut stream, &table.schema())?;
        for batch in batches.iter() {
            writer.write(batch)?;
        }
        writer.finish()?;
        drop(writer);
        buf.extend_from_slice(&(stream.len() as u64).to_le_bytes());
        buf.extend_from_slice(&stream);
    }
    Ok(())
}

fn decode_partitions(mut bytes: &[u8], schema: SchemaRef) -> Result<MemTable> {
    let truncated = || DataFusionError::Internal("a truncated in-memory table".to_owned());
    let mut partitions: Vec<Vec<RecordBatch>> = Vec::new();
    while !bytes.is_empty() {
        let (len, rest) = bytes.split_first_chunk::<8>().ok_or_else(truncated)?;
        let len = usize::try_from(u64::from_le_bytes(*len)).map_err(|_| truncated())?;
        let stream = rest.get(..len).ok_or_else(truncated)?;
        let reader = StreamReader::try_new(stream, None)?;
        partitions.push(reader.collect::<std::result::Result<_, _>>()?);
        bytes = &rest[len..];
    }
    if partitions.is_empty() {
        partitions.push(Vec::new());
    }
    MemTable::try_new(schema, partitions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::prelude::SessionContext;

    #[tokio::test]
    async fn an_in_memory_table_comes_back_with_its_partitions_and_rows() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int64, false),
            Field::new("tier", DataType::Utf8, true),
        ]));
        let batch = |n: Vec<i64>, t: Vec<Option<&str>>| {
            RecordBatch::try_new(
                Arc::clone(&schema),
                vec![
                    Arc::new(Int64Array::from(n)),
                    Arc::new(StringArray::from(t)),
                ],
            )
            .unwrap()
        };
        let first = batch(vec![1, 2], vec![Some("MVC"), None]);
        let second = batch(vec![3], vec![Some("BZ")]);
        let table = MemTable::try_new(
            Arc::clone(&schema),
            vec![vec![first.clone()], vec![second.clone()], vec![]],
        )
        .unwrap();
        let codec = Codec::default();
        let name = TableReference::bare("tier_policy");
        let mut buf = Vec::new();
        codec
            .try_encode_table_provider(&name, Arc::new(table), &mut buf)
            .unwrap();
        let ctx = SessionContext::new();
        let back = codec
            .try_decode_table_provider(&buf, &name, Arc::clone(&schema), &ctx.task_ctx())
            .unwrap();
        let back = back.downcast_ref::<MemTable>().unwrap();
        let partitions: Vec<Vec<RecordBatch>> = back
            .batches
            .iter()
            .map(|p| p.try_read().unwrap().clone())
            .collect();
        assert_eq!(partitions, vec![vec![first], vec![second], vec![]]);
    }

    #[test]
    fn a_truncated_table_is_an_error_not_a_panic() {
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        let mut buf = MARKER.to_vec();
        buf.extend_from_slice(&100u64.to_le_bytes());
        buf.extend_from_slice(b"short");
        assert!(decode_partitions(&buf[MARKER.len()..], schema).is_err());
    }
}

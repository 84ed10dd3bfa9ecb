// Traces: format (docs/trace-format.md), record encoding and the zstd container.

export { TraceFormatError, type TraceFormatErrorCode } from './errors.js';
export {
  decodeEvent,
  decodeEvents,
  encodeEvent,
  encodeEvents,
  INTERRUPT_SOURCES,
  MAX_BLOB,
  MAX_ICOUNT,
  u64,
  u64ToBigInt,
  type DigestPart,
  type InterruptSource,
  type Stamp,
  type TraceEvent,
  type TraceEventBody,
  type TraceEventKind,
  type U64,
} from './encoding.js';
export {
  DEFAULT_FRAME_BYTES,
  loadTraceCodec,
  TRACE_FORMAT_VERSION,
  TraceReader,
  TraceWriter,
  type FrameInfo,
  type ImageInfo,
  type TraceHeader,
  type TraceHeaderInput,
  type TraceImage,
  type TraceReaderOptions,
  type TraceWriterOptions,
} from './container.js';
export { measureTraceThroughput, type TraceThroughput } from './throughput.js';
